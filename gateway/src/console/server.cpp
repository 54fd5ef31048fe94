#include "server.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "html.hpp"

namespace labgate::gateway::console {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

Server::Server(App& app, const tcp::endpoint& endpoint, asio::ssl::context* tls,
               ServerLimits limits)
    : app_(app), tls_(tls), limits_(limits), acceptor_(ioc_) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  watchdog_ = std::thread([this] { watch(); });
}

Server::~Server() {
  stop();
}

tcp::endpoint Server::local_endpoint() const {
  return acceptor_.local_endpoint();
}

void Server::run() {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket(ioc_);
    acceptor_.accept(socket, ec);
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (ec) continue;
    std::lock_guard lock(mu_);
    if (deadlines_.size() >= limits_.max_connections) continue;  // closed: over the cap
    const int fd = socket.native_handle();
    deadlines_[fd] = Clock::now() + limits_.idle;
    std::thread([this, s = std::move(socket)]() mutable { serve(std::move(s)); }).detach();
  }
}

void Server::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (const auto& [fd, _] : deadlines_) ::shutdown(fd, SHUT_RDWR);
  }
  boost::system::error_code ec;
  ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes accept()
  acceptor_.close(ec);
  app_.feed().stop();
  cv_.notify_all();
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::seconds(5), [this] { return deadlines_.empty(); });
  lock.unlock();
  if (watchdog_.joinable()) watchdog_.join();
}

void Server::arm(int fd, std::chrono::seconds within) {
  std::lock_guard lock(mu_);
  deadlines_[fd] = Clock::now() + within;
}

void Server::watch() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(500));
    const auto now = Clock::now();
    for (const auto& [fd, deadline] : deadlines_) {
      if (deadline < now) ::shutdown(fd, SHUT_RDWR);  // the blocked read or write returns
    }
  }
}

void Server::serve(tcp::socket socket) {
  const int fd = socket.native_handle();
  boost::system::error_code ec;
  Peer peer{socket.remote_endpoint(ec).address().to_string(), tls_ != nullptr};
  socket.set_option(tcp::no_delay(true), ec);
  if (tls_ != nullptr) {
    asio::ssl::stream<tcp::socket&> stream(socket, *tls_);
    stream.handshake(asio::ssl::stream_base::server, ec);
    if (!ec) serve_stream(stream, fd, peer);
    stream.shutdown(ec);
  } else {
    serve_stream(socket, fd, peer);
  }
  socket.shutdown(tcp::socket::shutdown_both, ec);
  {
    std::lock_guard lock(mu_);
    deadlines_.erase(fd);
    socket.close(ec);  // under the lock: the watchdog never shuts down a reused descriptor
  }
  cv_.notify_all();
}

template <class Stream>
void Server::serve_stream(Stream& stream, int fd, const Peer& peer) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    arm(fd, limits_.idle);
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(kMaxBodyBytes);
    boost::system::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec == http::error::body_limit) {
      Response res{http::status::payload_too_large, 11};
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.set(http::field::connection, "close");
      res.body() = "request body too large\n";
      res.prepare_payload();
      arm(fd, limits_.write);
      http::write(stream, res, ec);
      return;
    }
    if (ec) return;
    const Request& request = parser.get();
    if (request.method() == http::verb::get && request.target() == "/live/events") {
      stream_events(stream, fd, request);
      return;
    }
    Response res = app_.handle(request, peer);
    arm(fd, limits_.write);
    http::write(stream, res, ec);
    if (ec || !res.keep_alive()) return;
  }
}

template <class Stream>
void Server::stream_events(Stream& stream, int fd, const Request& request) {
  boost::system::error_code ec;
  arm(fd, limits_.write);
  if (!app_.logged_in(request)) {
    static const std::string kRefused =
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
        "Connection: close\r\n\r\nforbidden\n";
    asio::write(stream, asio::buffer(kRefused), ec);
    return;
  }
  static const std::string kHead =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
      "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n: live\n\n";
  asio::write(stream, asio::buffer(kHead), ec);
  auto& feed = app_.feed();
  std::uint64_t pos = feed.head();
  while (!ec) {
    // Each write must finish within the limit; between events the deadline is pushed past the
    // keep-alive comment, so a quiet site never drops a reader.
    arm(fd, limits_.write + std::chrono::seconds(15));
    auto line = feed.next(pos, std::chrono::seconds(15));
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    // A quiet moment is when a logged-out (or expired) session loses its stream.
    if (!line && !app_.logged_in(request)) return;
    const std::string chunk = line ? "data: " + *line + "\n\n" : std::string(": keep-alive\n\n");
    arm(fd, limits_.write);
    asio::write(stream, asio::buffer(chunk), ec);
  }
}

}  // namespace labgate::gateway::console
