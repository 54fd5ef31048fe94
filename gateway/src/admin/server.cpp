#include "labgate/gateway/admin/server.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include "labgate/drivers/unix_socket.hpp"

namespace labgate::gateway::admin {

namespace asio = boost::asio;
using Local = asio::local::stream_protocol;
using boost::system::error_code;
using Line = std::shared_ptr<const std::string>;

namespace {

// Kernel buffering per client is kept small so a stalled client shows up in its own queue
// (and is closed) after a bounded amount of backlog rather than hiding in socket memory.
constexpr int kClientSendBuffer = 32 * 1024;

PeerCredentials read_peer(int fd) {
  PeerCredentials p;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    // Unknown credentials never pass: an impossible uid with no groups.
    p.uid = static_cast<uid_t>(-1);
    p.gid = static_cast<gid_t>(-1);
    return p;
  }
  p.pid = cred.pid;
  p.uid = cred.uid;
  p.gid = cred.gid;
#ifdef SO_PEERGROUPS
  // The kernel's copy of the peer's supplementary groups at connect time: no user-database
  // lookup (which could block on a network directory) on the loop.
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 2; ++attempt) {
    socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
      groups.resize(glen / sizeof(gid_t));
      p.groups = std::move(groups);
      break;
    }
    if (errno != ERANGE) break;
    groups.resize(glen / sizeof(gid_t) + 1);
  }
#endif
  return p;
}

}  // namespace

class Client;

struct detail::ServerCore : std::enable_shared_from_this<detail::ServerCore> {
  ServerCore(asio::io_context& i, Actions& a, ServerOptions o)
      : io(i), actions(a), opts(std::move(o)), retry(i) {}

  void accept_next();
  void on_accepted(Local::socket socket);
  void remove(const std::shared_ptr<Client>& client);
  void close();

  asio::io_context& io;
  Actions& actions;
  ServerOptions opts;
  AccessRule rule;
  std::unique_ptr<Local::acceptor> acceptor;
  asio::steady_timer retry;
  std::set<std::shared_ptr<Client>> clients;
  ServerStats stats;
  bool closed{false};
  dev_t socket_dev{0};
  ino_t socket_ino{0};
};

