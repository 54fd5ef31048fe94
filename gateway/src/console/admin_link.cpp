#include "admin_link.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "labgate/gateway/admin/protocol.hpp"

namespace labgate::gateway::console {

namespace {

using Clock = std::chrono::steady_clock;

int connect_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return -1;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

// The next line from fd into `buf`, until `deadline`; nullopt on timeout, EOF or error.
std::optional<std::string> read_line(int fd, std::string& buf, Clock::time_point deadline) {
  for (;;) {
    if (auto nl = buf.find('\n'); nl != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      return line;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char chunk[16384];
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return std::nullopt;
    buf.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace

std::optional<nlohmann::json> admin_request(const std::string& path, nlohmann::json request,
                                            std::chrono::milliseconds timeout) {
  const int fd = connect_unix(path);
  if (fd < 0) return std::nullopt;
  request["v"] = admin::kProtocolVersion;
  std::optional<nlohmann::json> out;
  std::string buf;
  const auto deadline = Clock::now() + timeout;
  if (send_all(fd, request.dump() + "\n")) {
    while (auto line = read_line(fd, buf, deadline)) {
      auto j = nlohmann::json::parse(*line, nullptr, false);
      if (j.is_object() && j.contains("ok")) {
        out = std::move(j);
        break;
      }
    }
  }
  ::close(fd);
  return out;
}

LiveFeed::LiveFeed(std::string socket_path)
    : path_(std::move(socket_path)), thread_([this] { run(); }) {}

LiveFeed::~LiveFeed() {
  stop();
}

void LiveFeed::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LiveFeed::listen(Listener listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

void LiveFeed::push(std::string line) {
  // Called under the lock so that listen(nullptr) is a barrier: the hub may go right after it.
  std::lock_guard lock(mu_);
  if (listener_) listener_(std::move(line));
}

void LiveFeed::run() {
  // "as" names no account: a subscription acts on nothing, so the daemon does not check it.
  const std::string subscribe =
      nlohmann::json{{"v", admin::kProtocolVersion}, {"op", "subscribe"}, {"as", "console"}}
          .dump() +
      "\n";
  for (;;) {
    const int fd = connect_unix(path_);
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        if (fd >= 0) ::close(fd);
        return;
      }
      fd_ = fd;
    }
    if (fd >= 0 && send_all(fd, subscribe)) {
      std::string buf;
      while (auto line = read_line(fd, buf, Clock::now() + std::chrono::hours(24 * 365))) {
        if (line->find("\"stream\"") != std::string::npos) push(std::move(*line));
      }
    }
    {
      std::lock_guard lock(mu_);
      if (fd >= 0) ::close(fd);
      fd_ = -1;
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) return;
  }
}

}  // namespace labgate::gateway::console
