#include "stream_clients.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include "labgate/gateway/admin/server.hpp"

namespace labgate::bench::decision {

namespace admin = gateway::admin;
using Steady = std::chrono::steady_clock;

namespace {

// The benchmark measures the stream only; the site's remote actions are not on its path.
class StreamOnly final : public admin::Actions {
 public:
  using R = admin::ActionResult;
  static R no() { return R::failure(admin::ErrorCode::kUnavailable, "benchmark: stream only"); }
  R status() override { return no(); }
  R unlock(const std::string&, const admin::Caller&) override { return no(); }
  R lockout(const std::string&, const std::string&, const admin::Caller&) override { return no(); }
  R release(const std::string&, const admin::Caller&) override { return no(); }
  R confirm(const std::string&, const admin::Caller&) override { return no(); }
  R all_stop(const admin::Caller&) override { return no(); }
  R reload(const admin::Caller&) override { return no(); }
  R enroll(const std::string&, const std::string&, int, const admin::Caller&) override {
    return no();
  }
  R enroll_status(const std::string&, const admin::Caller&) override { return no(); }
  R enroll_cancel(const std::string&, const admin::Caller&) override { return no(); }
  void change(const admin::Caller&, const nlohmann::json&, std::function<void(R)> done) override {
    done(no());
  }
};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now().time_since_epoch())
      .count();
}

}  // namespace

struct StreamClients::Impl {
  boost::asio::io_context io;
  StreamOnly actions;
  std::unique_ptr<admin::Server> server;
  gateway::app::Site* site{nullptr};
  std::mutex commits_mutex;
  std::unordered_map<std::int64_t, std::int64_t> commit_ns;  // seq -> when committed
  std::atomic<bool> stop{false};
  struct Reader {
    int fd{-1};
    std::thread thread;
    std::atomic<std::uint64_t> lines{0};
    std::atomic<bool> closed{false};
    LatencySet latency;
  };
  std::vector<std::unique_ptr<Reader>> readers;

  void read_loop(Reader& r) {
    std::string buf;
    char chunk[65536];
    while (!stop.load()) {
      pollfd p{r.fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::read(r.fd, chunk, sizeof chunk);
      if (n <= 0) {
        r.closed = true;
        return;
      }
      const auto at = now_ns();
      buf.append(chunk, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        const auto key = buf.find("\"seq\":");
        if (buf.find("\"stream\"") < nl && key < nl) {
          ++r.lines;
          const std::int64_t seq = std::strtoll(buf.c_str() + key + 6, nullptr, 10);
          std::lock_guard lock(commits_mutex);
          if (auto it = commit_ns.find(seq); it != commit_ns.end()) {
            r.latency.add(static_cast<double>(at - it->second) / 1000.0);
          }
        }
        buf.erase(0, nl + 1);
      }
    }
  }
};

StreamClients::StreamClients(gateway::app::Site& site, const std::string& socket_path, int clients)
    : impl_(std::make_unique<Impl>()) {
  auto& i = *impl_;
  i.site = &site;
  admin::ServerOptions o;
  o.socket_path = socket_path;
  i.server = std::make_unique<admin::Server>(i.io, i.actions, o);
  i.server->listen();
  for (int c = 0; c < clients; ++c) {
    auto r = std::make_unique<Impl::Reader>();
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
    r->fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->fd < 0 || ::connect(r->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("stream client: cannot connect to " + socket_path);
    }
    const std::string sub = R"({"v":1,"op":"subscribe","as":"bench"})"
                            "\n";
    if (::send(r->fd, sub.data(), sub.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(sub.size())) {
      throw std::runtime_error("stream client: cannot subscribe");
    }
    i.readers.push_back(std::move(r));
  }
  // Accept and answer every subscription before the taps begin.
  const auto until = Steady::now() + std::chrono::seconds(10);
  while (i.server->stats().subscribers < static_cast<std::size_t>(clients)) {
    if (Steady::now() > until) throw std::runtime_error("stream clients did not subscribe");
    i.io.poll();
    i.io.restart();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (auto& r : i.readers) {
    Impl::Reader* reader = r.get();
    r->thread = std::thread([&i, reader] { i.read_loop(*reader); });
  }
  // As labgated's composition root: each commit's outbox message, to the channel.
  site.set_commit_observer([&i](std::int64_t seq, const gateway::mqtt::OutboxMessage& m) {
    {
      std::lock_guard lock(i.commits_mutex);
      i.commit_ns[seq] = now_ns();
    }
    if (!i.server->has_subscribers()) return;
    i.server->publish({seq, m.topic, m.payload, m.retain});
  });
}

StreamClients::~StreamClients() {
  impl_->site->set_commit_observer({});
  impl_->stop = true;
  for (auto& r : impl_->readers) {
    if (r->thread.joinable()) r->thread.join();
    if (r->fd >= 0) ::close(r->fd);
  }
  impl_->server->close();
}

void StreamClients::pump() {
  impl_->io.poll();
  impl_->io.restart();
}

std::size_t StreamClients::subscribers() const {
  return impl_->server->stats().subscribers;
}

StreamReport StreamClients::finish() {
  auto& i = *impl_;
  const auto published = i.server->stats().published;
  const auto until = Steady::now() + std::chrono::seconds(10);
  for (;;) {
    pump();
    bool all = true;
    for (const auto& r : i.readers) all = all && (r->closed || r->lines >= published);
    if (all || Steady::now() > until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  i.site->set_commit_observer({});
  i.stop = true;
  StreamReport rep;
  rep.clients = i.readers.size();
  rep.published = published;
  rep.received_min = published;
  for (auto& r : i.readers) {
    if (r->thread.joinable()) r->thread.join();
    rep.received_min = std::min<std::uint64_t>(rep.received_min, r->lines.load());
    for (double s : r->latency.samples()) rep.commit_to_receipt.add(s);
  }
  rep.dropped = i.server->stats().dropped_stalled;
  return rep;
}

}  // namespace labgate::bench::decision