// One connection. Owned by the server's set while open; pending operations keep it alive until
// they complete (with operation_aborted once it is closed).
class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(std::shared_ptr<detail::ServerCore> server, Local::socket socket, PeerCredentials peer)
      : server_(std::move(server)), socket_(std::move(socket)), peer_(std::move(peer)) {}

  void start() { read_next(); }

  // Answers and closes: a refused peer, an overloaded server.
  void refuse(const Error& e) {
    send(std::make_shared<const std::string>(error_line(e)));
    close_after_flush_ = true;
  }

  bool subscribed() const { return subscribed_; }

  void send(const Line& line) {
    if (closed_) return;
    const auto& o = server_->opts;
    // A client is stalled when lines pile up unread. A lone line longer than the byte bound (the
    // reply of a month issued for 10,000 members is over 1 MiB) still goes out to a client that
    // has read everything before it: refusing it would close every such request unanswered.
    if (!queue_.empty() && (queue_.size() >= o.max_queued_lines ||
                            queued_bytes_ + line->size() > o.max_queued_bytes)) {
      ++server_->stats.dropped_stalled;
      spdlog::warn("admin: client pid {} uid {} is not reading; closed ({} lines waiting)",
                   peer_.pid, peer_.uid, queue_.size());
      close();
      return;
    }
    queued_bytes_ += line->size();
    queue_.push_back(line);
    if (!writing_) write_next();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    if (subscribed_ && server_->stats.subscribers > 0) --server_->stats.subscribers;
    error_code ec;
    socket_.shutdown(Local::socket::shutdown_both, ec);
    socket_.close(ec);
    server_->remove(shared_from_this());
  }

 private:
  void read_next() {
    auto self = shared_from_this();
    asio::async_read_until(socket_, asio::dynamic_buffer(in_, kMaxLineBytes + 1), '\n',
                           [self](const error_code& ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(const error_code& ec, std::size_t n) {
    if (closed_ || server_->closed) return;
    if (ec == asio::error::not_found) {
      ++server_->stats.bad_requests;
      refuse(Error{ErrorCode::kTooLong,
                   "request longer than " + std::to_string(kMaxLineBytes) + " bytes", nullptr});
      return;
    }
    if (ec) {
      close();
      return;
    }
    const std::string line = drivers::take_line(in_, n);
    handling_ = true;
    if (!line.empty()) handle(line);
    handling_ = false;
    // A change being applied holds the next request back until its reply is queued.
    if (!closed_ && !close_after_flush_ && !waiting_) read_next();
  }

  // A change goes to a worker; its reply is sent, and reading resumes, when it comes back.
  void handle_change(const Request& r, const Caller& caller) {
    waiting_ = true;
    auto self = shared_from_this();
    server_->actions.change(caller, r.change, [self, r, caller](ActionResult result) {
      self->waiting_ = false;
      if (self->closed_ || self->server_->closed) return;
      spdlog::info("admin: {} change {}: {}", caller.label(), r.change.value("op", ""),
                   result.ok ? "ok" : result.error);
      self->send(std::make_shared<const std::string>(
          result.ok ? ok_line(r, result.data)
                    : error_line(Error{result.code, result.error, r.id})));
      // Answered at once (inside handle()): on_read resumes reading itself.
      if (!self->handling_ && !self->closed_ && !self->close_after_flush_) self->read_next();
    });
  }

  void handle(const std::string& line) {
    auto parsed = parse_request(line);
    if (auto* e = std::get_if<Error>(&parsed)) {
      ++server_->stats.bad_requests;
      send(std::make_shared<const std::string>(error_line(*e)));
      return;
    }
    const auto& r = std::get<Request>(parsed);
    if (r.op == Op::kSubscribe) {
      if (!subscribed_) ++server_->stats.subscribers;
      subscribed_ = true;
      spdlog::info("admin: {} subscribed (pid {})", actor_label(r.as, peer_.uid), peer_.pid);
      send(std::make_shared<const std::string>(ok_line(r, {{"subscribed", true}})));
      return;
    }
    const Caller caller{r.as, peer_.uid, peer_.pid};
    const std::string actor = caller.label();
    if (r.op == Op::kChange) {
      handle_change(r, caller);
      return;
    }
    auto& a = server_->actions;
    ActionResult result;
    switch (r.op) {
      case Op::kStatus:
        result = a.status();
        break;
      case Op::kUnlock:
        result = a.unlock(r.door, caller);
        break;
      case Op::kLockout:
        result = a.lockout(r.machine, r.reason, caller);
        break;
      case Op::kRelease:
        result = a.release(r.machine, caller);
        break;
      case Op::kConfirm:
        result = a.confirm(r.machine, caller);
        break;
      case Op::kAllStop:
        result = a.all_stop(caller);
        break;
      case Op::kReload:
        result = a.reload(caller);
        break;
      case Op::kEnroll:
        result = a.enroll(r.reader, r.member_no, r.timeout_s, caller);
        break;
      case Op::kEnrollStatus:
        result = a.enroll_status(r.reader, caller);
        break;
      case Op::kEnrollCancel:
        result = a.enroll_cancel(r.reader, caller);
        break;
      case Op::kSubscribe:
      case Op::kChange:
        break;
    }
    if (r.op != Op::kStatus && r.op != Op::kEnrollStatus) {
      spdlog::info("admin: {} {} {}: {}", actor, to_string(r.op), r.door + r.machine + r.reader,
                   result.ok ? "ok" : result.error);
    }
    send(std::make_shared<const std::string>(
        result.ok ? ok_line(r, result.data) : error_line(Error{result.code, result.error, r.id})));
  }

  void write_next() {
    writing_ = true;
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(*queue_.front()),
                      [self](const error_code& ec, std::size_t) { self->on_written(ec); });
  }

  void on_written(const error_code& ec) {
    writing_ = false;
    if (closed_) return;
    if (ec) {
      close();
      return;
    }
    queued_bytes_ -= queue_.front()->size();
    queue_.pop_front();
    if (!queue_.empty()) {
      write_next();
    } else if (close_after_flush_) {
      close();
    }
  }

  std::shared_ptr<detail::ServerCore> server_;
  Local::socket socket_;
  PeerCredentials peer_;
  std::string in_;
  std::deque<Line> queue_;
  std::size_t queued_bytes_{0};
  bool writing_{false};
  bool subscribed_{false};
  bool waiting_{false};   // a change is being applied
  bool handling_{false};  // inside handle(), called from on_read
  bool closed_{false};
  bool close_after_flush_{false};
};

void detail::ServerCore::accept_next() {
  auto self = shared_from_this();
  acceptor->async_accept([self](const error_code& ec, Local::socket socket) {
    if (self->closed) return;
    if (ec) {
      // Out of descriptors and the like: try again shortly rather than spin.
      spdlog::error("admin: accept failed: {}", ec.message());
      self->retry.expires_after(std::chrono::milliseconds(100));
      self->retry.async_wait([self](const error_code& e) {
        if (!e && !self->closed) self->accept_next();
      });
      return;
    }
    self->on_accepted(std::move(socket));
    self->accept_next();
  });
}

void detail::ServerCore::on_accepted(Local::socket socket) {
  ++stats.accepted;
  const int fd = socket.native_handle();
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kClientSendBuffer, sizeof kClientSendBuffer);
  auto peer = read_peer(fd);
  const bool allowed = peer_allowed(peer, rule);
  const bool full = clients.size() >= opts.max_clients;
  auto client = std::make_shared<Client>(shared_from_this(), std::move(socket), peer);
  clients.insert(client);
  if (!allowed) {
    ++stats.refused;
    spdlog::warn("admin: refused pid {} uid {} gid {}: not root, the daemon's user or in group {}",
                 peer.pid, peer.uid, peer.gid, rule.admin_gid);
    client->refuse(Error{ErrorCode::kForbidden,
                         "uid " + std::to_string(peer.uid) + " may not use the admin channel",
                         nullptr});
    return;
  }
  if (full) {
    client->refuse(Error{ErrorCode::kOverloaded,
                         "too many admin clients (" + std::to_string(opts.max_clients) + ")",
                         nullptr});
    return;
  }
  client->start();
}

