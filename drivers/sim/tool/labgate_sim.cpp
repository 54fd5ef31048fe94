// labgate-sim: sends commands to a SimHub control socket and prints the replies.
//
//   labgate-sim [-s SOCKET] [-t SECONDS] COMMAND [ARGS...]   one command
//   labgate-sim [-s SOCKET] [-t SECONDS] -                   one command per stdin line
//
// SOCKET defaults to $LABGATE_SIM_SOCKET. Exit status: 0 every reply was "ok", 1 some reply was
// "err", 2 usage error, 3 cannot connect, 4 connection lost or no reply in time.

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "labgate/version.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitErrReply = 1;
constexpr int kExitUsage = 2;
constexpr int kExitConnect = 3;
constexpr int kExitIo = 4;
constexpr std::size_t kMaxLine = 1024;

void usage(std::ostream& out) {
  out << "usage: labgate-sim [-s SOCKET] [-t SECONDS] COMMAND [ARGS...]\n"
         "       labgate-sim [-s SOCKET] [-t SECONDS] -     (commands from stdin)\n"
         "       labgate-sim --version\n"
         "SOCKET defaults to $LABGATE_SIM_SOCKET; SECONDS (reply timeout) to 30.\n"
         "Commands: see 'labgate-sim help'.\n"
         "Exit: 0 ok, 1 an err reply, 2 usage, 3 cannot connect, 4 connection lost/timeout.\n";
}

class Connection {
 public:
  explicit Connection(int fd) : fd_(fd) {}
  ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool send_line(const std::string& line) {
    std::string data = line + "\n";
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  // nullopt on timeout, close or error.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd pfd{fd_, POLLIN, 0};
      const int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return std::nullopt;
      char chunk[512];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buffer_;
};

int connect_to(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    std::cerr << "labgate-sim: socket path too long: " << path << "\n";
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::cerr << "labgate-sim: socket: " << std::strerror(errno) << "\n";
    return -1;
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == ECONNREFUSED || err == ENOENT) {
      std::cerr << "labgate-sim: cannot connect to " << path
                << ": no simulator is listening there (" << std::strerror(err) << ")\n";
    } else {
      std::cerr << "labgate-sim: cannot connect to " << path << ": " << std::strerror(err) << "\n";
    }
    return -1;
  }
  return fd;
}

// Sends one command and prints its reply; returns the exit class of this exchange.
int exchange(Connection& conn, const std::string& command, std::chrono::milliseconds timeout) {
  if (!conn.send_line(command)) {
    std::cerr << "labgate-sim: connection lost while sending\n";
    return kExitIo;
  }
  auto reply = conn.read_line(timeout);
  if (!reply) {
    std::cerr << "labgate-sim: no reply to '" << command << "' (connection closed or timeout)\n";
    return kExitIo;
  }
  std::cout << *reply << std::endl;
  if (reply->compare(0, 2, "ok") == 0) return kExitOk;
  return kExitErrReply;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path;
  if (const char* env = std::getenv("LABGATE_SIM_SOCKET")) socket_path = env;
  double timeout_s = 30.0;
  std::vector<std::string> words;
  bool from_stdin = false;

  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(std::cout);
      return kExitOk;
    }
    if (arg == "--version") {
      std::cout << "labgate-sim " << labgate::kVersionLine << "\n";
      return kExitOk;
    }
    if ((arg == "-s" || arg == "--socket") && i + 1 < argc) {
      socket_path = argv[++i];
    } else if ((arg == "-t" || arg == "--timeout") && i + 1 < argc) {
      char* end = nullptr;
      timeout_s = std::strtod(argv[++i], &end);
      if (end == argv[i] || *end != '\0' || !(timeout_s > 0) || timeout_s > 86400) {
        std::cerr << "labgate-sim: bad timeout '" << argv[i] << "'\n";
        return kExitUsage;
      }
    } else if (arg == "-") {
      from_stdin = true;
      ++i;
      break;
    } else if (arg.size() > 1 && arg[0] == '-') {
      std::cerr << "labgate-sim: unknown option " << arg << "\n";
      usage(std::cerr);
      return kExitUsage;
    } else {
      break;
    }
  }
  for (; i < argc; ++i) words.emplace_back(argv[i]);

  if (socket_path.empty()) {
    std::cerr << "labgate-sim: no socket given (-s SOCKET or LABGATE_SIM_SOCKET)\n";
    return kExitUsage;
  }
  if (from_stdin == !words.empty()) {
    usage(std::cerr);
    return kExitUsage;
  }
  std::string command;
  for (const auto& w : words) command += (command.empty() ? "" : " ") + w;
  if (command.size() > kMaxLine || command.find('\n') != std::string::npos) {
    std::cerr << "labgate-sim: command too long or contains a line break\n";
    return kExitUsage;
  }

  const int fd = connect_to(socket_path);
  if (fd < 0) return kExitConnect;
  Connection conn(fd);
  const auto timeout = std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000.0 + 0.5));

  if (!from_stdin) return exchange(conn, command, timeout);

  int status = kExitOk;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const int r = exchange(conn, line, timeout);
    if (r == kExitIo) return kExitIo;
    if (r != kExitOk) status = r;
  }
  return status;
}
