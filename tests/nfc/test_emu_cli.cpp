// The pn532-emu executable and its control socket, driven like a bench harness would.
#include <nfc/nfc.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "process.hpp"
#include "support.hpp"

using namespace nfc_test;
using labgate::testing::Child;
using labgate::testing::LineClient;
using labgate::testing::wait_until;

namespace {

// One command on a fresh connection, as a bench harness sends it.
std::string control(const std::filesystem::path& socket_path, const std::string& line) {
  return LineClient(socket_path, 1000ms).ask(line);
}

int count_type_a(const std::string& connstring) {
  nfc_context* ctx = nullptr;
  nfc_init(&ctx);
  nfc_device* dev = nfc_open(ctx, connstring.c_str());
  int n = -1;
  if (dev && nfc_initiator_init(dev) == 0) {
    nfc_target t[2];
    n = nfc_initiator_list_passive_targets(dev, {NMT_ISO14443A, NBR_106}, t, 2);
  }
  if (dev) nfc_close(dev);
  nfc_exit(ctx);
  return n;
}

}  // namespace

TEST_CASE("pn532-emu executable: link, control socket, unplug and replug", "[emu]") {
  quiet_libnfc();
  labgate::testing::TempDir dir("labgate-nfc-cli");
  const auto link = dir / "ttyPN532";
  const auto sock = dir / "control.sock";
  const auto out = dir / "stdout.txt";
  Child emu({PN532_EMU_PATH, "--link", link.string(), "--control", sock.string()}, out,
            labgate::testing::SpawnOptions{{}, dir / "stderr.txt", false});
  REQUIRE(wait_until([&] { return std::filesystem::exists(sock) && std::filesystem::exists(link); },
                     3000ms));
  REQUIRE(wait_until(
      [&] {
        std::ifstream in(out);
        std::string line;
        return std::getline(in, line) && line.rfind("ready pty=", 0) == 0;
      },
      2000ms));

  CHECK(control(sock, "place classic 04a1b2c3") == "ok placed");
  CHECK(control(sock, "place floppy 01").rfind("error", 0) == 0);
  CHECK(control(sock, "bogus").rfind("error", 0) == 0);
  const std::string connstring = "pn532_uart:" + link.string();
  CHECK(count_type_a(connstring) == 1);
  CHECK(control(sock, "status").find("card=classic:04a1b2c3") != std::string::npos);

  CHECK(control(sock, "fault unplug") == "ok unplugged");
  CHECK_FALSE(std::filesystem::exists(link));
  CHECK(count_type_a(connstring) == -1);
  CHECK(control(sock, "fault replug").rfind("ok replugged", 0) == 0);
  CHECK(std::filesystem::exists(link));
  CHECK(count_type_a(connstring) == 1);
  CHECK(control(sock, "remove") == "ok removed");
  CHECK(count_type_a(connstring) == 0);

  CHECK(control(sock, "fault stall").rfind("error", 0) == 0);
  CHECK(control(sock, "delay on") == "ok delay on");
  const auto status = emu.stop(SIGTERM);
  REQUIRE(status.has_value());
  CHECK(*status < 128);  // it exited, not killed by the signal
  CHECK_FALSE(std::filesystem::exists(sock));
}

TEST_CASE("pn532-emu refuses a link path with ':'", "[emu]") {
  labgate::drivers::pn532_emu::Emulator emu({"bad:path", "", false, ""});
  std::string error;
  CHECK_FALSE(emu.start(error));
  CHECK(error.find(':') != std::string::npos);
}

TEST_CASE("pn532-emu remembers DESFire cards by UID and takes the card faults", "[emu]") {
  labgate::drivers::pn532_emu::Emulator emu({"", "", false, ""});
  CHECK(emu.execute("fault badmac") == "error no DESFire card in the field");
  CHECK(emu.execute("place desfire 04112233445566") == "ok placed");
  CHECK(emu.execute("remove") == "ok removed");
  CHECK(emu.execute("place desfire 04112233445566") == "ok placed remembered");
  CHECK(emu.execute("place desfire 04112233445566 clone=1") == "ok placed clone");
  CHECK(emu.execute("place desfire 04112233445566") == "ok placed remembered");
  CHECK(emu.execute("place desfire 04112233445566 fresh=1") == "ok placed");
  CHECK(emu.execute("place desfire 04aabbccddeeff") == "ok placed");
  CHECK(emu.execute("fault badmac") == "ok fault badmac");
  CHECK(emu.execute("fault nomac") == "ok fault nomac");
  CHECK(emu.execute("fault longread 64") == "ok fault longread 64");
  CHECK(emu.execute("fault longread 0") == "error usage: fault longread <bytes>");
  CHECK(emu.execute("fault leave 3") == "ok fault leave 3");
  CHECK(emu.execute("fault slow 20") == "ok fault slow 20");
  CHECK(emu.execute("fault leave x") == "error usage: fault leave <exchanges>");
  CHECK(emu.execute("fault slow -5") == "error usage: fault slow <ms>");
  CHECK(emu.execute("fault slow") == "error usage: fault slow <ms>");
  CHECK(emu.execute("fault none") == "ok fault none");
  CHECK(emu.execute("place classic 01020304 clone=1") == "error unknown option 'clone'");
}