void detail::ServerCore::remove(const std::shared_ptr<Client>& client) {
  clients.erase(client);
}

void detail::ServerCore::close() {
  if (closed) return;
  closed = true;
  retry.cancel();
  if (acceptor) {
    error_code ec;
    acceptor->close(ec);
  }
  auto all = clients;
  for (const auto& c : all) c->close();
  clients.clear();
  // Only our own socket file: a later daemon may already have replaced it.
  struct stat st {};
  if (socket_ino != 0 && ::lstat(opts.socket_path.c_str(), &st) == 0 && st.st_ino == socket_ino &&
      st.st_dev == socket_dev) {
    ::unlink(opts.socket_path.c_str());
  }
}

Server::Server(asio::io_context& io, Actions& actions, ServerOptions options)
    : impl_(std::make_shared<detail::ServerCore>(io, actions, std::move(options))) {}

Server::~Server() {
  impl_->close();
}

void Server::listen() {
  auto& i = *impl_;
  const std::string& path = i.opts.socket_path;
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    throw std::system_error(std::make_error_code(std::errc::filename_too_long),
                            "admin socket " + path);
  }
  std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
  }
  drivers::remove_stale_socket(path);
  const gid_t gid = i.opts.group.value_or(::getegid());
  i.rule = AccessRule{::geteuid(), gid};
  auto acceptor = std::make_unique<Local::acceptor>(i.io);
  const Local::endpoint endpoint(path);
  acceptor->open(endpoint.protocol());
  acceptor->bind(endpoint);
  // Mode and group are set before listen(): until then a connect is refused, so no peer ever
  // meets the file with the umask's mode.
  auto fail = [&](const char* what) {
    const int err = errno;
    ::unlink(path.c_str());
    throw std::system_error(err, std::generic_category(),
                            std::string("admin socket ") + path + ": " + what);
  };
  if (::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) fail("cannot set its group");
  if (::chmod(path.c_str(), 0660) != 0) fail("cannot set mode 0660");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) fail("cannot inspect it");
  i.socket_dev = st.st_dev;
  i.socket_ino = st.st_ino;
  acceptor->listen(asio::socket_base::max_listen_connections);
  i.acceptor = std::move(acceptor);
  spdlog::info("admin channel on {} (mode 0660, group {})", path, gid);
  i.accept_next();
}

void Server::publish(const StreamEvent& event) {
  auto& i = *impl_;
  if (i.closed || i.stats.subscribers == 0) return;
  ++i.stats.published;
  // One line shared by every subscriber.
  auto line = std::make_shared<const std::string>(stream_line(event));
  std::vector<std::shared_ptr<Client>> targets;
  targets.reserve(i.clients.size());
  for (const auto& c : i.clients) {
    if (c->subscribed()) targets.push_back(c);
  }
  for (const auto& c : targets) c->send(line);
}

bool Server::has_subscribers() const {
  return !impl_->closed && impl_->stats.subscribers > 0;
}

void Server::close() {
  impl_->close();
}

ServerStats Server::stats() const {
  auto s = impl_->stats;
  s.clients = impl_->clients.size();
  return s;
}

}  // namespace labgate::gateway::admin
