#pragma once
// A real labgated (seeded with the standard cast and staff accounts with passwords) and a real
// labgate-console beside it, on a free port.

#include <memory>
#include <string>
#include <vector>

#include "daemon.hpp"
#include "http_client.hpp"

namespace labgate::testing {

/// A logged-in (or anonymous) browser: its session cookie and the CSRF token of its last page.
struct Browser {
  std::string cookie;
  std::string csrf;
};

/// The CSRF token in a page's hidden input, "" when none.
std::string csrf_of(const std::string& page);
/// "name=value" of a Set-Cookie header.
std::string cookie_of(const HttpReply& reply);

/// What a ConsoleSite adds to the standard test site.
struct ConsoleSiteOptions {
  std::vector<std::string> console_args;  ///< added to labgate-console's command line
  std::string extra_config;               ///< appended to the daemon's test config
  /// labgated on the system clock rather than the manual one at 2026-11-24 10:00: for pages
  /// where the console's "now" (the system clock) and the daemon's must agree (bookings).
  bool system_clock{false};
};

/// labgated + labgate-console. Accounts (password = login + "-secret-pw"): desk "dina" (desk),
/// "sam" (staff), "tara" (trainer), "mona" (manager); "nopw" (staff, no password).
class ConsoleSite {
 public:
  /// Starts both; `console_args` are added to labgate-console's command line.
  explicit ConsoleSite(std::vector<std::string> console_args = {});
  /// Starts both with `options`.
  explicit ConsoleSite(ConsoleSiteOptions options);
  ~ConsoleSite();

  /// The password the fixture gave `login`.
  static std::string password_of(const std::string& login) { return login + "-secret-pw"; }

  /// GET /login, then POST it; the reply to the POST and the browser (logged in on a 303).
  HttpReply log_in(Browser& b, const std::string& login, const std::string& password,
                   const std::string& address_lang = {});
  /// A browser logged in as `login` with a CSRF token from the live page.
  Browser logged_in(const std::string& login);
  /// GET `target` as `b` (remembering the page's CSRF token).
  HttpReply get(Browser& b, const std::string& target, const std::string& lang = {});
  /// POST form `body` (the CSRF token is added when `with_csrf`).
  HttpReply post(Browser& b, const std::string& target, const std::string& body,
                 bool with_csrf = true);

  unsigned short port() const { return port_; }
  Daemon& daemon() { return daemon_; }
  /// labgate-console's process id (its threads are under /proc/<pid>/task).
  int console_pid() const;
  /// labgate-console's output so far.
  std::string console_log() const;
  /// The machine as the store has it.
  gateway::store::Machine machine(const std::string& id);

 private:
  TempDir dir_{"labgate-console"};
  Daemon daemon_;
  std::unique_ptr<Child> console_;
  unsigned short port_{0};
};

/// True when the audit log has a row by `actor` of `action` on `subject`.
bool audited(ConsoleSite& site, const std::string& actor, const std::string& action,
             const std::string& subject);
/// The actor labgated records for the console acting as `login`: "<login>@uid:<our uid>".
std::string me(const std::string& login);
/// True when `part` is in `text`.
inline bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Follows a background job's page (`job_path`) until the job no longer runs; returns the last
/// page. Throws when it still runs after two minutes.
std::string wait_job(ConsoleSite& site, Browser& b, const std::string& job_path);

/// Runs labgate-console with `args` to completion (for refusals at start).
RunResult run_console(const std::vector<std::string>& args);

}  // namespace labgate::testing
