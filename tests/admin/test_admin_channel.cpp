// The admin channel's contract, through the real labgated: each request, the peer check, a
// stalled client, hostile input, and the live stream's latency.

#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "daemon.hpp"
#include "labgate/gateway/store/seal.hpp"
#include "must.hpp"

using namespace labgate::testing;
using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace store = labgate::gateway::store;

namespace {

int connect_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// A JSON-line client of the admin channel.
class AdminClient {
 public:
  explicit AdminClient(const std::string& path) : fd_(connect_unix(path)) {
    if (fd_ < 0) throw std::runtime_error("connect " + path + ": " + std::strerror(errno));
  }
  ~AdminClient() { ::close(fd_); }
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  bool send_raw(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // The next line; nullopt on timeout or end of stream (eof() tells which).
  std::optional<std::string> line(std::chrono::milliseconds timeout = 5s) {
    const auto until = Clock::now() + timeout;
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      if (eof_) return std::nullopt;
      const auto left = std::max<std::int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count());
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) {
        if (left == 0) return std::nullopt;
        continue;
      }
      char chunk[65536];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0) {
        eof_ = true;
        continue;
      }
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  // The reply to a request (stream lines before it are kept aside).
  json request(const json& req) {
    REQUIRE(send_raw(req.dump() + "\n"));
    return reply();
  }
  json reply() {
    for (;;) {
      auto l = line();
      REQUIRE(l);
      auto j = json::parse(*l);
      if (j.contains("ok")) return j;
      stream_.push_back(j);
    }
  }
  // The next stream line.
  std::optional<json> next(std::chrono::milliseconds timeout = 5s) {
    if (!stream_.empty()) {
      auto j = stream_.front();
      stream_.erase(stream_.begin());
      return j;
    }
    auto l = line(timeout);
    if (!l) return std::nullopt;
    return json::parse(*l);
  }
  bool eof() const { return eof_; }

 private:
  int fd_;
  std::string buf_;
  bool eof_{false};
  std::vector<json> stream_;
};

json req(const std::string& op, const std::string& as, json fields = json::object()) {
  fields["v"] = 1;
  fields["op"] = op;
  fields["as"] = as;
  return fields;
}

std::string me(const std::string& as) {
  return as + "@uid:" + std::to_string(::getuid());
}

struct AdminSite {
  TempDir dir{"labgate-admin"};
  Daemon daemon;
  explicit AdminSite(const std::string& admin_extra = {})
      : daemon(dir, with_admin_extra(test_config(dir.path().string()), admin_extra)) {
    {
      auto s = daemon.open_store();
      seed_cast(*s);
      // The staff accounts the requests declare; "as" must name an active one.
      for (const char* login :
           {"alice", "bob", "carol", "dave", "erin", "frank", "gina", "root", "watcher", "live"}) {
        REQUIRE(s->staff().add_staff_account({login, "", "staff", true, 0}, "setup").ok());
      }
      for (const auto& [login, role] :
           {std::pair{"mina", "manager"}, {"desmond", "desk"}, {"trudy", "trainer"}}) {
        REQUIRE(s->staff().add_staff_account({login, "", role, true, 0}, "setup").ok());
      }
    }
    daemon.start();
    REQUIRE(daemon.cmd("confirm laser") == "ok confirm laser");
    REQUIRE(daemon.cmd("confirm printer") == "ok confirm printer");
  }
  static std::string with_admin_extra(std::string config, const std::string& extra) {
    if (extra.empty()) return config;
    auto at = config.find("/admin.sock\"\n");
    REQUIRE(at != std::string::npos);
    config.insert(at + 13, extra + "\n");
    return config;
  }
  std::vector<store::AuditEntry> audit() {
    auto s = daemon.open_store();
    auto rows = s->audit().list_audit(100000);
    REQUIRE(rows.ok());
    return rows.value();
  }
  bool audited(const std::string& actor, const std::string& action, const std::string& subject) {
    for (const auto& a : audit()) {
      if (a.actor == actor && a.action == action && a.subject == subject) return true;
    }
    return false;
  }
  store::Machine machine(const std::string& id) {
    auto s = daemon.open_store();
    auto machines = s->staff().list_machines();
    REQUIRE(machines.ok());
    for (auto& m : machines.value()) {
      if (m.id == id) return m;
    }
    FAIL("no machine " << id);
    return {};
  }
  // A granted tap at the lab door by M1; returns its seq.
  std::int64_t lab_tap() {
    auto r = daemon.cmd("tap lab-in iso14443a 04000001");
    auto at = r.find("seq=");
    INFO(r);
    REQUIRE(at != std::string::npos);
    return std::stoll(r.substr(at + 4));
  }
};

