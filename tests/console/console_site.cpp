#include "console_site.hpp"

#include <unistd.h>

#include <chrono>
#include <regex>
#include <stdexcept>
#include <thread>

#include "labgate/gateway/console/password.hpp"
#include "must.hpp"

namespace labgate::testing {

namespace store = gateway::store;

std::string csrf_of(const std::string& page) {
  static const std::regex kToken(R"re(name="csrf" value="([0-9a-f]{64})")re");
  std::smatch m;
  return std::regex_search(page, m, kToken) ? m[1].str() : std::string();
}

bool audited(ConsoleSite& site, const std::string& actor, const std::string& action,
             const std::string& subject) {
  auto s = site.daemon().open_store();
  for (const auto& a : must(s->audit().list_audit(100000))) {
    if (a.actor == actor && a.action == action && a.subject == subject) return true;
  }
  return false;
}

std::string me(const std::string& login) {
  return login + "@uid:" + std::to_string(::getuid());
}

std::string cookie_of(const HttpReply& reply) {
  const auto set = reply.header("set-cookie");
  return set.substr(0, set.find(';'));
}

ConsoleSite::ConsoleSite(std::vector<std::string> console_args)
    : ConsoleSite(ConsoleSiteOptions{std::move(console_args), {}, false}) {}

ConsoleSite::ConsoleSite(ConsoleSiteOptions options)
    : daemon_(dir_, options.extra_config.empty()
                        ? std::string()
                        : test_config(dir_.path().string(), options.extra_config)) {
  {
    auto s = daemon_.open_store();
    seed_cast(*s);
    for (const auto& [login, role] :
         std::vector<std::pair<std::string, std::string>>{{"dina", "desk"},
                                                          {"sam", "staff"},
                                                          {"tara", "trainer"},
                                                          {"mona", "manager"},
                                                          {"nopw", "staff"}}) {
      must(s->staff().add_staff_account({login, login, role, true, 0}, "setup"));
      if (login == "nopw") continue;
      const auto hash = gateway::console::hash_password(password_of(login));
      if (!hash) throw std::runtime_error("cannot hash a password");
      must(s->staff().set_staff_password_hash(login, *hash, "setup"));
    }
  }
  if (options.system_clock) {
    daemon_.start_on_system_clock({});
  } else {
    daemon_.start();
  }
  daemon_.cmd("confirm laser");
  std::vector<std::string> argv{LABGATE_CONSOLE_PATH, "--config", daemon_.config_path(), "--listen",
                                "127.0.0.1:0",        "--static", LABGATE_CONSOLE_STATIC};
  argv.insert(argv.end(), options.console_args.begin(), options.console_args.end());
  console_ = std::make_unique<Child>(argv, dir_ / "console.log");
  const std::string marker = "listening on http://127.0.0.1:";
  const bool up = wait_until(
      [&] { return console_log().find(marker) != std::string::npos || !console_->running(); },
      std::chrono::seconds(10));
  const auto log = console_log();
  const auto at = log.find(marker);
  if (!up || at == std::string::npos) throw std::runtime_error("console did not start:\n" + log);
  port_ = static_cast<unsigned short>(std::stoi(log.substr(at + marker.size())));
}

ConsoleSite::~ConsoleSite() {
  if (console_) console_->stop(SIGTERM);
}

int ConsoleSite::console_pid() const {
  return console_->pid();
}

std::string ConsoleSite::console_log() const {
  return read_file(dir_ / "console.log");
}

HttpReply ConsoleSite::get(Browser& b, const std::string& target, const std::string& lang) {
  HttpCall call;
  call.target = target;
  call.cookie = b.cookie;
  call.accept_language = lang;
  auto r = http(port_, call);
  if (!cookie_of(r).empty()) b.cookie = cookie_of(r);
  if (auto t = csrf_of(r.body); !t.empty()) b.csrf = t;
  return r;
}

HttpReply ConsoleSite::post(Browser& b, const std::string& target, const std::string& body,
                            bool with_csrf) {
  HttpCall call;
  call.method = "POST";
  call.target = target;
  call.cookie = b.cookie;
  call.body = body;
  if (with_csrf) call.body += (body.empty() ? "" : "&") + std::string("csrf=") + b.csrf;
  auto r = http(port_, call);
  if (!cookie_of(r).empty()) b.cookie = cookie_of(r);
  return r;
}

HttpReply ConsoleSite::log_in(Browser& b, const std::string& login, const std::string& password,
                              const std::string& lang) {
  get(b, "/login", lang);
  return post(b, "/login", "login=" + form_escape(login) + "&password=" + form_escape(password));
}

Browser ConsoleSite::logged_in(const std::string& login) {
  Browser b;
  const auto r = log_in(b, login, password_of(login));
  if (r.status != 303) throw std::runtime_error("login of " + login + " failed: " + r.body);
  get(b, "/");
  return b;
}

store::Machine ConsoleSite::machine(const std::string& id) {
  auto s = daemon_.open_store();
  for (auto& m : must(s->staff().list_machines())) {
    if (m.id == id) return m;
  }
  throw std::runtime_error("no machine " + id);
}

RunResult run_console(const std::vector<std::string>& args) {
  std::vector<std::string> argv{LABGATE_CONSOLE_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, std::chrono::seconds(20));
}

std::string wait_job(ConsoleSite& site, Browser& b, const std::string& job_path) {
  std::string body;
  for (int i = 0; i < 2400; ++i) {
    body = site.get(b, job_path).body;
    if (!has(body, R"(data-stage="running")")) return body;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("job did not end: " + body);
}

}  // namespace labgate::testing
