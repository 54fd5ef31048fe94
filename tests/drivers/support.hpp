#pragma once
// Helpers for the driver tests: an event loop on its own thread, a blocking line client with
// timeouts, a thread-safe event recorder and bounded waiting.

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace labgate::drivers::test {

using namespace std::chrono_literals;

/// Polls `condition` until it holds or `timeout` passes; returns its last value.
inline bool wait_until(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = 3s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

/// A fresh private directory under the system temp directory, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "lgdrv-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// Runs an io_context on a thread of its own, as the daemon's loop.
class LoopThread {
 public:
  explicit LoopThread(boost::asio::io_context& io)
      : io_(io), guard_(boost::asio::make_work_guard(io)), thread_([this] { io_.run(); }) {}
  ~LoopThread() { stop(); }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  /// Runs `f` on the loop and returns its result.
  template <class F>
  auto call(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    if (result.wait_for(5s) != std::future_status::ready) {
      throw std::runtime_error("loop did not run the call");
    }
    return result.get();
  }

  void stop() {
    if (!thread_.joinable()) return;
    guard_.reset();
    io_.stop();
    thread_.join();
  }

 private:
  boost::asio::io_context& io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

/// A blocking line client on a Unix socket; every read has a timeout.
class LineClient {
 public:
  explicit LineClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("connect failed: " + std::string(std::strerror(errno)));
    }
  }
  ~LineClient() { close(); }
  LineClient(const LineClient&) = delete;
  LineClient& operator=(const LineClient&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  /// Sends raw bytes; false when the peer is gone.
  bool send_raw(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
  bool send(const std::string& line) { return send_raw(line + "\n"); }

  /// Next reply line; nullopt on timeout or end of stream.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 3s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        auto line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      if (eof_) return std::nullopt;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[1024];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) {
        eof_ = true;
        continue;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  /// Sends a line and returns the reply ("<none>" when there was none).
  std::string ask(const std::string& line, std::chrono::milliseconds timeout = 3s) {
    if (!send(line)) return "<send failed>";
    return read_line(timeout).value_or("<none>");
  }

  /// True when the server closed the connection (end of stream within `timeout`).
  bool closed_by_peer(std::chrono::milliseconds timeout = 3s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      read_line(left);  // drains replies still in flight
    }
    return eof_;
  }

 private:
  int fd_{-1};
  std::string buffer_;
  bool eof_{false};
};

/// Collects events from any thread.
template <class Event>
class Recorder {
 public:
  std::function<void(Event)> sink() {
    return [this](Event e) {
      std::lock_guard lk(mutex_);
      events_.push_back(std::move(e));
    };
  }
  std::vector<Event> events() const {
    std::lock_guard lk(mutex_);
    return events_;
  }
  std::size_t size() const {
    std::lock_guard lk(mutex_);
    return events_.size();
  }
  bool wait_for_count(std::size_t n, std::chrono::milliseconds timeout = 3s) const {
    return wait_until([&] { return size() >= n; }, timeout);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Event> events_;
};

}  // namespace labgate::drivers::test
