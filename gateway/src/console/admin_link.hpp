#pragma once
// The console's side of labgated's admin channel (docs/ADMIN.md): one request per short-lived
// connection, and one standing subscription whose lines fan out to every live page (live_hub.hpp).

#include <chrono>
#include <condition_variable>
#include <functional>
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

/// The live stream: one thread subscribed to the admin channel (reconnecting when the daemon
/// restarts) hands each line, once, to one listener (the console's LiveHub), which fans it out
/// to every open live page. Lines that come while no listener is set are dropped: nobody is
/// watching, and a page opened later starts from the next event.
class LiveFeed {
 public:
  /// Called on the subscription thread for each line; it must not block (it only queues).
  using Listener = std::function<void(std::string line)>;

  /// Starts the subscription thread.
  explicit LiveFeed(std::string socket_path);
  ~LiveFeed();
  LiveFeed(const LiveFeed&) = delete;
  LiveFeed& operator=(const LiveFeed&) = delete;

  /// Sets (or, with nullptr, clears) the listener; once this returns, the old one is not called.
  void listen(Listener listener);
  /// Stops the thread.
  void stop();

 private:
  void run();
  void push(std::string line);

  std::string path_;
  std::mutex mu_;
  std::condition_variable cv_;
  Listener listener_;
  bool stopping_{false};
  int fd_{-1};
  std::thread thread_;
};

}  // namespace labgate::gateway::console