// Everything a request could have changed: doors and machines as the daemon runs them, and
// the durable record.
struct Snapshot {
  std::string status;
  std::size_t events{0};
  std::size_t audit{0};
  std::string machines;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(AdminSite& site) {
  Snapshot s;
  s.status = site.daemon.cmd("status");
  auto st = site.daemon.open_store();
  store::HistoryFilter f;
  f.limit = 1000000;
  s.events = st->events().list_events(f).value().size();
  s.audit = st->audit().list_audit(1000000).value().size();
  auto machines = st->staff().list_machines();
  REQUIRE(machines.ok());
  for (const auto& m : machines.value()) {
    s.machines += m.id + (m.locked_out ? ":out;" : ":in;");
  }
  return s;
}

}  // namespace

TEST_CASE("admin channel: each request, with the acting user in the audit log", "[daemon][admin]") {
  AdminSite site;
  AdminClient c(site.daemon.admin_socket_path());

  SECTION("status") {
    auto r = c.request(req("status", "alice", {{"id", 1}}));
    CHECK(r["ok"] == true);
    CHECK(r["v"] == 1);
    CHECK(r["id"] == 1);
    auto lines = r["lines"].dump();
    CHECK(lines.find("door front locked") != std::string::npos);
    CHECK(lines.find("machine laser") != std::string::npos);
    CHECK(r["faulted"] == false);
  }
  SECTION("unlock pulses the strike; an unknown door is not found") {
    CHECK(site.daemon.cmd("output front.strike") == "ok front.strike off");
    auto r = c.request(req("unlock", "alice", {{"door", "front"}}));
    CHECK(r["ok"] == true);
    CHECK(site.daemon.cmd("output front.strike") == "ok front.strike on");
    CHECK(site.audited(me("alice"), "remote_unlock", "front"));
    r = c.request(req("unlock", "alice", {{"door", "nosuch"}}));
    CHECK(r["ok"] == false);
    CHECK(r["code"] == "not_found");
  }
  SECTION("lockout, then release") {
    auto r = c.request(req("lockout", "bob", {{"machine", "laser"}, {"reason", "lens cracked"}}));
    CHECK(r["ok"] == true);
    auto m = site.machine("laser");
    CHECK(m.locked_out);
    CHECK(m.lockout_reason.value_or("") == "lens cracked");
    CHECK(site.audited(me("bob"), "machine.lockout", "laser"));
    CHECK(site.daemon.cmd("tap laser iso14443a 04000001").find("denied") != std::string::npos);
    site.daemon.cmd("remove laser");
    r = c.request(req("release", "bob", {{"machine", "laser"}}));
    CHECK(r["ok"] == true);
    CHECK_FALSE(site.machine("laser").locked_out);
    CHECK(c.request(req("release", "bob", {{"machine", "nosuch"}}))["code"] == "not_found");
  }
  SECTION("confirm") {
    auto r = c.request(req("confirm", "carol", {{"machine", "printer"}}));
    CHECK(r["ok"] == true);
    CHECK(site.audited(me("carol"), "machine_confirm", "printer"));
    CHECK(c.request(req("confirm", "carol", {{"machine", "nosuch"}}))["code"] == "not_found");
  }
  SECTION("all-stop locks out every machine") {
    CHECK(c.request(req("all-stop", "dave"))["ok"] == true);
    CHECK(site.machine("laser").locked_out);
    CHECK(site.machine("printer").locked_out);
    CHECK(site.audited(me("dave"), "machine.lockout", "printer"));
  }
  SECTION("reload answers what it re-read, and is audited") {
    auto r = c.request(req("reload", "erin"));
    CHECK(r["ok"] == true);
    CHECK(r["reloaded"].is_array());
    CHECK(site.audited(me("erin"), "admin_reload", "site"));
  }
  SECTION("subscribe, then requests on the same connection") {
    CHECK(c.request(req("subscribe", "frank"))["subscribed"] == true);
    auto seq = site.lab_tap();
    for (;;) {
      auto ev = c.next();
      REQUIRE(ev);
      CHECK((*ev)["v"] == 1);
      if ((*ev)["seq"] == seq) {
        CHECK((*ev)["stream"] == "event");
        CHECK((*ev)["data"]["member"] == "M1");
        CHECK((*ev)["data"]["door"] == "lab");
        break;
      }
    }
    CHECK(c.request(req("status", "frank"))["ok"] == true);
  }
  SECTION("labgatectl acts over the channel, as --as or the OS user") {
    auto r = labgatectl(site.daemon, {"live", "unlock", "--door", "front", "--as", "gina"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(site.audited(me("gina"), "remote_unlock", "front"));
    // labgatectl(...) declares --actor test: without --as, that is the acting account.
    r = labgatectl(site.daemon, {"machines", "confirm", "--id", "laser"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(site.audited(me("test"), "machine_confirm", "laser"));
    r = labgatectl(site.daemon, {"live", "all-stop", "--as", "two words"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("bad --as") != std::string::npos);
    CHECK_FALSE(site.machine("laser").locked_out);
    r = labgatectl(site.daemon, {"live", "status"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("door front") != std::string::npos);
    r = labgatectl(site.daemon, {"live", "lockout", "--machine", "nosuch", "--as", "gina"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("unknown machine nosuch") != std::string::npos);
    // watch: the first tap at the lab door commits its event and the door's new state.
    Child watch({LABGATECTL_PATH, "--config", site.daemon.config_path(), "live", "watch", "--count",
                 "2", "--json"},
                site.dir.path().string() + "/watch.log");
    REQUIRE(wait_until(
        [&] { return site.daemon.log().find("admin: root@uid:0 subscribed") != std::string::npos; },
        10s));
    const auto seq = site.lab_tap();
    REQUIRE(watch.wait(10s).value_or(-1) == 0);
    std::istringstream watched(read_file(site.dir.path() / "watch.log"));
    bool tap_seen = false, state_seen = false;
    for (std::string l; std::getline(watched, l);) {
      auto j = json::parse(l);
      tap_seen = tap_seen || (j["seq"] == seq && j["data"]["member"] == "M1");
      state_seen = state_seen || (j["stream"] == "state" && j["data"]["door"] == "lab");
    }
    CHECK(tap_seen);
    CHECK(state_seen);
  }
}

TEST_CASE("admin channel: the socket is 0660 for the daemon's group, and other peers are refused",
          "[daemon][admin]") {
  AdminSite site;
  const auto path = site.daemon.admin_socket_path();
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0660);
  CHECK(st.st_gid == ::getegid());

  // Another uid, outside the group. When the socket's mode keeps it out, connect() fails; when
  // someone widened the mode, the daemon's own check (SO_PEERCRED) still refuses it.
  auto as_nobody = [&](bool expect_connect) {
    int out[2];
    REQUIRE(::pipe(out) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(out[0]);
      std::string result = "dropped privileges: no";
      if (::setgroups(0, nullptr) == 0 && ::setresgid(65534, 65534, 65534) == 0 &&
          ::setresuid(65534, 65534, 65534) == 0) {
        const int fd = connect_unix(path);
        if (fd < 0) {
          result = std::string("connect: ") + std::strerror(errno);
        } else {
          const std::string line = R"({"v":1,"op":"unlock","as":"mallory","door":"front"})"
                                   "\n";
          (void)::send(fd, line.data(), line.size(), MSG_NOSIGNAL);
          result.clear();
          char chunk[4096];
          ssize_t n;
          while ((n = ::read(fd, chunk, sizeof chunk)) > 0) result.append(chunk, n);
          result += "<eof>";
        }
      }
      (void)!::write(out[1], result.data(), result.size());
      ::_exit(0);
    }
    ::close(out[1]);
    std::string result;
    char chunk[4096];
    ssize_t n;
    while ((n = ::read(out[0], chunk, sizeof chunk)) > 0) result.append(chunk, n);
    ::close(out[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    INFO(result);
    if (expect_connect) {
      auto nl = result.find('\n');
      REQUIRE(nl != std::string::npos);
      auto j = json::parse(result.substr(0, nl));
      CHECK(j["ok"] == false);
      CHECK(j["code"] == "forbidden");
      CHECK(result.substr(nl + 1) == "<eof>");
    } else {
      CHECK(result == "connect: Permission denied");
    }
  };
  REQUIRE(::getuid() == 0);  // the harness runs as root; the child drops to nobody
  REQUIRE(::chmod(site.dir.path().c_str(), 0711) == 0);  // the folder is not what keeps it out
  as_nobody(false);
  REQUIRE(::chmod(path.c_str(), 0666) == 0);
  as_nobody(true);
  CHECK(site.daemon.cmd("output front.strike") == "ok front.strike off");
  for (const auto& a : site.audit()) CHECK(a.actor.find("mallory") == std::string::npos);
  CHECK(site.daemon.log().find("admin: refused") != std::string::npos);
}

TEST_CASE("admin channel: a stalled client never delays a tap, and is dropped", "[daemon][admin]") {
  AdminSite site("client_queue = 16");
  AdminClient live(site.daemon.admin_socket_path());
  AdminClient stalled(site.daemon.admin_socket_path());
  REQUIRE(live.request(req("subscribe", "live"))["ok"] == true);
  REQUIRE(stalled.request(req("subscribe", "stalled"))["ok"] == true);
  // From here on `stalled` never reads until the end.

  constexpr int kTaps = 600;
  std::vector<std::int64_t> seqs;
  std::vector<double> ms;
  std::size_t received = 0;
  std::int64_t last_seen = 0;
  for (int i = 0; i < kTaps; ++i) {
    const auto t0 = Clock::now();
    seqs.push_back(site.lab_tap());
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    // The live client keeps up as it goes.
    while (auto ev = live.next(0ms)) {
      ++received;
      last_seen = (*ev)["seq"].get<std::int64_t>();
    }
  }
  while (last_seen < seqs.back()) {
    auto ev = live.next(5s);
    REQUIRE(ev);
    ++received;
    last_seen = (*ev)["seq"].get<std::int64_t>();
  }
  CHECK(received >= static_cast<std::size_t>(kTaps));
  std::sort(ms.begin(), ms.end());
  const double p50 = ms[ms.size() / 2];
  const double p99 = ms[ms.size() * 99 / 100];
  WARN("with a stalled subscriber: tap round trip p50 " << p50 << " ms, p99 " << p99 << " ms, max "
                                                        << ms.back() << " ms");
  CHECK(p99 < 100.0);
  CHECK(site.daemon.log().find("is not reading; closed") != std::string::npos);
  // What the kernel held for it is still readable, then the stream ends.
  std::size_t stalled_lines = 0;
  while (stalled.line(2s)) ++stalled_lines;
  CHECK(stalled.eof());
  CHECK(stalled_lines < static_cast<std::size_t>(kTaps));
  // The live client is still served.
  CHECK(live.request(req("status", "live"))["ok"] == true);
}

TEST_CASE("admin channel: 1,000 hostile lines change nothing", "[daemon][admin]") {
  AdminSite site;
  const auto before = snapshot(site);
  auto client = std::make_unique<AdminClient>(site.daemon.admin_socket_path());
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> byte(1, 255);
  int errors = 0, closes = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string line;
    switch (i % 12) {
      case 0:
        line = std::string(5000 + i, 'x');  // oversized: answered, then closed
        break;
      case 1:
        line = R"({"v":1,"op":"unlock","as":"m","door":"front")";  // truncated
        break;
      case 2:
        line = R"({"v":2,"op":"all-stop","as":"m"})";
        break;
      case 3:
        line = R"({"op":"all-stop","as":"m"})";
        break;
      case 4:
        line = R"({"v":1,"op":"shutdown","as":"m"})";
        break;
      case 5:
        line = R"({"v":1,"op":"all-stop"})";  // no acting user
        break;
      case 6:
        line = R"({"v":1,"op":"lockout","as":"m","machine":"laser","reason":"x\u0007y"})";
        break;
      case 7:
        line = R"({"v":1,"op":"unlock","as":"m","door":"front\u0000"})";
        break;
      case 8:
        line = "{\"v\":1,\"op\":\"all-stop\",\"as\":\"m\xc3\x28\"}";  // invalid UTF-8
        break;
      case 9:
        line = std::string(1000, '[');  // deep nesting, unterminated
        break;
      case 10:
        line = R"({"v":1,"op":["all-stop"],"as":"m"})";
        break;
      default:
        for (int k = 0; k < 200; ++k) {
          char ch = static_cast<char>(byte(rng));
          line.push_back(ch == '\n' ? ' ' : ch);
        }
        break;
    }
    REQUIRE(client->send_raw(line + "\n"));
    auto reply = client->line(5s);
    INFO("line " << i);
    REQUIRE(reply);
    auto j = json::parse(*reply);
    CHECK(j["ok"] == false);
    CHECK(j["v"] == 1);
    CHECK(j.contains("code"));
    ++errors;
    if (i % 12 == 0) {
      CHECK(j["code"] == "too_long");
      CHECK_FALSE(client->line(5s));
      CHECK(client->eof());
      ++closes;
      client = std::make_unique<AdminClient>(site.daemon.admin_socket_path());
    }
  }
  CHECK(errors == 1000);
  CHECK(closes == 84);
  CHECK(snapshot(site) == before);
  // And the channel still works.
  CHECK(client->request(req("status", "alice"))["ok"] == true);
}

TEST_CASE("admin channel: a subscriber sees each tap within 100 ms of its commit",
          "[daemon][admin]") {
  AdminSite site;
  AdminClient c(site.daemon.admin_socket_path());
  REQUIRE(c.request(req("subscribe", "watcher"))["ok"] == true);
  double worst = 0;
  for (int i = 0; i < 50; ++i) {
    // From before the tap is sent: the commit comes later, so this bounds the latency from it.
    const auto t0 = Clock::now();
    const auto seq = site.lab_tap();
    for (;;) {
      auto ev = c.next(1s);
      REQUIRE(ev);
      if ((*ev)["seq"] == seq) break;
    }
    worst = std::max(worst, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  WARN("worst of 50 taps, tap sent to stream line read: " << worst << " ms");
  CHECK(worst < 100.0);
}

TEST_CASE("admin channel: a second daemon never takes over a socket that is answered",
          "[daemon][admin]") {
  AdminSite first;
  TempDir dir2("labgate-admin2");
  auto config = test_config(dir2.path().string());
  const std::string own = dir2.path().string() + "/admin.sock";
  config.replace(config.find(own), own.size(), first.daemon.admin_socket_path());
  Daemon second(dir2, config);
  {
    auto s = second.open_store();
    seed_cast(*s);
  }
  second.start();
  // It runs (its control socket answers) without the channel, and says why.
  CHECK(second.cmd("status").rfind("ok", 0) == 0);
  CHECK(second.log().find("admin channel unavailable") != std::string::npos);
  CHECK(second.log().find("is in use by a running process") != std::string::npos);
  AdminClient c(first.daemon.admin_socket_path());
  CHECK(c.request(req("unlock", "alice", {{"door", "front"}}))["ok"] == true);
  CHECK(first.daemon.cmd("output front.strike") == "ok front.strike on");
  CHECK(second.cmd("output front.strike") == "ok front.strike off");
  // Its stop leaves the first daemon's socket file alone.
  CHECK(second.stop() == 0);
  AdminClient again(first.daemon.admin_socket_path());
  CHECK(again.request(req("status", "alice"))["ok"] == true);
}

namespace {

// labgatectl as the unprivileged `nobody` (uid 65534, group nogroup, no other groups): the
// harness runs as root, which setpriv lets drop to any uid.
constexpr uid_t kNobody = 65534;

RunResult labgatectl_as_nobody(const Daemon& d, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"setpriv",       "--reuid=65534", "--regid=65534", "--clear-groups",
                                LABGATECTL_PATH, "--config",      d.config_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, 30s, {{"USER", "root"}});
}

// A site whose admin channel admits the group nogroup, so `nobody` may send changes, and whose
// folder and config it may read (the config's keys are test keys).
struct StaffSite : AdminSite {
  StaffSite() : AdminSite("group = \"nogroup\"") {
    REQUIRE(::getuid() == 0);
    REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
    REQUIRE(::chmod(daemon.config_path().c_str(), 0644) == 0);
  }
  std::optional<store::AuditEntry> last(const std::string& action) {
    std::optional<store::AuditEntry> found;
    for (auto& a : audit()) {
      if (a.action == action) found = a;
    }
    return found;
  }
};

}  // namespace

TEST_CASE(
    "admin channel: labgatectl's changes from another uid go through the daemon, which "
    "records the kernel's uid",
    "[daemon][admin][actor]") {
  StaffSite site;
  // The database is the daemon's: nobody could not even open it.
  auto r = labgatectl_as_nobody(site.daemon, {"--db", site.daemon.db_path(), "--actor", "alice",
                                              "members", "suspend", "--no", "M1", "--reason", "x"});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("only the daemon's user") != std::string::npos);

  // Through the daemon, declaring an existing account: done, and the record says who really
  // acted (uid 65534), whatever the account's name suggests.
  r = labgatectl_as_nobody(site.daemon, {"--actor", "root", "members", "suspend", "--no", "M1",
                                         "--reason", "card lost"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("member M1 is suspended: card lost") != std::string::npos);
  auto row = site.last("member.suspend");
  REQUIRE(row);
  CHECK(row->os_uid == static_cast<std::int64_t>(kNobody));
  CHECK(row->account == "root");
  CHECK(row->actor == "root@uid:65534");
  CHECK(row->subject == "M1");
  // Money too: a top-up at the desk, by nobody, for the account it declared.
  r = labgatectl_as_nobody(site.daemon, {"--actor", "alice", "accounts", "topup", "--member", "M2",
                                         "--amount", "1000", "--note", "cash"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("topped up 1000 yen for M2") != std::string::npos);
  row = site.last("account.topup");
  REQUIRE(row);
  CHECK(row->os_uid == static_cast<std::int64_t>(kNobody));
  CHECK(row->account == "alice");

  const auto before = snapshot(site);
  // An account that does not exist, or no --actor (the login name "nobody" is no account).
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--actor", "ghost", "members", "approve", "--no", "M1"},
           {"members", "approve", "--no", "M1"},
       }) {
    r = labgatectl_as_nobody(site.daemon, args);
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("does not exist") != std::string::npos);
  }
  // A deactivated account.
  REQUIRE(labgatectl(site.daemon, {"users", "disable", "--login", "erin"}).exit_code == 0);
  const auto disabled = snapshot(site);
  r = labgatectl_as_nobody(site.daemon, {"--actor", "erin", "members", "approve", "--no", "M1"});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("staff account 'erin' is not active") != std::string::npos);
  // Control characters, through the channel.
  r = labgatectl_as_nobody(
      site.daemon, {"--actor", "alice", "members", "add", "--no", "M9", "--name", "a\nb\x1b[31m"});
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("control character") != std::string::npos);
  r = labgatectl_as_nobody(site.daemon, {"--actor", "alice", "accounts", "topup", "--member", "M2",
                                         "--amount", "1", "--note", "cash\r\n\x1b[2J"});
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("bad top-up note") != std::string::npos);
  CHECK(snapshot(site) == disabled);
  CHECK(disabled.audit == before.audit + 1);  // only the disable
  // The spoofed and refused requests are in the daemon's log with the kernel's uid.
  CHECK(site.daemon.log().find("admin: ghost@uid:65534 change member.approve") !=
        std::string::npos);

  // The existing ops check the declared account too.
  AdminClient c(site.daemon.admin_socket_path());
  auto reply = c.request(req("lockout", "ghost", {{"machine", "laser"}, {"reason", "x"}}));
  CHECK(reply["ok"] == false);
  CHECK(reply["code"] == "forbidden");
  CHECK_FALSE(site.machine("laser").locked_out);
  reply = c.request(req("unlock", "erin", {{"door", "front"}}));
  CHECK(reply["code"] == "forbidden");
  CHECK(site.daemon.cmd("output front.strike") == "ok front.strike off");
}

TEST_CASE("admin channel: member edits and rate amendments from another uid go through the daemon",
          "[daemon][admin][actor]") {
  StaffSite site;
  const auto by_nobody = [&site](const std::string& action, const char* account = "alice") {
    auto row = site.last(action);
    REQUIRE(row);
    CHECK(row->os_uid == static_cast<std::int64_t>(kNobody));
    CHECK(row->account == account);
    return *row;
  };
  auto r = labgatectl_as_nobody(site.daemon, {"--actor", "alice", "members", "edit", "--no", "M1",
                                              "--name", "Aiko Renamed", "--email", ""});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("member M1 (Aiko Renamed) changed:") != std::string::npos);
  CHECK(by_nobody("member.edit").subject == "M1");
  auto s = site.daemon.open_store();
  CHECK(must(s->taps().member_by_no("M1"), "M1")->name == "Aiko Renamed");
  // Control characters are refused at this entry point too, and nothing changes.
  r = labgatectl_as_nobody(site.daemon,
                           {"--actor", "alice", "members", "edit", "--no", "M1", "--name", "x\ty"});
  CHECK(r.exit_code == 2);
  CHECK(must(s->taps().member_by_no("M1"), "M1")->name == "Aiko Renamed");

  r = labgatectl_as_nobody(
      site.daemon, {"--json", "--actor", "mina", "rates", "set", "--machine", "laser", "--unit",
                    "15m", "--price", "300", "--from", "2099-01-01"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto set = json::parse(r.out);
  CHECK(set["price_per_unit"] == 300);
  const std::string id = std::to_string(set["id"].get<std::int64_t>());
  by_nobody("rate_set", "mina");
  r = labgatectl_as_nobody(site.daemon,
                           {"--actor", "mina", "rates", "replace", "--id", id, "--price", "350"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("replaced: rate " + id + " for laser") != std::string::npos);
  CHECK(r.out.find("350 per 15m") != std::string::npos);
  by_nobody("rate_replace", "mina");
  r = labgatectl_as_nobody(site.daemon, {"--actor", "mina", "rates", "withdraw", "--id", id});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("withdrew rate " + id) != std::string::npos);
  by_nobody("rate_withdraw", "mina");
  CHECK_FALSE(must(s->ledger().rate(std::stoll(id)), "rate").has_value());

  // Issuing statements goes the same way; a month that has not ended is refused by the daemon.
  r = labgatectl_as_nobody(site.daemon,
                           {"--actor", "mina", "statements", "issue", "--month", "2099-01"});
  INFO(r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("only the daemon's user") == std::string::npos);
  CHECK(site.daemon.log().find("admin: mina@uid:65534 change statements.issue") !=
        std::string::npos);
}

TEST_CASE("admin channel: each op needs a role that may do it", "[daemon][admin][actor]") {
  StaffSite site;
  const auto before = snapshot(site);
  // A desk account may not cut a machine, unlock a door, set rates, issue statements, grant a
  // certification or add staff: refused, whichever way the request comes, and nothing changes.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--actor", "desmond", "machines", "lockout", "--id", "laser", "--reason", "x"},
           {"--actor", "desmond", "rates", "set", "--coworking", "--unit", "1h", "--price", "1",
            "--from", "2099-01-01"},
           {"--actor", "desmond", "statements", "issue", "--month", "2026-10"},
           {"--actor", "desmond", "certs", "grant", "--member", "M1", "--type", "laser",
            "--trainer", "x"},
           {"--actor", "trudy", "members", "approve", "--no", "M1"},
           {"--actor", "alice", "users", "add", "--login", "zed", "--role", "admin"},
       }) {
    const auto r = labgatectl_as_nobody(site.daemon, args);
    INFO(args[1] << " " << args[2] << " " << args[3] << ": " << r.err);
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("may not do this") != std::string::npos);
  }
  AdminClient c(site.daemon.admin_socket_path());
  for (const auto& op : {req("unlock", "desmond", {{"door", "front"}}),
                         req("lockout", "trudy", {{"machine", "laser"}, {"reason", "x"}}),
                         req("all-stop", "desmond")}) {
    const auto reply = c.request(op);
    CHECK(reply["ok"] == false);
    CHECK(reply["code"] == "forbidden");
  }
  CHECK(site.daemon.cmd("output front.strike") == "ok front.strike off");
  CHECK_FALSE(site.machine("laser").locked_out);
  CHECK(snapshot(site) == before);
  // What each role may do still goes through.
  auto r = labgatectl_as_nobody(
      site.daemon, {"--actor", "desmond", "members", "add", "--no", "M77", "--name", "Desk Added"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  r = labgatectl_as_nobody(site.daemon, {"--actor", "trudy", "certs", "grant", "--member", "M77",
                                         "--type", "printer", "--trainer", "Trudy"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(c.request(req("lockout", "alice", {{"machine", "laser"}, {"reason", "x"}}))["ok"] == true);
}

TEST_CASE("admin channel: a change is applied off the loop and answered in order",
          "[daemon][admin][actor]") {
  AdminSite site;
  AdminClient c(site.daemon.admin_socket_path());
  // Two requests in one write: the change's reply comes first, then the status.
  const json change =
      req("change", "alice",
          {{"id", 1},
           {"change",
            {{"op", "machine.lockout"}, {"args", {{"id", "printer"}, {"reason", "nozzle jam"}}}}}});
  REQUIRE(c.send_raw(change.dump() + "\n" + req("status", "alice", {{"id", 2}}).dump() + "\n"));
  auto first = c.reply();
  auto second = c.reply();
  INFO(first.dump() << "\n" << second.dump());
  CHECK(first["id"] == 1);
  CHECK(first["ok"] == true);
  CHECK(first["record"]["locked_out"] == true);
  CHECK(first["record"]["lockout_reason"] == "nozzle jam");
  CHECK(second["id"] == 2);
  CHECK(second["ok"] == true);
  // The daemon's own store sees the staff change (the site polls for it) and refuses taps.
  REQUIRE(wait_until(
      [&] {
        return site.daemon.cmd("tap printer iso14443a 04000001").find("denied") !=
               std::string::npos;
      },
      5s));

  // Refusals keep their kind; a hostile text never reaches the store.
  const auto before = snapshot(site);
  auto r =
      c.request(req("change", "alice",
                    {{"change",
                      {{"op", "member.add"},
                       {"args", {{"member_no", "M9"}, {"name", "line1\nline2\r\x1b[31m"}}}}}}));
  CHECK(r["code"] == "bad_request");
  CHECK(r["error"].get<std::string>().find("control character") != std::string::npos);
  r = c.request(req("change", "alice",
                    {{"change", {{"op", "member.approve"}, {"args", {{"member_no", "M404"}}}}}}));
  CHECK(r["code"] == "not_found");
  r = c.request(req("change", "alice", {{"change", {{"op", "drop.tables"}}}}));
  CHECK(r["code"] == "bad_request");
  r = c.request(req("change", "alice", {{"change", "member.add"}}));
  CHECK(r["code"] == "bad_request");
  r = c.request(req("lockout", "alice", {{"machine", "laser"}, {"reason", "\x1b[2Jcleared"}}));
  CHECK(r["code"] == "bad_request");
  CHECK(snapshot(site) == before);
  // The worker's change and the loop's tap rows are sealed in one chain that verifies.
  auto store = site.daemon.open_store();
  const auto verdict = labgate::testing::must(
      labgate::gateway::store::seal::verify(store->database(), site.daemon.verification_key(), {}),
      "verify");
  INFO(verdict.message);
  CHECK(verdict.ok);
  CHECK(verdict.rows_checked > 0);
}

TEST_CASE("admin channel: the daemon issues statements with its config's [billing] tax",
          "[daemon][admin][tax]") {
  TempDir dir{"labgate-admin-tax"};
  // Exclusive prices and a registered issuer: the daemon adds the tax to what it charges.
  Daemon daemon(dir, test_config(dir.path().string(),
                                 "\n[billing]\nprices = \"exclusive\"\nissuer_name = \"Lab\"\n"
                                 "registration_number = \"T1234567890123\"\n"));
  {
    auto s = daemon.open_store();
    seed_cast(*s);
    REQUIRE(s->staff().add_staff_account({"alice", "", "manager", true, 0}, "setup").ok());
    must(s->ledger().upsert_price_item(
        {"TEA", "Bottled tea", "pcs", 150, false, std::string("reduced")}, "setup"));
    must(s->ledger().upsert_price_item({"ACR3", "Acrylic", "sheet", 1000, false, std::nullopt},
                                       "setup"));
    // 2026-10-15 12:00 in Tokyo: a month that has ended on the daemon's clock (2026-11-24).
    const std::int64_t oct15 = 1792033200000;
    must(s->ledger().sell("M1", "TEA", 3, "", "setup", oct15));
    must(s->ledger().sell("M1", "ACR3", 1, "", "setup", oct15));
  }
  daemon.start();
  // As root with --actor: the change goes to the daemon, which bills with its own settings.
  const auto r = run_command({LABGATECTL_PATH, "--config", daemon.config_path(), "--actor", "alice",
                              "--json", "statements", "issue", "--month", "2026-10"},
                             30s, {{"USER", "root"}});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(daemon.log().find("admin: " + me("alice") + " change statements.issue") !=
        std::string::npos);
  // 3 x 150 = 450 reduced: 36 tax; 1000 standard: 100 tax. Charged 1450 + 136 = 1586.
  auto s = daemon.open_store();
  const auto issued = must(store::BillingLedger::list_statements(s->database(), "2026-10"));
  REQUIRE(issued.size() == 1);
  CHECK(issued[0].total == 1586);
  const auto body = json::parse(
      must(store::BillingLedger::statement_body(s->database(), "M1", "2026-10")).value());
  CHECK(body["tax_total"] == 136);
  CHECK(body["prices"] == "exclusive");
  CHECK(body["qualified_invoice"] == true);
  CHECK(must(s->ledger().account("M1")).balance == -1586);
}
