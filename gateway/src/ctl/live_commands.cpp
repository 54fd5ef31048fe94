// `labgatectl live ...`: acts on the running daemon over its admin channel (docs/ADMIN.md), as
// the staff user of --as (default: the OS user running labgatectl). The daemon records that name
// together with the uid the kernel reports for the connection.

#include <fmt/format.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.hpp"
#include "context.hpp"
#include "labgate/gateway/admin/protocol.hpp"
#include "labgate/gateway/config/site_config.hpp"

namespace labgate::gateway::ctl {

using nlohmann::json;
namespace admin = labgate::gateway::admin;

namespace {

// A connection to the admin channel, one JSON line at a time, each read bounded in time so a
// daemon that stopped answering never hangs staff.
class AdminConnection {
 public:
  // With `absent`, a daemon that is not running (no socket, or nobody listening) sets it
  // instead of throwing.
  explicit AdminConnection(const std::string& path, bool* absent = nullptr) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) usage_error("admin socket path too long: " + path);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const int err = errno;
      if (absent != nullptr && fd_ >= 0 && (err == ENOENT || err == ECONNREFUSED)) {
        *absent = true;
        return;
      }
      throw Failure{
          kExitUnavailable,
          fmt::format("cannot reach labgated's admin channel at {}: {}{}", path, std::strerror(err),
                      err == EACCES ? " (the socket is for the daemon's group; see "
                                      "docs/ADMIN.md)"
                                    : "")};
    }
  }
  ~AdminConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  AdminConnection(const AdminConnection&) = delete;
  AdminConnection& operator=(const AdminConnection&) = delete;

  void send(const json& request) {
    const std::string line = request.dump() + "\n";
    if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
      throw Failure{kExitUnavailable, "the admin channel closed"};
    }
  }

  // The next line; `timeout_s` 0 waits for ever (watch).
  json receive(int timeout_s) {
    timeval tv{timeout_s, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        auto j = json::parse(buffer_.substr(0, nl), nullptr, false);
        buffer_.erase(0, nl + 1);
        if (j.is_discarded()) throw Failure{kExitUnavailable, "unreadable reply from labgated"};
        return j;
      }
      char chunk[4096];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0) {
        throw Failure{kExitUnavailable,
                      n == 0 ? "labgated closed the admin channel" : "no answer from labgated"};
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // The reply to the last request (stream lines before it are skipped).
  json reply() {
    for (;;) {
      auto j = receive(10);
      if (j.contains("ok")) return j;
    }
  }

 private:
  int fd_{-1};
  std::string buffer_;
};

struct LiveArgs {
  std::string socket, as, door, machine, reason;
  int count{0};
};

std::string admin_socket(const Cli& cli, const LiveArgs& a) {
  if (!a.socket.empty()) return a.socket;
  if (!cli.admin_socket.empty()) return cli.admin_socket;
  if (!cli.config.empty()) {
    try {
      auto config = toml::parse_file(cli.config);
      if (auto v = config["admin"]["socket"].value<std::string>()) {
        if (v->empty()) usage_error(cli.config + ": [admin] socket is \"\" (no admin channel)");
        return *v;
      }
    } catch (const toml::parse_error& e) {
      usage_error(fmt::format("cannot read config {}: {}", cli.config, e.description()));
    }
  }
  return config::AdminConfig{}.socket;
}

// --as, else --actor, else the OS user (from the user database, not $USER: the daemon sees the
// uid anyway). The daemon refuses a name that is not an active staff account.
std::string acting_user(const Cli& cli, const LiveArgs& a) {
  std::string name = a.as.empty() ? cli.actor : a.as;
  if (name.empty()) {
    const passwd* pw = ::getpwuid(::getuid());
    name =
        pw != nullptr && pw->pw_name != nullptr ? pw->pw_name : "uid" + std::to_string(::getuid());
  }
  if (!admin::valid_user_name(name)) {
    usage_error(fmt::format("bad --as '{}': 1-64 of A-Z a-z 0-9 . _ @ -", name));
  }
  return name;
}

// A refusal becomes a Failure with the daemon's message.
json checked(json reply) {
  if (reply.value("ok", false) != true) {
    const std::string code = reply.value("code", "");
    throw Failure{code == "not_found" || code == "forbidden" || code == "conflict" ? kExitRefused
                  : code == "unavailable" ? kExitUnavailable
                                          : kExitUsage,
                  reply.value("error", std::string("refused"))};
  }
  return reply;
}

// One request.
json request(const Cli& cli, const LiveArgs& a, const std::string& op,
             json fields = json::object()) {
  fields["v"] = admin::kProtocolVersion;
  fields["op"] = op;
  fields["as"] = acting_user(cli, a);
  AdminConnection c(admin_socket(cli, a));
  c.send(fields);
  return checked(c.reply());
}

int print(const Cli& cli, const json& reply, const std::string& text) {
  if (cli.json) {
    std::cout << reply.dump() << "\n";
  } else {
    std::cout << text << "\n";
  }
  return kExitOk;
}

