#pragma once
// The live page's event streams (GET /live/events), all served by one thread. A browser holding
// the page open costs a socket and a small queue, not a thread: each event from the daemon is
// formatted once and written to every stream with asynchronous writes. A stream whose reader
// stops (its queue grows past the backlog, or one write takes longer than the write limit) is
// dropped without holding back the others. Threads stay bounded whatever the number of pages,
// which keeps the console from taking CPU time from labgated's taps on a small machine.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "app.hpp"

namespace labgate::gateway::console {

/// One thread serving every open event stream (see the file comment).
class LiveHub {
 public:
  /// Limits of the streams.
  struct Limits {
    std::size_t max_clients{256};
    std::size_t backlog{64};              ///< events queued for one stream before it is dropped
    std::chrono::seconds write{30};       ///< for one write to finish
    std::chrono::seconds keep_alive{15};  ///< between comments, and between session checks
  };
  /// Whether the session of a stream's request may keep the stream (checked at each keep-alive,
  /// so a logged-out or expired session loses it).
  using Allowed = std::function<bool(const Request&)>;
  using Socket = boost::asio::ip::tcp::socket;
  using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

  /// Runs `ioc` on the hub's thread (the sockets given to add() belong to it; nothing else may
  /// run it) until stop().
  LiveHub(boost::asio::io_context& ioc, Allowed allowed, Limits limits);
  ~LiveHub();
  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  /// Takes over a plain connection whose request was GET /live/events from a logged-in session:
  /// sends the stream's head and then every event. Over max_clients it is closed. Any thread.
  void add(Socket socket, Request request);
  /// The same for a TLS connection (its handshake done).
  void add(std::unique_ptr<TlsStream> stream, Request request);
  /// Queues `line` (one line of the daemon's stream) for every open stream. Any thread.
  void publish(std::string line);
  /// The number of open streams.
  std::size_t clients() const { return count_.load(); }
  /// Closes every stream and joins the thread.
  void stop();

 private:
  struct Client;
  template <class Stream>
  struct ClientOn;
  using Message = std::shared_ptr<const std::string>;

  void start(std::shared_ptr<Client> client);
  void enqueue(const std::shared_ptr<Client>& client, const Message& message);
  void write_next(const std::shared_ptr<Client>& client);
  void drop(const std::shared_ptr<Client>& client);
  void tick();

  boost::asio::io_context& ioc_;
  Allowed allowed_;
  Limits limits_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  boost::asio::steady_timer keep_alive_;
  std::set<std::shared_ptr<Client>> clients_;  // touched only on the hub's thread
  std::atomic<std::size_t> count_{0};
  bool stopped_{false};  // hub thread
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace labgate::gateway::console
