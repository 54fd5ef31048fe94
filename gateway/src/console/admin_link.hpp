#pragma once
// The console's side of labgated's admin channel (docs/ADMIN.md): one request per short-lived
// connection, and one standing subscription whose lines fan out to every live page.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

namespace labgate::gateway::console {

/// Sends one request (with "v" added) to the socket at `path` and returns the reply object;
/// nullopt when the daemon does not answer within `timeout`.
std::optional<nlohmann::json> admin_request(const std::string& path, nlohmann::json request,
                                            std::chrono::milliseconds timeout);

/// The live stream: a thread subscribed to the admin channel (reconnecting when the daemon
/// restarts) keeps the latest lines in a bounded ring. Readers never slow it down: one that
/// falls behind the ring skips ahead.
class LiveFeed {
 public:
  /// Starts the subscription thread.
  explicit LiveFeed(std::string socket_path, std::size_t ring = 1024);
  ~LiveFeed();
  LiveFeed(const LiveFeed&) = delete;
  LiveFeed& operator=(const LiveFeed&) = delete;

  /// Position after the newest line (where a new reader starts).
  std::uint64_t head();
  /// The line at `pos` (advancing it), waiting up to `wait`; nullopt on timeout or stop.
  std::optional<std::string> next(std::uint64_t& pos, std::chrono::milliseconds wait);
  /// Stops the thread and wakes every reader.
  void stop();

 private:
  void run();
  void push(std::string line);

  std::string path_;
  std::size_t ring_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;
  std::uint64_t first_{0};  // position of lines_.front()
  bool stopping_{false};
  int fd_{-1};
  std::thread thread_;
};

}  // namespace labgate::gateway::console