int watch(const Cli& cli, const LiveArgs& a) {
  const json subscribe{
      {"v", admin::kProtocolVersion}, {"op", "subscribe"}, {"as", acting_user(cli, a)}};
  AdminConnection c(admin_socket(cli, a));
  c.send(subscribe);
  auto reply = c.reply();
  if (reply.value("ok", false) != true) {
    throw Failure{kExitRefused, reply.value("error", std::string("refused"))};
  }
  for (int seen = 0; a.count == 0 || seen < a.count; ++seen) {
    auto line = c.receive(0);
    if (cli.json) {
      std::cout << line.dump() << std::endl;
      continue;
    }
    const auto& d = line["data"];
    std::string what =
        d.is_object()
            ? fmt::format("{} {} {} {}", d.value("kind", d.value("state", "")),
                          d.value("decision", ""), d.value("reason", ""), d.value("member", ""))
            : d.dump();
    std::cout << fmt::format("{} {} {}", line.value("seq", 0), line.value("topic", ""), what)
              << std::endl;
  }
  return kExitOk;
}

}  // namespace

std::optional<std::string> daemon_admin_socket(const Cli& cli) {
  if (!cli.admin_socket.empty()) return cli.admin_socket;
  if (cli.config.empty() || !cli.db.empty()) return std::nullopt;
  return admin_socket(cli, LiveArgs{});
}

std::optional<json> send_change(const std::string& socket, const std::string& as,
                                const json& change) {
  if (!admin::valid_user_name(as)) {
    usage_error(fmt::format("bad --actor '{}': 1-64 of A-Z a-z 0-9 . _ @ -", as));
  }
  bool absent = false;
  AdminConnection c(socket, &absent);
  if (absent) return std::nullopt;
  c.send({{"v", admin::kProtocolVersion}, {"op", "change"}, {"as", as}, {"change", change}});
  auto reply = checked(c.reply());
  return reply.value("record", json());
}

/// Sends `machines confirm` to the daemon (the controller's state lives there).
int live_confirm(const Cli& cli, const std::string& machine, const std::string& socket,
                 const std::string& as) {
  LiveArgs a;
  a.socket = socket;
  a.as = as;
  auto reply = request(cli, a, "confirm", {{"machine", machine}});
  return print(cli, reply, "machine " + machine + " confirmed");
}

void build_live(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<LiveArgs>();
  auto* live = app.add_subcommand(
      "live",
      "act on the running daemon over its admin channel: status, unlock, lockout, "
      "release, confirm, all-stop, reload, watch");
  live->require_subcommand(1);
  live->add_option("--admin-socket", a->socket,
                   "the daemon's admin socket (default: [admin] socket of --config, else " +
                       config::AdminConfig{}.socket + ")");
  live->add_option("--as", a->as,
                   "the staff account acting, for the audit log (default: --actor, else your OS "
                   "user)");
  auto run = [&cli](CLI::App* sub, std::function<int()> body) {
    sub->callback([&cli, body = std::move(body)] { cli.standalone_action = body; });
  };
  run(live->add_subcommand("status", "doors, machines and the fault state"), [a, &cli] {
    auto reply = request(cli, *a, "status");
    std::string text;
    for (const auto& l : reply["lines"]) text += (text.empty() ? "" : "\n") + l.get<std::string>();
    return print(cli, reply, text);
  });
  auto* unlock = live->add_subcommand("unlock", "one strike pulse on a door");
  unlock->add_option("--door", a->door, "door id")->required();
  run(unlock, [a, &cli] {
    return print(cli, request(cli, *a, "unlock", {{"door", a->door}}),
                 "door " + a->door + " unlocked");
  });
  auto* lockout = live->add_subcommand("lockout", "take a machine out of service now");
  lockout->add_option("--machine", a->machine, "machine id")->required();
  lockout->add_option("--reason", a->reason, "why (default: staff)");
  run(lockout, [a, &cli] {
    json f{{"machine", a->machine}};
    if (!a->reason.empty()) f["reason"] = a->reason;
    return print(cli, request(cli, *a, "lockout", f), "machine " + a->machine + " locked out");
  });
  auto* release = live->add_subcommand("release", "put a machine back in service");
  release->add_option("--machine", a->machine, "machine id")->required();
  run(release, [a, &cli] {
    return print(cli, request(cli, *a, "release", {{"machine", a->machine}}),
                 "machine " + a->machine + " released");
  });
  auto* confirm = live->add_subcommand("confirm", "confirm a machine after start-up or check-off");
  confirm->add_option("--machine", a->machine, "machine id")->required();
  run(confirm, [a, &cli] { return live_confirm(cli, a->machine, a->socket, a->as); });
  run(live->add_subcommand("all-stop", "cut every machine (each stays locked out)"),
      [a, &cli] { return print(cli, request(cli, *a, "all-stop"), "all machines stopped"); });
  run(live->add_subcommand("reload", "ask the daemon to re-read what it can"), [a, &cli] {
    auto reply = request(cli, *a, "reload");
    return print(cli, reply, "reloaded: " + reply.value("note", std::string()));
  });
  auto* w = live->add_subcommand("watch", "print events and state changes as they are committed");
  w->add_option("--count", a->count, "stop after this many (default: run until interrupted)")
      ->check(CLI::NonNegativeNumber);
  run(w, [a, &cli] { return watch(cli, *a); });
}

}  // namespace labgate::gateway::ctl
