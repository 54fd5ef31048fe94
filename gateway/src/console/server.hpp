#pragma once
// The HTTP(S) transport: one thread per connection with blocking Beast reads and writes, and a
// watchdog that shuts down any connection past its deadline (an idle client, a slow sender), so
// no client holds a thread for long. The number of connections is capped. A connection that asks
// for the live stream leaves its thread: it is handed to the LiveHub, whose one thread writes
// every event to all of them (a page held open all day must not cost a thread).

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "app.hpp"
#include "live_hub.hpp"

namespace labgate::gateway::console {

/// Transport limits.
struct ServerLimits {
  std::size_t max_connections{256};
  std::chrono::seconds idle{30};   ///< to receive a whole request
  std::chrono::seconds write{30};  ///< to send a response or one live event
  std::size_t live_backlog{64};    ///< live events queued for one page before it is dropped
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
  /// The number of open live streams.
  std::size_t live_clients() const { return hub_.clients(); }

 private:
  void serve(boost::asio::ip::tcp::socket socket);
  // Serves requests until the connection ends (nullopt) or asks for the live stream (its
  // request, from a logged-in session: the caller hands the connection to the hub).
  template <class Stream>
  std::optional<Request> serve_stream(Stream& stream, int fd, const Peer& peer);
  void arm(int fd, std::chrono::seconds within);
  void forget(int fd);
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
  LiveHub hub_;  // last: its thread runs ioc_, and stops before the rest goes
};

}  // namespace labgate::gateway::console
