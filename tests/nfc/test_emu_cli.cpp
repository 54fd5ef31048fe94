// The pn532-emu executable and its control socket, driven like a bench harness would.
#include <fcntl.h>
#include <nfc/nfc.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <thread>

#include "support.hpp"

extern char** environ;

using namespace nfc_test;

namespace {

class Process {
 public:
  explicit Process(std::vector<std::string> args, const std::filesystem::path& out) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  int terminate() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_{-1};
};

std::string control(const std::filesystem::path& socket_path, const std::string& line) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string msg = line + "\n";
  REQUIRE(::write(fd, msg.data(), msg.size()) == static_cast<ssize_t>(msg.size()));
  std::string reply;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') reply.push_back(c);
  ::close(fd);
  return reply;
}

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
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
  const auto dir = scratch_dir("cli");
  const auto link = dir / "ttyPN532";
  const auto sock = dir / "control.sock";
  const auto out = dir / "stdout.txt";
  Process emu({PN532_EMU_PATH, "--link", link.string(), "--control", sock.string()}, out);
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
  CHECK(WIFEXITED(emu.terminate()));
  CHECK_FALSE(std::filesystem::exists(sock));
  std::filesystem::remove_all(dir);
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
