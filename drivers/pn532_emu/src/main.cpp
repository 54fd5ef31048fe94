// pn532-emu: an emulated PN532 on a pseudo-terminal. See emulator.hpp for the control protocol.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "labgate/drivers/pn532_emu/emulator.hpp"
#include "labgate/version.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) {
  g_stop = 1;
}

void usage(const char* argv0) {
  std::fprintf(
      stderr,
      "usage: %s [--link PATH] [--control PATH] [--cards DIR] [--delay] [--verbose] | --version\n"
      "  --link PATH     symlink to the pty slave (no ':'); libnfc opens pn532_uart:PATH\n"
      "  --control PATH  Unix socket for line commands (place/remove/hold/fault/delay/status)\n"
      "  --cards DIR     keep DESFire cards in DIR, shared with other emulators (a card carried\n"
      "                  from reader to reader): written as a card leaves the field\n"
      "  --delay         pace the line like 115200 baud (both directions)\n"
      "  --verbose       log every frame\n",
      argv0);
}

}  // namespace

int main(int argc, char** argv) {
  // stdout carries only the machine-readable "ready" line; logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("pn532-emu"));
  labgate::drivers::pn532_emu::EmulatorOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--link" || a == "--control") && i + 1 < argc) {
      (a == "--link" ? options.link_path : options.control_path) = argv[++i];
    } else if (a == "--cards" && i + 1 < argc) {
      options.cards_dir = argv[++i];
    } else if (a == "--delay") {
      options.byte_delay = true;
    } else if (a == "--verbose") {
      spdlog::set_level(spdlog::level::debug);
    } else if (a == "--help" || a == "-h") {
      usage(argv[0]);
      return 0;
    } else if (a == "--version") {
      std::printf("pn532-emu %s\n", labgate::kVersionLine);
      return 0;
    } else {
      usage(argv[0]);
      return 2;
    }
  }
  labgate::drivers::pn532_emu::Emulator emulator(options);
  std::string error;
  if (!emulator.start(error)) {
    std::fprintf(stderr, "pn532-emu: %s\n", error.c_str());
    return 1;
  }
  // One machine-readable line so a harness knows where to connect.
  std::printf("ready pty=%s connstring=%s control=%s\n", emulator.slave_path().c_str(),
              emulator.connstring().c_str(),
              options.control_path.empty() ? "-" : options.control_path.c_str());
  std::fflush(stdout);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  while (!g_stop) pause();
  emulator.stop();
  return 0;
}
