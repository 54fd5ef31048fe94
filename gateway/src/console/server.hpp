#pragma once
// The HTTP(S) transport: one thread per connection with blocking Beast reads and writes, and a
// watchdog that shuts down any connection past its deadline (an idle client, a slow sender, a
// stalled reader of the live stream), so no client holds a thread for long. The number of
// connections is capped.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "app.hpp"

namespace labgate::gateway::console {

/// Transport limits.
struct ServerLimits {
  std::size_t max_connections{256};
  std::chrono::seconds idle{30};   ///< to receive a whole request
  std::chrono::seconds write{30};  ///< to send a response or one live event
};

/// Accepts and serves connections until stop().
class Server {
 public:
  /// Binds `endpoint` (port 0: any free port). `tls` non-null: every connection is TLS.
  Server(App& app, const boost::asio::ip::tcp::endpoint& endpoint, boost::asio::ssl::context* tls,
         ServerLimits limits = {});
  ~Server();
  /// The bound endpoint (the chosen port when 0 was asked for).
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  /// Accepts until stop() (call from one thread).
  void run();
  /// Stops accepting, shuts every connection down and waits for their threads (at most 5 s).
  void stop();

 private:
  void serve(boost::asio::ip::tcp::socket socket);
  template <class Stream>
  void serve_stream(Stream& stream, int fd, const Peer& peer);
  template <class Stream>
  void stream_events(Stream& stream, int fd, const Request& request);
  void arm(int fd, std::chrono::seconds within);
  void watch();

  App& app_;
  boost::asio::ssl::context* tls_;
  ServerLimits limits_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, std::chrono::steady_clock::time_point> deadlines_;  // per live connection
  bool stopping_{false};
  std::thread watchdog_;
};

}  // namespace labgate::gateway::console
