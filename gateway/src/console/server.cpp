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
    : app_(app),
      tls_(tls),
      limits_(limits),
      acceptor_(ioc_),
      hub_(
          ioc_, [&app](const Request& r) { return app.logged_in(r).has_value(); },
          LiveHub::Limits{limits.max_connections, limits.live_backlog, limits.write,
                          std::chrono::seconds(15)}) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  watchdog_ = std::thread([this] { watch(); });
  app_.feed().listen([this](std::string line) { hub_.publish(std::move(line)); });
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
  app_.feed().listen(nullptr);
  hub_.stop();
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

void Server::forget(int fd) {
  {
    std::lock_guard lock(mu_);
    deadlines_.erase(fd);
  }
  cv_.notify_all();
}

void Server::serve(tcp::socket socket) {
  const int fd = socket.native_handle();
  boost::system::error_code ec;
  Peer peer{socket.remote_endpoint(ec).address().to_string(), tls_ != nullptr};
  socket.set_option(tcp::no_delay(true), ec);
  if (tls_ != nullptr) {
    // On the heap, so that a live stream can outlive this thread in the hub.
    auto stream = std::make_unique<LiveHub::TlsStream>(std::move(socket), *tls_);
    stream->handshake(asio::ssl::stream_base::server, ec);
    if (!ec) {
      if (auto live = serve_stream(*stream, fd, peer)) {
        // Forgotten first: the watchdog must never shut down the descriptor once the hub owns
        // it (the hub keeps its own write deadline).
        forget(fd);
        hub_.add(std::move(stream), std::move(*live));
        return;
      }
    }
    stream->shutdown(ec);
    socket = std::move(stream->next_layer());
  } else if (auto live = serve_stream(socket, fd, peer)) {
    forget(fd);
    hub_.add(std::move(socket), std::move(*live));
    return;
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
std::optional<Request> Server::serve_stream(Stream& stream, int fd, const Peer& peer) {
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
      return std::nullopt;
    }
    if (ec) return std::nullopt;
    if (parser.get().method() == http::verb::get && parser.get().target() == "/live/events") {
      if (app_.logged_in(parser.get())) return parser.release();
      static const std::string kRefused =
          "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
          "Connection: close\r\n\r\nforbidden\n";
      arm(fd, limits_.write);
      asio::write(stream, asio::buffer(kRefused), ec);
      return std::nullopt;
    }
    const Request& request = parser.get();
    Response res = app_.handle(request, peer);
    arm(fd, limits_.write);
    http::write(stream, res, ec);
    if (ec || !res.keep_alive()) return std::nullopt;
  }
}

}  // namespace labgate::gateway::console
