#include "live_hub.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <vector>

namespace labgate::gateway::console {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

namespace {

using Message = std::shared_ptr<const std::string>;

const Message& stream_head() {
  static const Message head = std::make_shared<const std::string>(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
      "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n: live\n\n");
  return head;
}

const Message& keep_alive_comment() {
  static const Message comment = std::make_shared<const std::string>(": keep-alive\n\n");
  return comment;
}

LiveHub::Socket& lowest_layer_of(LiveHub::Socket& s) {
  return s;
}
LiveHub::Socket& lowest_layer_of(std::unique_ptr<LiveHub::TlsStream>& s) {
  return s->next_layer();
}
LiveHub::Socket& writable_of(LiveHub::Socket& s) {
  return s;
}
LiveHub::TlsStream& writable_of(std::unique_ptr<LiveHub::TlsStream>& s) {
  return *s;
}

}  // namespace

// One open stream. Only the hub's thread touches it after add().
struct LiveHub::Client {
  using Done = std::function<void(error_code)>;
  Client(asio::io_context& ioc, Request r) : request(std::move(r)), deadline(ioc) {}
  virtual ~Client() = default;
  virtual void write(std::vector<asio::const_buffer> buffers, Done done) = 0;
  virtual void close() = 0;

  Request request;              // its cookie: whose session the stream lives on
  std::deque<Message> queue;    // waiting for the write in flight
  std::vector<Message> flight;  // being written: kept alive until the write ends
  bool writing{false};
  bool closed{false};
  asio::steady_timer deadline;  // of the write in flight
};

template <class Stream>
struct LiveHub::ClientOn final : LiveHub::Client {
  ClientOn(asio::io_context& ioc, Stream s, Request r)
      : Client(ioc, std::move(r)), stream(std::move(s)) {}
  void write(std::vector<asio::const_buffer> buffers, Done done) override {
    asio::async_write(writable_of(stream), buffers,
                      [done = std::move(done)](error_code ec, std::size_t) { done(ec); });
  }
  void close() override {
    // No TLS close_notify: the peer is gone or too slow to wait for; closing aborts the write.
    error_code ec;
    lowest_layer_of(stream).shutdown(Socket::shutdown_both, ec);
    lowest_layer_of(stream).close(ec);
  }
  Stream stream;
};

LiveHub::LiveHub(asio::io_context& ioc, Allowed allowed, Limits limits)
    : ioc_(ioc),
      allowed_(std::move(allowed)),
      limits_(limits),
      work_(std::in_place, asio::make_work_guard(ioc)),
      keep_alive_(ioc) {
  tick();
  thread_ = std::thread([this] {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("console: live streams: {}", e.what());
      }
    }
  });
}

LiveHub::~LiveHub() {
  stop();
}

void LiveHub::add(Socket socket, Request request) {
  start(std::make_shared<ClientOn<Socket>>(ioc_, std::move(socket), std::move(request)));
}

void LiveHub::add(std::unique_ptr<TlsStream> stream, Request request) {
  start(std::make_shared<ClientOn<std::unique_ptr<TlsStream>>>(ioc_, std::move(stream),
                                                               std::move(request)));
}

void LiveHub::start(std::shared_ptr<Client> client) {
  asio::post(ioc_, [this, client = std::move(client)] {
    if (stopped_ || clients_.size() >= limits_.max_clients) {
      client->close();
      return;
    }
    clients_.insert(client);
    count_ = clients_.size();
    enqueue(client, stream_head());
  });
}

void LiveHub::publish(std::string line) {
  // Formatted once here; every stream writes the same bytes.
  auto message = std::make_shared<const std::string>("data: " + line + "\n\n");
  asio::post(ioc_, [this, message = std::move(message)] {
    if (stopped_) return;
    const auto all = clients_;  // enqueue may drop one from clients_
    for (const auto& c : all) enqueue(c, message);
  });
}

void LiveHub::enqueue(const std::shared_ptr<Client>& client, const Message& message) {
  if (client->closed) return;
  if (client->queue.size() >= limits_.backlog) {
    spdlog::info("console: a live page fell {} events behind; its stream is closed",
                 client->queue.size());
    drop(client);
    return;
  }
  client->queue.push_back(message);
  if (!client->writing) write_next(client);
}

void LiveHub::write_next(const std::shared_ptr<Client>& client) {
  // Everything queued goes in one gathered write: a reader that lagged catches up in one go.
  client->writing = true;
  client->flight.assign(client->queue.begin(), client->queue.end());
  client->queue.clear();
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(client->flight.size());
  for (const auto& m : client->flight) buffers.emplace_back(asio::buffer(*m));
  client->deadline.expires_after(limits_.write);
  client->deadline.async_wait([this, weak = std::weak_ptr<Client>(client)](error_code ec) {
    auto c = weak.lock();
    // A wait that completed just as the write ended (and a new deadline was set) is stale.
    if (ec || !c || c->deadline.expiry() > asio::steady_timer::clock_type::now()) return;
    spdlog::info("console: a live page took longer than {} s to take an event; closed",
                 limits_.write.count());
    drop(c);
  });
  client->write(std::move(buffers), [this, client](error_code ec) {
    client->writing = false;
    client->flight.clear();
    client->deadline.cancel();
    if (ec) {
      drop(client);
      return;
    }
    if (!client->closed && !client->queue.empty()) write_next(client);
  });
}

void LiveHub::drop(const std::shared_ptr<Client>& client) {
  if (client->closed) return;
  client->closed = true;
  client->deadline.cancel();
  client->close();
  clients_.erase(client);
  count_ = clients_.size();
}

void LiveHub::tick() {
  keep_alive_.expires_after(limits_.keep_alive);
  keep_alive_.async_wait([this](error_code ec) {
    if (ec || stopped_) return;
    const auto all = clients_;
    for (const auto& c : all) {
      if (allowed_(c->request))
        enqueue(c, keep_alive_comment());
      else
        drop(c);
    }
    tick();
  });
}

void LiveHub::stop() {
  if (stopping_.exchange(true)) return;
  asio::post(ioc_, [this] {
    stopped_ = true;
    keep_alive_.cancel();
    const auto all = clients_;
    for (const auto& c : all) drop(c);
  });
  // With the guard gone, run() returns once the aborted writes and timers have finished.
  work_.reset();
  if (thread_.joinable()) thread_.join();
}

}  // namespace labgate::gateway::console
