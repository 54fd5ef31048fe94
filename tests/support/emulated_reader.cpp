#include "emulated_reader.hpp"

#include <signal.h>

#include <charconv>
#include <optional>
#include <stdexcept>
#include <thread>

namespace labgate::testing {

namespace {

using namespace std::chrono_literals;

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// libnfc must not probe the machine's serial ports: only the configured connstrings. Set in
// the test process so every labgated it spawns inherits it.
void quiet_libnfc() {
  ::setenv("LIBNFC_AUTO_SCAN", "false", 0);
  ::setenv("LIBNFC_INTRUSIVE_SCAN", "false", 0);
  ::setenv("LIBNFC_LOG_LEVEL", "0", 0);
}

std::uint64_t parse_counter(const std::string& status, const std::string& name) {
  const auto at = status.find(" " + name + "=");
  if (at == std::string::npos) throw std::runtime_error("pn532-emu status has no " + name);
  return std::stoull(status.substr(at + name.size() + 2));
}

}  // namespace

EmulatedReader::EmulatedReader(const std::filesystem::path& binary,
                               const std::filesystem::path& dir, const std::string& name,
                               const std::vector<std::string>& extra_args)
    : link_(dir / ("pn532-" + name)), socket_(dir / ("emu-" + name + ".sock")) {
  quiet_libnfc();
  std::vector<std::string> argv{binary.string(), "--link", link_.string(), "--control",
                                socket_.string()};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  child_ = std::make_unique<Child>(argv, dir / ("emu-" + name + ".log"));
  bool up = wait_until(
      [&] {
        try {
          return starts_with(cmd("status"), "ok");
        } catch (const std::exception&) {
          return false;
        }
      },
      10s);
  if (!up) throw std::runtime_error("pn532-emu " + name + " did not start");
}

EmulatedReader::~EmulatedReader() {
  client_.reset();
  if (child_ && child_->running()) {
    child_->signal(SIGTERM);
    child_->wait(5s);
  }
}

std::string EmulatedReader::cmd(const std::string& line) {
  // One connection for all commands; a broken one is replaced once.
  for (int attempt = 0;; ++attempt) {
    try {
      if (!client_) client_ = std::make_unique<LineClient>(socket_, 500ms);
      return client_->request(line, 5s);
    } catch (const std::exception&) {
      client_.reset();
      if (attempt > 0) throw;
    }
  }
}

std::uint64_t EmulatedReader::counter(const std::string& name) {
  return parse_counter(cmd("status"), name);
}

std::string emulator_card(const std::string& tech, const std::string& hex) {
  std::string digits;
  for (char c : hex) {
    if (c != ':' && c != '-') digits += c;
  }
  if (tech == "iso14443a") {
    if (digits.size() == 8) return "classic " + digits;
    if (digits.size() == 14) return "ultralight " + digits;
  } else if (tech == "felica" && digits.size() == 16) {
    return "felica " + digits;
  } else if (tech == "desfire" && (digits.size() == 8 || digits.size() == 14)) {
    return "desfire " + digits;
  }
  throw std::invalid_argument("no emulated card for " + tech + " " + hex);
}

namespace {
// A counter of the daemon's "ok reads=<n> removals=<m>" reply ("reads" or "removals"); nullopt
// for any other reply.
std::optional<std::uint64_t> read_counter(const std::string& reply, const std::string& name) {
  if (!starts_with(reply, "ok ")) return std::nullopt;
  const std::string key = " " + name + "=";
  const auto at = reply.find(key);
  if (at == std::string::npos) return std::nullopt;
  const char* first = reply.data() + at + key.size();
  const char* last = reply.data() + reply.size();
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(first, last, n);
  if (ec != std::errc{} || (end != last && *end != ' ')) return std::nullopt;
  return n;
}
}  // namespace

std::string place_and_await(const ControlRequest& control, EmulatedReader& emu,
                            const std::string& reader, const std::string& tech,
                            const std::string& hex, std::chrono::milliseconds timeout) {
  const std::string before = control("read-result " + reader);
  const auto reads = read_counter(before, "reads");
  if (!reads) return before;
  const std::string after = std::to_string(*reads);
  const std::string placed = emu.cmd("place " + emulator_card(tech, hex));
  // A DESFire card tapped again answers "ok placed remembered": the same card, keys and files.
  if (!starts_with(placed, "ok placed")) return "err emulator: " + placed;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::string r = control("read-result " + reader + " " + after);
    if (starts_with(r, "ok read=")) {
      // "ok read=<k> <summary>" -> "ok <summary>"
      const auto space = r.find(' ', 8);
      return space == std::string::npos ? "ok" : "ok" + r.substr(space);
    }
    if (r != "err pending") return r;
    if (std::chrono::steady_clock::now() > deadline) return "err timeout";
    // Bounded polling: a read takes a few milliseconds of libnfc traffic plus the decision.
    std::this_thread::sleep_for(2ms);
  }
}

bool remove_and_await(EmulatedReader& emu, std::chrono::milliseconds timeout) {
  if (emu.cmd("remove") != "ok removed") return false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (emu.counter("empty_polls") == 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

bool remove_and_await(const ControlRequest& control, EmulatedReader& emu, const std::string& reader,
                      std::chrono::milliseconds timeout) {
  const auto before = read_counter(control("read-result " + reader), "removals");
  if (!before) return false;
  if (emu.cmd("remove") != "ok removed") return false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto now = read_counter(control("read-result " + reader), "removals");
    if (!now) return false;
    if (*now > *before) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
}

EmulatedReaders::EmulatedReaders(const std::filesystem::path& binary,
                                 const std::filesystem::path& dir,
                                 const std::vector<std::string>& reader_ids,
                                 const std::vector<std::string>& extra_args) {
  for (const auto& id : reader_ids) {
    emu_[id] = std::make_unique<EmulatedReader>(binary, dir, id, extra_args);
  }
}

std::vector<std::string> EmulatedReaders::daemon_args() const {
  std::vector<std::string> args;
  for (const auto& [id, emu] : emu_) {
    args.push_back("--reader-device");
    args.push_back(id + "=" + emu->connstring());
  }
  return args;
}

}  // namespace labgate::testing
