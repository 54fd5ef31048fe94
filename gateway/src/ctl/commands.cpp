#include "commands.hpp"

#include <fmt/format.h>
#include <pwd.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "context.hpp"
#include "labgate/gateway/billing/changes.hpp"
#include "labgate/gateway/config/site_config.hpp"
#include "labgate/gateway/store/store.hpp"
#include "output.hpp"

namespace labgate::gateway::ctl {

using json = nlohmann::ordered_json;
using st::to_json;

namespace {

std::vector<std::uint8_t> hex_identifier(const std::string& hex) {
  auto bytes = st::parse_hex(hex);
  if (!bytes) usage_error(bytes.error().message);
  return std::move(*bytes);
}

// A string member of a changed record, as the store or the daemon returned it.
std::string text(const json& record, const char* key) {
  auto it = record.find(key);
  return it != record.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// An option's text, or null when it was not given.
nlohmann::json text_or_null(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

json time_or_null(const std::optional<std::int64_t>& ms) {
  return ms ? json(format_utc(*ms)) : json(nullptr);
}

// ---- row renderers ----

json to_json(const st::AccessEvent& e) {
  return {{"uuid", e.uuid},
          {"seq", e.seq},
          {"at", format_utc(e.at_ms)},
          {"kind", e.kind},
          {"decision", st::to_string(e.decision)},
          {"reason", e.reason},
          {"member_no", null_or(e.member_no)},
          {"credential_id", null_or(e.credential_id)},
          {"reader_id", null_or(e.reader_id)},
          {"door_id", null_or(e.door_id)},
          {"machine_id", null_or(e.machine_id)},
          {"detail", e.detail}};
}

json to_json(const st::Session& s) {
  return {{"id", s.id},
          {"uuid", s.uuid},
          {"kind", st::to_string(s.kind)},
          {"member_no", null_or(s.member_no)},
          {"machine_id", null_or(s.machine_id)},
          {"started_at", format_utc(s.started_at_ms)},
          {"ended_at", time_or_null(s.ended_at_ms)},
          {"end_reason", null_or(s.end_reason)},
          {"measured_seconds", null_or(s.measured_seconds)},
          {"busy_seconds", null_or(s.busy_seconds)},
          {"rate_id", null_or(s.rate_id)}};
}

template <typename T>
json to_json_array(const std::vector<T>& rows) {
  json out = json::array();
  for (const auto& r : rows) out.push_back(to_json(r));
  return out;
}

std::string yes_no(bool b) {
  return b ? "yes" : "no";
}

void print_members(Context& ctx, const std::vector<st::Member>& rows) {
  std::map<std::int64_t, std::string> plan_codes;
  for (const auto& p : check(ctx.store().staff().list_plans())) plan_codes[p.id] = p.code;
  const auto plan_of = [&](const st::Member& m) {
    return m.plan_id ? plan_codes[*m.plan_id] : std::string();
  };
  if (ctx.json_output()) {
    json out = json::array();
    for (const auto& m : rows) {
      auto row = to_json(m);
      row["plan"] = m.plan_id ? json(plan_of(m)) : json(nullptr);
      out.push_back(std::move(row));
    }
    std::cout << out.dump(2) << '\n';
    return;
  }
  Table t({"MEMBER", "NAME", "STATUS", "PLAN", "VALID FROM", "VALID UNTIL", "EMAIL", "NOTE"});
  for (const auto& m : rows) {
    t.add({m.member_no, m.name, st::to_string(m.status), plan_of(m), m.valid_from.value_or(""),
           m.valid_until.value_or(""), m.email, m.suspended_reason.value_or("")});
  }
  t.print(std::cout);
}

void print_credentials(Context& ctx, const std::vector<st::Credential>& rows) {
  if (ctx.json_output()) {
    std::cout << to_json_array(rows).dump(2) << '\n';
    return;
  }
  Table t({"ID", "MEMBER ID", "TECH", "LABEL", "ENROLLED", "REVOKED", "REASON", "KEYS"});
  for (const auto& c : rows) {
    // DESFire cards enrolled by UID alone are refused at the door until issued at the desk.
    std::string keys = "-";
    if (c.issued_key_version) keys = "v" + std::to_string(*c.issued_key_version);
    if (c.needs_issue()) keys = "needs issue";
    t.add({std::to_string(c.id), std::to_string(c.member_id), c.technology, c.label,
           format_local(c.enrolled_at_ms, ctx.tz()), format_local(c.revoked_at_ms, ctx.tz()),
           c.revoked_reason.value_or(""), keys});
  }
  t.print(std::cout);
}

void print_certs(Context& ctx, const std::vector<st::Certification>& rows) {
  if (ctx.json_output()) {
    std::cout << to_json_array(rows).dump(2) << '\n';
    return;
  }
  Table t({"MEMBER", "NAME", "TYPE", "TRAINER", "GRANTED", "EXPIRES", "REVOKED"});
  for (const auto& c : rows) {
    t.add({c.member_no, c.member_name, c.type_code, c.trainer, c.granted_on,
           c.expires_on.value_or("never"),
           c.revoked_reason ? "revoked: " + *c.revoked_reason : ""});
  }
  t.print(std::cout);
}

void print_machines(Context& ctx, const std::vector<st::Machine>& rows) {
  if (ctx.json_output()) {
    std::cout << to_json_array(rows).dump(2) << '\n';
    return;
  }
  Table t({"ID", "NAME", "CERT", "MODE", "INSPECT EVERY", "NEXT DUE", "LOCKED OUT"});
  for (const auto& m : rows) {
    t.add({m.id, m.name, m.certification_type.value_or("-"), m.session_mode,
           m.inspection_interval_days > 0 ? std::to_string(m.inspection_interval_days) + "d" : "-",
           m.next_inspection_due.value_or(m.inspection_interval_days > 0 ? "none yet" : "-"),
           m.locked_out ? "yes: " + m.lockout_reason.value_or("") : "no"});
  }
  t.print(std::cout);
}

}  // namespace

std::string os_user_name(uid_t uid) {
  const passwd* pw = ::getpwuid(uid);
  return pw != nullptr && pw->pw_name != nullptr ? std::string(pw->pw_name)
                                                 : "uid" + std::to_string(uid);
}

namespace {
bool owns(const std::filesystem::path& db, uid_t uid) {
  struct stat st {};
  return ::stat(db.c_str(), &st) != 0 || st.st_uid == uid;
}
}  // namespace

std::optional<std::string> direct_write_refusal(const std::filesystem::path& db, uid_t uid) {
  if (uid == 0) return std::nullopt;
  struct stat st {};
  // A database not created yet (--create) will belong to whoever creates it.
  if (::stat(db.c_str(), &st) != 0) return std::nullopt;
  if (st.st_uid == uid) return std::nullopt;
  return fmt::format(
      "only the daemon's user ({}, the owner of {}) or root may write the database directly; "
      "you are {} (uid {}). Start labgated and run this again: labgatectl then sends the change "
      "over the admin channel (docs/ADMIN.md)",
      os_user_name(st.st_uid), db.string(), os_user_name(uid), uid);
}

st::Actor Context::actor() const {
  const uid_t uid = ::getuid();
  if (auto why = direct_write_refusal(db_path_, uid)) throw Failure{kExitRefused, *why};
  const std::string os_user = os_user_name(uid);
  if (cli_.actor.empty() && (uid == 0 || owns(db_path_, uid))) {
    // The machine's operators (root, the daemon's user) may act as themselves: the row then
    // names the OS user alone, which is the truth.
    st::Actor self(os_user);
    self.os_user = os_user;
    return self;
  }
  std::string account = cli_.actor.empty() ? os_user : cli_.actor;
  if (!st::valid_staff_login(account)) {
    usage_error(fmt::format("bad --actor '{}': 1-64 of A-Z a-z 0-9 . _ @ -", account));
  }
  return st::Actor::declared(std::move(account), uid, os_user);
}

st::Actor Context::actor(st::Permission need) {
  st::Actor who = actor();
  check(st::check_permission(store().database(), who, need));
  return who;
}

nlohmann::ordered_json Context::change(std::string_view op, nlohmann::json args) {
  const nlohmann::json change{{"op", op}, {"args", std::move(args)}};
  const uid_t uid = ::getuid();
  // Root and the daemon's user, declaring no account, act as themselves and write directly;
  // everyone else goes through the daemon when it runs, which records the kernel's uid.
  const bool as_self = cli_.actor.empty() && !direct_write_refusal(db_path_, uid);
  if (!as_self) {
    if (auto socket = daemon_admin_socket(cli_)) {
      const std::string as = cli_.actor.empty() ? os_user_name(uid) : cli_.actor;
      if (auto record = send_change(*socket, as, change)) {
        return nlohmann::ordered_json::parse(record->dump());
      }
    }
  }
  return check(billing::apply_change(store(), change, actor(), cli_.tax));
}

namespace {

// ---- opening the store ----

// labgated refuses these configs; labgatectl only warns, so staff can still reach the
// database of a site whose config needs fixing. The built-in demo's key is public by design.
void warn_about_keys(const std::string& config_path, const std::string& key_hex) {
  config::Key32 key{};
  std::size_t len = 0;
  if (sodium_hex2bin(key.data(), key.size(), key_hex.data(), key_hex.size(), nullptr, &len,
                     nullptr) != 0 ||
      len != key.size() || config::is_demo_key(key)) {
    return;
  }
  if (config::is_published_key(key)) {
    std::cerr << "labgatectl: warning: " << config_path
              << ": site.key is published in the labgate repository; labgated refuses it "
                 "(`labgatectl init` makes a config with a fresh key)\n";
  }
  if (auto e = config::key_file_mode_error(config_path)) {
    std::cerr << "labgatectl: warning: " << config_path << ": " << e->message << "\n";
  }
}

std::filesystem::path resolve_config(Cli& cli, std::optional<std::string>& key_hex) {
  std::filesystem::path db = cli.db;
  if (!cli.config.empty()) {
    toml::table config;
    try {
      config = toml::parse_file(cli.config);
    } catch (const toml::parse_error& e) {
      usage_error(fmt::format("cannot read config {}: {}", cli.config, e.description()));
    }
    if (db.empty()) {
      auto path = config["store"]["path"].value<std::string>();
      if (!path) usage_error(fmt::format("{}: [store] path is missing", cli.config));
      db = *path;
      // A relative path in the config is relative to the config file, as for the daemon.
      if (db.is_relative()) db = std::filesystem::path(cli.config).parent_path() / db;
    }
    if (auto key = config["site"]["key"].value<std::string>()) {
      key_hex = *key;
      warn_about_keys(cli.config, *key);
    }
    // Statements must come out as the daemon bills them: the same tax settings, refused alike.
    std::ifstream in(cli.config, std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto tax = config::load_billing_config_string(text, cli.config);
    if (!tax) {
      std::string why = config::to_string(tax.error());
      while (!why.empty() && why.back() == '\n') why.pop_back();
      usage_error(why);
    }
    cli.tax = std::move(tax).value();
  }
  if (db.empty()) usage_error("no database: give --db PATH or --config FILE");
  return db;
}

}  // namespace

int run(Cli& cli) {
  if (cli.standalone_action) return cli.standalone_action();
  if (!cli.action) usage_error("no command given (see --help)");
  std::optional<std::string> key_hex;
  const auto path = resolve_config(cli, key_hex);
  if (!cli.site_key.empty()) {
    key_hex = cli.site_key;
  } else if (!key_hex) {
    if (const char* env = std::getenv("LABGATE_SITE_KEY"); env != nullptr && *env != '\0') {
      key_hex = env;
    }
  }
  st::StoreOptions options;
  options.time_zone = cli.time_zone;
  if (!cli.simulated_clock.empty()) {
    // Demos and rehearsals run on the daemon's simulated day; the store's "now" (audit times,
    // rate start, statement month checks) follows it.
    auto at = parse_local_time(cli.simulated_clock, cli.time_zone);
    if (!at) {
      usage_error(fmt::format("bad --simulated-clock '{}': expected \"YYYY-MM-DD HH:MM\"",
                              cli.simulated_clock));
    }
    options.clock = [ms = *at] { return ms; };
  }
  options.database.busy_timeout = std::chrono::milliseconds(cli.busy_timeout_ms);
  options.database.create = cli.create;
  if (!cli.create && !std::filesystem::exists(path)) {
    throw Failure{
        kExitUnavailable,
        fmt::format("database {} does not exist (use --create to make a new one)", path.string())};
  }
  if (key_hex) options.site_key = check(st::parse_site_key(*key_hex));
  if (cli.seal_key_file.empty()) cli.seal_key_file = st::seal::default_key_path(path).string();
  options.seal_key_file = cli.seal_key_file;
  Context ctx(
      [path, options] {
        auto opened = st::Store::open(path, options);
        if (!opened) {
          // Someone else's database often cannot even be opened for writing: say why.
          if (auto why = direct_write_refusal(path, ::getuid())) throw Failure{kExitRefused, *why};
        }
        auto store = check(std::move(opened));
        if (const auto& w = store->database().exposure_warning(); !w.empty())
          std::cerr << "warning: " << w << '\n';
        return store;
      },
      cli, path);
  return cli.action(ctx);
}

namespace {

struct Args {
  // plans
  std::string code, name, windows;
  bool holidays{false}, closure{false};
  // members
  std::string member_no, email, plan, valid_from, valid_until, reason, status;
  // credentials
  std::string tech, identifier, label;
  std::int64_t credential_id{0};
  std::string reader, socket;
  int timeout_s{30};
  bool needs_issue{false};
  // certifications
  std::string type, trainer, date, expiring;
  std::int64_t validity_days{0};
  bool renew_by_use{false}, include_revoked{false};
  // machines
  std::string machine, cert_type, mode{"hold"}, inspector, result, next_due, notes, as;
  std::int64_t interval{0};
  bool needs_checkoff{false}, busy_input{false};
  // history
  std::string door, from, to;
  std::int64_t limit{50};
  bool open_only{false};
  // staff accounts
  bool password_stdin{false};
};

st::HistoryFilter history_filter(const Args& a, const std::string& tz) {
  check_date(a.from, "--from date");
  check_date(a.to, "--to date");
  if (a.limit <= 0) usage_error("--limit must be positive");
  st::HistoryFilter f;
  f.member_no = opt_text(a.member_no);
  f.machine_id = opt_text(a.machine);
  f.door_id = opt_text(a.door);
  if (!a.from.empty()) f.from_ms = local_midnight_ms(a.from, tz);
  // --to is an inclusive date: everything before the next local midnight.
  if (!a.to.empty()) f.to_ms = local_midnight_ms(st::add_days(a.to, 1), tz);
  f.open_only = a.open_only;
  f.limit = a.limit;
  return f;
}

void build_plans(CLI::App& app, Cli& cli, const std::shared_ptr<Args>& a) {
  auto* plans = app.add_subcommand("plans", "membership plans and their access windows");
  plans->require_subcommand(1);
  auto* add = plans->add_subcommand("add", "add a plan");
  add->add_option("--code", a->code, "plan code, e.g. FULL")->required();
  add->add_option("--name", a->name, "plan name")->required();
  add->add_option("--windows", a->windows, "e.g. \"mon-fri 08:30-17:15; sat 10:00-16:00\"")
      ->required();
  add->add_flag("--holidays-allowed", a->holidays, "access on national holidays");
  add->add_flag("--closure-allowed", a->closure, "access during the year-end closure");
  on(add, cli, [a](Context& ctx) {
    auto p = ctx.change("plan.add", {{"code", a->code},
                                     {"name", a->name},
                                     {"windows", a->windows},
                                     {"holidays_allowed", a->holidays},
                                     {"closure_allowed", a->closure}});
    print_one(ctx, p, fmt::format("added plan {} ({})", text(p, "code"), text(p, "windows")));
    return kExitOk;
  });
  auto* list = plans->add_subcommand("list", "list plans");
  on(list, cli, [](Context& ctx) {
    auto rows = check(ctx.store().staff().list_plans());
    if (ctx.json_output()) {
      std::cout << to_json_array(rows).dump(2) << '\n';
      return kExitOk;
    }
    Table t({"CODE", "NAME", "WINDOWS", "HOLIDAYS", "CLOSURE"});
    for (const auto& p : rows) {
      t.add({p.code, p.name, p.windows, yes_no(p.holidays_allowed), yes_no(p.closure_allowed)});
    }
    t.print(std::cout);
    return kExitOk;
  });
}

void build_members(CLI::App& app, Cli& cli, const std::shared_ptr<Args>& a) {
  auto* members = app.add_subcommand("members", "members: register, approve, suspend");
  members->require_subcommand(1);
  auto* add = members->add_subcommand("add", "register a member (pending until approved)");
  add->add_option("--no", a->member_no, "member number, e.g. M0001")->required();
  add->add_option("--name", a->name, "full name")->required();
  add->add_option("--email", a->email, "e-mail address");
  add->add_option("--plan", a->plan, "plan code");
  add->add_option("--valid-from", a->valid_from, "first valid day, YYYY-MM-DD");
  add->add_option("--valid-until", a->valid_until, "last valid day, YYYY-MM-DD");
  on(add, cli, [a](Context& ctx) {
    check_date(a->valid_from, "--valid-from date");
    check_date(a->valid_until, "--valid-until date");
    auto m = ctx.change("member.add", {{"member_no", a->member_no},
                                       {"name", a->name},
                                       {"email", a->email},
                                       {"plan", text_or_null(a->plan)},
                                       {"valid_from", text_or_null(a->valid_from)},
                                       {"valid_until", text_or_null(a->valid_until)}});
    print_one(
        ctx, m,
        fmt::format("added member {} ({}), status pending", text(m, "member_no"), text(m, "name")));
    return kExitOk;
  });
  auto* approve = members->add_subcommand("approve", "approve (or reinstate) a member");
  approve->add_option("--no", a->member_no, "member number")->required();
  on(approve, cli, [a](Context& ctx) {
    auto m = ctx.change("member.approve", {{"member_no", a->member_no}});
    print_one(ctx, m, fmt::format("member {} is active", text(m, "member_no")));
    return kExitOk;
  });
  auto* suspend = members->add_subcommand("suspend", "suspend a member");
  suspend->add_option("--no", a->member_no, "member number")->required();
  suspend->add_option("--reason", a->reason, "why")->required();
  on(suspend, cli, [a](Context& ctx) {
    auto m = ctx.change("member.suspend", {{"member_no", a->member_no}, {"reason", a->reason}});
    print_one(ctx, m, fmt::format("member {} is suspended: {}", text(m, "member_no"), a->reason));
    return kExitOk;
  });
  auto* list = members->add_subcommand("list", "list members");
  list->add_option("--status", a->status, "pending, active or suspended");
  on(list, cli, [a](Context& ctx) {
    std::optional<st::MemberStatus> status;
    if (!a->status.empty()) {
      status = st::parse_member_status(a->status);
      if (!status)
        usage_error(fmt::format("bad --status '{}' (pending, active, suspended)", a->status));
    }
    print_members(ctx, check(ctx.store().staff().list_members(status)));
    return kExitOk;
  });
}

// One request line on the daemon's control socket; the reply line.
std::string control_request(const std::string& socket_path, const std::string& line) {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof addr.sun_path) usage_error("socket path too long");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    throw Failure{kExitUnavailable, fmt::format("cannot reach labgated at {}: {}", socket_path,
                                                std::strerror(errno))};
  }
  timeval tv{10, 0};  // a daemon that accepts but never answers must not hang staff
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string msg = line + "\n";
  bool ok = ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(msg.size());
  std::string reply;
  char c = 0;
  while (ok && ::read(fd, &c, 1) == 1 && c != '\n') reply.push_back(c);
  ::close(fd);
  if (!ok || reply.empty()) throw Failure{kExitUnavailable, "no answer from labgated"};
  return reply;
}

// The daemon's control socket: --socket, else the config's [control] socket.
std::string control_socket(const Cli& cli, const Args& a) {
  std::string sock = a.socket;
  if (sock.empty() && !cli.config.empty()) {
    if (auto v = toml::parse_file(cli.config)["control"]["socket"].value<std::string>()) sock = *v;
  }
  if (sock.empty()) usage_error("no control socket: give --socket or a config with [control]");
  return sock;
}

// The control protocol splits on whitespace: the actor travels as one word.
std::string actor_word(Context& ctx) {
  std::string actor = ctx.actor(st::Permission::kMembers).label;
  for (auto& ch : actor) ch = std::isspace(static_cast<unsigned char>(ch)) ? '_' : ch;
  return actor;
}

// Arms the reader on the daemon, then polls until a card was bound, refused, or time ran out.
int enroll_at_reader(Context& ctx, const Cli& cli, const Args& a) {
  const std::string sock = control_socket(cli, a);
  const std::string actor = actor_word(ctx);
  auto armed = control_request(
      sock, fmt::format("enroll {} {} {} {}", a.reader, a.member_no, a.timeout_s, actor));
  if (armed.rfind("ok", 0) != 0) throw Failure{kExitRefused, armed};
  std::cerr << "tap the card on " << a.reader << " (" << a.timeout_s << " s)" << std::endl;
  // The daemon's clock decides the timeout; this bound only covers a daemon that stopped moving.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(a.timeout_s + 5);
  std::string status = "ok waiting";
  while (status == "ok waiting" && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    status = control_request(sock, "enroll-status " + a.reader);
  }
  if (status == "ok waiting" || status == "err timeout") {
    throw Failure{kExitRefused,
                  fmt::format("no card presented on {} within {} s", a.reader, a.timeout_s)};
  }
  if (status.rfind("ok enrolled ", 0) != 0) throw Failure{kExitRefused, status.substr(4)};
  // "ok enrolled <member> <tech> credential=<id>"
  std::istringstream words(status.substr(12));
  std::string member, tech, cred;
  words >> member >> tech >> cred;
  const std::string id = cred.substr(cred.find('=') + 1);
  if (ctx.json_output()) {
    std::cout << json{{"member", member},
                      {"technology", tech},
                      {"credential", std::stoll(id)},
                      {"reader", a.reader}}
                     .dump()
              << "\n";
  } else {
    std::cout << fmt::format("enrolled {} card as credential #{} for {} at {}", tech, id, member,
                             a.reader)
              << "\n";
  }
  return kExitOk;
}

void build_credentials(CLI::App& app, Cli& cli, const std::shared_ptr<Args>& a) {
  auto* creds = app.add_subcommand("credentials", "cards: enroll, revoke, list");
  creds->require_subcommand(1);
  auto* enroll = creds->add_subcommand("enroll", "enroll a card for a member");
  enroll->add_option("--member", a->member_no, "member number")->required();
  auto* tech = enroll->add_option("--tech", a->tech, "iso14443a, felica or desfire");
  auto* ident = enroll->add_option("--id", a->identifier, "card UID / IDm in hex, e.g. 04A1B2C3");
  enroll->add_option("--label", a->label, "a note, e.g. 'blue key tag'");
  auto* reader =
      enroll->add_option("--reader", a->reader, "enroll the next card tapped on this reader");
  enroll->add_option("--timeout", a->timeout_s, "seconds to wait for the card (with --reader)")
      ->check(CLI::Range(1, 600));
  enroll->add_option("--socket", a->socket, "daemon control socket (default: config [control])");
  tech->needs(ident);
  ident->needs(tech);
  reader->excludes(tech)->excludes(ident);
  on(enroll, cli, [a, &cli](Context& ctx) {
    if (!a->reader.empty()) return enroll_at_reader(ctx, cli, *a);
    if (a->tech.empty()) usage_error("name the card with --tech and --id, or use --reader");
    hex_identifier(a->identifier);  // a usage error here, before anything is sent
    auto c = ctx.change("credential.enroll", {{"member_no", a->member_no},
                                              {"technology", a->tech},
                                              {"identifier", a->identifier},
                                              {"label", a->label}});
    print_one(ctx, c,
              fmt::format("enrolled {} card as credential #{} for {}", text(c, "technology"),
                          c.value("id", 0), a->member_no));
    return kExitOk;
  });
  auto* revoke = creds->add_subcommand("revoke", "revoke a card (lost, stolen, returned)");
  auto* by_tech = revoke->add_option("--tech", a->tech, "technology of the card");
  auto* by_id = revoke->add_option("--id", a->identifier, "card UID / IDm in hex");
  auto* by_cred = revoke->add_option("--credential", a->credential_id, "credential number");
  by_tech->needs(by_id);
  by_id->needs(by_tech);
  by_cred->excludes(by_tech)->excludes(by_id);
  revoke->add_option("--reason", a->reason, "why")->required();
  on(revoke, cli, [a, by_cred](Context& ctx) {
    nlohmann::json args{{"reason", a->reason}};
    if (by_cred->count() > 0) {
      args["credential_id"] = a->credential_id;
    } else if (!a->tech.empty()) {
      hex_identifier(a->identifier);
      args["technology"] = a->tech;
      args["identifier"] = a->identifier;
    } else {
      usage_error("name the card with --tech and --id, or --credential");
    }
    auto c = ctx.change("credential.revoke", std::move(args));
    print_one(ctx, c, fmt::format("revoked credential #{}: {}", c.value("id", 0), a->reason));
    return kExitOk;
  });
  auto* list = creds->add_subcommand("list", "list cards");
  list->add_option("--member", a->member_no, "only this member's cards");
  list->add_flag("--needs-issue", a->needs_issue,
                 "only DESFire cards enrolled by UID, refused until issued at the desk");
  on(list, cli, [a](Context& ctx) {
    auto rows = check(ctx.store().staff().list_credentials(opt_text(a->member_no)));
    if (a->needs_issue) {
      std::erase_if(rows, [](const st::Credential& c) {
        return !c.needs_issue() || c.revoked_at_ms.has_value();
      });
    }
    print_credentials(ctx, rows);
    return kExitOk;
  });
}

void build_certs(CLI::App& app, Cli& cli, const std::shared_ptr<Args>& a) {
  auto* types = app.add_subcommand("cert-types", "certification types");
  types->require_subcommand(1);
  auto* add = types->add_subcommand("add", "add a certification type");
  add->add_option("--code", a->code, "code, e.g. laser")->required();
  add->add_option("--name", a->name, "name")->required();
  add->add_option("--validity-days", a->validity_days, "days valid after the grant (0: forever)")
      ->required()
      ->check(CLI::NonNegativeNumber);
  add->add_flag("--renew-by-use", a->renew_by_use, "each machine session renews the validity");
  on(add, cli, [a](Context& ctx) {
    auto t = ctx.change("certtype.add", {{"code", a->code},
                                         {"name", a->name},
                                         {"validity_days", a->validity_days},
                                         {"renew_by_use", a->renew_by_use}});
    print_one(ctx, t, fmt::format("added certification type {}", text(t, "code")));
    return kExitOk;
  });
  auto* list_types = types->add_subcommand("list", "list certification types");
  on(list_types, cli, [](Context& ctx) {
    auto rows = check(ctx.store().staff().list_certification_types());
    if (ctx.json_output()) {
      std::cout << to_json_array(rows).dump(2) << '\n';
      return kExitOk;
    }
    Table t({"CODE", "NAME", "VALIDITY", "RENEW BY USE"});
    for (const auto& r : rows) {
      t.add({r.code, r.name,
             r.validity_days > 0 ? std::to_string(r.validity_days) + "d" : "forever",
             yes_no(r.renew_by_use)});
    }
    t.print(std::cout);
    return kExitOk;
  });

  auto* certs = app.add_subcommand("certs", "certifications: grant, revoke, list");
  certs->require_subcommand(1);
  auto* grant = certs->add_subcommand("grant", "grant a certification after training");
  grant->add_option("--member", a->member_no, "member number")->required();
  grant->add_option("--type", a->type, "certification type code")->required();
  grant->add_option("--trainer", a->trainer, "who trained and assessed")->required();
  grant->add_option("--date", a->date, "training date, YYYY-MM-DD (default today)");
  on(grant, cli, [a](Context& ctx) {
    check_date(a->date, "--date");
    auto c = ctx.change("cert.grant", {{"member_no", a->member_no},
                                       {"type", a->type},
                                       {"trainer", a->trainer},
                                       {"granted_on", text_or_null(a->date)}});
    print_one(ctx, c,
              fmt::format("granted {} to {} on {}, expires {}", text(c, "type"),
                          text(c, "member_no"), text(c, "granted_on"),
                          c["expires_on"].is_string() ? text(c, "expires_on") : "never"));
    return kExitOk;
  });
  auto* revoke = certs->add_subcommand("revoke", "revoke a member's certification");
  revoke->add_option("--member", a->member_no, "member number")->required();
  revoke->add_option("--type", a->type, "certification type code")->required();
  revoke->add_option("--reason", a->reason, "why")->required();
  on(revoke, cli, [a](Context& ctx) {
    auto rows = ctx.change("cert.revoke",
                           {{"member_no", a->member_no}, {"type", a->type}, {"reason", a->reason}});
    if (ctx.json_output()) {
      std::cout << rows.dump(2) << '\n';
    } else {
      std::cout << fmt::format("revoked {} of {}: {}", a->type, a->member_no, a->reason) << '\n';
    }
    return kExitOk;
  });
  auto* list = certs->add_subcommand("list", "list certifications");
  list->add_option("--member", a->member_no, "only this member");
  list->add_option("--type", a->type, "only this type");
  list->add_option("--expiring", a->expiring, "only those expiring within, e.g. 30d");
  list->add_flag("--all", a->include_revoked, "include revoked certifications");
  on(list, cli, [a](Context& ctx) {
    st::CertificationFilter f;
    f.member_no = opt_text(a->member_no);
    f.type_code = opt_text(a->type);
    f.include_revoked = a->include_revoked;
    if (!a->expiring.empty()) {
      std::string n = a->expiring;
      if (n.back() == 'd') n.pop_back();
      if (n.empty() || n.size() > 5 || n.find_first_not_of("0123456789") != std::string::npos) {
        usage_error(fmt::format("bad --expiring '{}': expected days, e.g. 30d", a->expiring));
      }
      f.expiring_within_days = std::stoll(n);
    }
    print_certs(ctx, check(ctx.store().staff().list_certifications(f)));
    return kExitOk;
  });
}

void build_machines(CLI::App& app, Cli& cli, const std::shared_ptr<Args>& a) {
  auto* machines = app.add_subcommand("machines", "machines: add, lockout, release, inspect");
  machines->require_subcommand(1);
  auto* add = machines->add_subcommand("add", "add a machine");
  add->add_option("--id", a->machine, "machine id, e.g. laser1")->required();
  add->add_option("--name", a->name, "name")->required();
  add->add_option("--cert-type", a->cert_type, "certification type required to use it");
  add->add_option("--mode", a->mode, "hold (card stays on reader) or tap (tap on/off)")
      ->check(CLI::IsMember({"hold", "tap"}));
  add->add_option("--inspection-days", a->interval, "days between safety inspections (0: none)")
      ->check(CLI::NonNegativeNumber);
  add->add_flag("--needs-checkoff", a->needs_checkoff, "staff check-off required after use");
  add->add_flag("--busy-input", a->busy_input,
                "it reports busy time (labgated sets this from its configuration)");
  on(add, cli, [a](Context& ctx) {
    auto m = ctx.change("machine.add", {{"id", a->machine},
                                        {"name", a->name},
                                        {"certification_type", text_or_null(a->cert_type)},
                                        {"session_mode", a->mode},
                                        {"inspection_interval_days", a->interval},
                                        {"needs_checkoff", a->needs_checkoff},
                                        {"busy_input", a->busy_input}});
    print_one(ctx, m, fmt::format("added machine {} ({})", text(m, "id"), text(m, "name")));
    return kExitOk;
  });
  auto* lockout = machines->add_subcommand("lockout", "take a machine out of service");
  lockout->add_option("--id", a->machine, "machine id")->required();
  lockout->add_option("--reason", a->reason, "why")->required();
  on(lockout, cli, [a](Context& ctx) {
    auto m = ctx.change("machine.lockout", {{"id", a->machine}, {"reason", a->reason}});
    print_one(ctx, m, fmt::format("machine {} locked out: {}", text(m, "id"), a->reason));
    return kExitOk;
  });
  auto* release = machines->add_subcommand("release", "put a machine back in service");
  release->add_option("--id", a->machine, "machine id")->required();
  on(release, cli, [a](Context& ctx) {
    auto m = ctx.change("machine.release", {{"id", a->machine}});
    print_one(ctx, m, fmt::format("machine {} released", text(m, "id")));
    return kExitOk;
  });
  // Confirmation is an act on the running controller (power-loss startup, check-off after
  // use), so it goes to the daemon rather than into the database.
  auto* confirm = machines->add_subcommand(
      "confirm", "confirm a machine is safe after start-up or check it off after use");
  confirm->add_option("--id", a->machine, "machine id")->required();
  confirm->add_option("--admin-socket", a->socket,
                      "the daemon's admin socket (default: [admin] socket of --config)");
  confirm->add_option("--as", a->as,
                      "the staff account acting (default: --actor, else your OS user)");
  // Over the admin channel, like `live confirm`: it needs no database of its own.
  confirm->callback([a, &cli] {
    cli.standalone_action = [a, &cli] { return live_confirm(cli, a->machine, a->socket, a->as); };
  });
  auto* inspect = machines->add_subcommand("inspect", "record a safety inspection");
  inspect->add_option("--id", a->machine, "machine id")->required();
  inspect->add_option("--inspector", a->inspector, "who inspected")->required();
  inspect->add_option("--result", a->result, "pass or fail (fail locks the machine out)")
      ->required()
      ->check(CLI::IsMember({"pass", "fail"}));
  inspect->add_option("--date", a->date, "inspection date (default today)");
  inspect->add_option("--next-due", a->next_due, "next inspection date (default: + interval)");
  inspect->add_option("--notes", a->notes, "findings");
  on(inspect, cli, [a](Context& ctx) {
    check_date(a->date, "--date");
    check_date(a->next_due, "--next-due date");
    auto i = ctx.change("inspection.record", {{"machine_id", a->machine},
                                              {"done_on", text_or_null(a->date)},
                                              {"inspector", a->inspector},
                                              {"result", a->result},
                                              {"notes", a->notes},
                                              {"next_due", text_or_null(a->next_due)}});
    print_one(ctx, i,
              fmt::format("recorded inspection of {} on {}: {}, next due {}", text(i, "machine_id"),
                          text(i, "done_on"), text(i, "result"),
                          i["next_due"].is_string() ? text(i, "next_due") : "-"));
    return kExitOk;
  });
  auto* list = machines->add_subcommand("list", "list machines");
  on(list, cli, [](Context& ctx) {
    print_machines(ctx, check(ctx.store().staff().list_machines()));
    return kExitOk;
  });
}

void add_history_options(CLI::App* sub, Args& a, bool events) {
  sub->add_option("--member", a.member_no, "member number");
  sub->add_option("--machine", a.machine, "machine id");
  if (events) sub->add_option("--door", a.door, "door id");
  sub->add_option("--from", a.from, "first day, YYYY-MM-DD (site time)");
  sub->add_option("--to", a.to, "last day, YYYY-MM-DD (site time, inclusive)");
  sub->add_option("--limit", a.limit, "at most this many rows (default 50)");
}

void build_history(CLI::App& app, Cli& cli, const std::shared_ptr<Args>& a) {
  auto* events = app.add_subcommand("events", "access events");
  events->require_subcommand(1);
  auto* elist = events->add_subcommand("list", "list events, newest first");
  add_history_options(elist, *a, true);
  on(elist, cli, [a](Context& ctx) {
    auto rows = check(ctx.store().events().list_events(history_filter(*a, ctx.tz())));
    if (ctx.json_output()) {
      std::cout << to_json_array(rows).dump(2) << '\n';
      return kExitOk;
    }
    Table t({"SEQ", "TIME", "KIND", "DECISION", "REASON", "MEMBER", "DOOR", "MACHINE"});
    for (const auto& e : rows) {
      t.add({std::to_string(e.seq), format_local(e.at_ms, ctx.tz()), e.kind,
             st::to_string(e.decision), e.reason, e.member_no.value_or(""), e.door_id.value_or(""),
             e.machine_id.value_or("")});
    }
    t.print(std::cout);
    return kExitOk;
  });
  auto* sessions = app.add_subcommand("sessions", "machine and coworking sessions");
  sessions->require_subcommand(1);
  auto* slist = sessions->add_subcommand("list", "list sessions, newest first");
  add_history_options(slist, *a, false);
  slist->add_flag("--open", a->open_only, "only sessions still open");
  on(slist, cli, [a](Context& ctx) {
    auto rows = check(ctx.store().events().list_sessions(history_filter(*a, ctx.tz())));
    if (ctx.json_output()) {
      std::cout << to_json_array(rows).dump(2) << '\n';
      return kExitOk;
    }
    Table t({"ID", "KIND", "MEMBER", "MACHINE", "STARTED", "ENDED", "SECONDS", "BUSY", "RATE",
             "END REASON"});
    const auto number = [](const std::optional<std::int64_t>& v) {
      return v ? std::to_string(*v) : std::string();
    };
    for (const auto& s : rows) {
      // BUSY is empty where the machine has no busy input; RATE is the rate id the session is
      // billed under (rates list), empty when none was in force.
      t.add({std::to_string(s.id), st::to_string(s.kind), s.member_no.value_or(""),
             s.machine_id.value_or(""), format_local(s.started_at_ms, ctx.tz()),
             format_local(s.ended_at_ms, ctx.tz()), number(s.measured_seconds),
             number(s.busy_seconds), number(s.rate_id), s.end_reason.value_or("")});
    }
    t.print(std::cout);
    return kExitOk;
  });
}

void build_users(CLI::App& app, Cli& cli, const std::shared_ptr<Args>& a) {
  auto* users = app.add_subcommand("users", "staff accounts that --actor may declare");
  users->require_subcommand(1);
  auto* add = users->add_subcommand(
      "add", "add a staff account (the first one is made by its owner declaring it)");
  add->add_option("--login", a->code, "login, 1-64 of A-Z a-z 0-9 . _ @ -")->required();
  add->add_option("--name", a->name, "full name");
  add->add_option("--role", a->status, "desk, trainer, staff, manager or admin")
      ->required()
      ->check(CLI::IsMember({"desk", "trainer", "staff", "manager", "admin"}));
  add->add_flag("--password-stdin", a->password_stdin,
                "also set the web console password, read as one line from standard input");
  on(add, cli, [a](Context& ctx) {
    // Read before the account exists, so a refused password leaves no half-made account.
    const auto hash = a->password_stdin ? read_password_hash() : std::string();
    auto s = ctx.change("staff.add", {{"login", a->code}, {"name", a->name}, {"role", a->status}});
    if (!hash.empty()) set_password_hash(ctx, a->code, hash);
    print_one(ctx, s,
              fmt::format("added staff account {} ({})", text(s, "login"), text(s, "role")));
    return kExitOk;
  });
  for (const bool active : {false, true}) {
    auto* sub = users->add_subcommand(active ? "enable" : "disable",
                                      active ? "let an account be declared again"
                                             : "refuse every change that declares this account");
    sub->add_option("--login", a->code, "login")->required();
    on(sub, cli, [a, active](Context& ctx) {
      auto s = ctx.change(active ? "staff.enable" : "staff.disable", {{"login", a->code}});
      print_one(
          ctx, s,
          fmt::format("staff account {} {}", text(s, "login"), active ? "enabled" : "disabled"));
      return kExitOk;
    });
  }
  build_user_settings(users, cli);
  auto* list = users->add_subcommand("list", "list staff accounts");
  on(list, cli, [](Context& ctx) {
    auto rows = check(ctx.store().staff().list_staff_accounts());
    if (ctx.json_output()) {
      std::cout << to_json_array(rows).dump(2) << '\n';
      return kExitOk;
    }
    Table t({"LOGIN", "NAME", "ROLE", "ACTIVE"});
    for (const auto& s : rows) t.add({s.login, s.name, s.role, yes_no(s.active)});
    t.print(std::cout);
    return kExitOk;
  });
}

void build_audit(CLI::App& app, Cli& cli) {
  auto* audit = app.add_subcommand("audit", "the sealed audit record");
  audit->require_subcommand(1);
  build_audit_sealing(audit, cli);
  auto* list = audit->add_subcommand("list", "show audit rows, oldest first");
  on(list, cli, [](Context& ctx) {
    auto rows = check(ctx.store().audit().list_audit(100000));
    if (ctx.json_output()) {
      json out = json::array();
      for (const auto& r : rows) {
        out.push_back({{"id", r.id},
                       {"at", format_utc(r.at_ms)},
                       {"actor", r.actor},
                       {"os_uid", null_or(r.os_uid)},
                       {"os_user", null_or(r.os_user)},
                       {"account", null_or(r.account)},
                       {"action", r.action},
                       {"subject", r.subject},
                       {"detail", r.detail},
                       {"hash", st::to_hex(r.hash)}});
      }
      std::cout << out.dump(2) << '\n';
      return kExitOk;
    }
    Table t({"ID", "TIME", "ACCOUNT", "OS USER", "ACTION", "SUBJECT", "DETAIL"});
    for (const auto& r : rows) {
      std::string os = r.os_uid ? "uid " + std::to_string(*r.os_uid) : "-";
      if (r.os_user) os = *r.os_user + " (" + os + ")";
      t.add({std::to_string(r.id), format_local(r.at_ms, ctx.tz()), r.account.value_or(r.actor), os,
             r.action, r.subject, r.detail});
    }
    t.print(std::cout);
    return kExitOk;
  });
}

}  // namespace

std::string usage_hint(CLI::App& app) {
  CLI::App* level = &app;
  for (;;) {
    auto parsed = level->get_subcommands();
    if (parsed.empty()) break;
    level = parsed.front();
  }
  auto all = level->get_subcommands([](CLI::App*) { return true; });
  if (all.empty()) return " (see --help)";
  std::string names;
  for (const auto* sub : all) names += (names.empty() ? "" : ", ") + sub->get_name();
  return fmt::format(" (expected one of: {}; see --help)", names);
}

void build(CLI::App& app, Cli& cli) {
  app.fallthrough();  // global options may follow the subcommand
  app.require_subcommand(1);
  app.add_option("--db", cli.db, "database file (overrides [store] path of --config)");
  app.add_option("--config", cli.config, "daemon config (TOML): reads [store] path, [site] key");
  app.add_option("--site-key", cli.site_key,
                 "site key, 64 hex digits (default: [site] key, or $LABGATE_SITE_KEY)");
  app.add_option("--seal-key-file", cli.seal_key_file,
                 "the audit record's sealing key file (default: <database>.seal-key; see "
                 "docs/KEYS.md)");
  app.add_option("--actor", cli.actor,
                 "the staff account you act as, for the audit log; it must exist and be active "
                 "(default: your OS login name)");
  app.add_option("--admin-socket", cli.admin_socket,
                 "the daemon's admin channel, for changes (default: [admin] socket of --config)");
  app.add_option("--tz", cli.time_zone, "site time zone for dates (default Asia/Tokyo)");
  app.add_option("--busy-timeout-ms", cli.busy_timeout_ms, "wait this long for the daemon's lock")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--simulated-clock", cli.simulated_clock,
                 "act as if it were this local time (\"2026-11-24 08:00\"), as labgated's "
                 "option of that name: for demos and rehearsals");
  app.add_flag("--json", cli.json, "JSON output");
  app.add_flag("--create", cli.create, "create the database if it does not exist");
  auto args = std::make_shared<Args>();
  build_plans(app, cli, args);
  build_members(app, cli, args);
  build_credentials(app, cli, args);
  build_certs(app, cli, args);
  build_machines(app, cli, args);
  build_history(app, cli, args);
  build_audit(app, cli);
  build_users(app, cli, args);
  build_billing(app, cli);
  build_statements(app, cli);
  build_reports(app, cli);
  build_bookings(app, cli);
  build_import(app, cli);
  build_member_edits(app, cli);
  build_init(app, cli);
  build_keys(app, cli);
  build_live(app, cli);
}

}  // namespace labgate::gateway::ctl
