#pragma once
// Server-side login sessions and the login failure limits. Thread-safe: every HTTP connection
// runs on its own thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "i18n.hpp"

namespace labgate::gateway::console {

/// One session: who (empty before login), its CSRF token, its language choice.
struct Session {
  std::string id;    ///< 256 random bits, hex
  std::string csrf;  ///< 256 random bits, hex; every form carries it
  std::string login;
  std::string role;
  std::optional<Lang> lang;  ///< chosen on the page (?lang= or the form); else account/browser
  std::chrono::steady_clock::time_point last_seen;
};

/// The sessions of this process (lost on restart: staff log in again).
class Sessions {
 public:
  /// Sessions held at most before anonymous ones (login forms) are dropped.
  static constexpr std::size_t kMaxSessions = 10000;
  /// Idle sessions expire after `idle`.
  explicit Sessions(std::chrono::seconds idle = std::chrono::hours(8)) : idle_(idle) {}
  /// The live session with this id, refreshed; nullopt when unknown or expired.
  std::optional<Session> find(const std::string& id);
  /// A new anonymous session (for the login form's CSRF token).
  Session create();
  /// Logs `id` in as `login`: the session gets a new id and token (no fixation); returns it.
  std::optional<Session> log_in(const std::string& id, const std::string& login,
                                const std::string& role, std::optional<Lang> lang);
  /// Sets the session's language.
  void set_lang(const std::string& id, Lang lang);
  /// Ends a session.
  void end(const std::string& id);

 private:
  void expire(std::chrono::steady_clock::time_point now);

  std::chrono::seconds idle_;
  std::mutex mu_;
  std::map<std::string, Session> sessions_;
};

/// Login failures per key (an account, an address): `max_failures` within `window` lock the key
/// for `lockout`.
class FailureLimit {
 public:
  /// Keys remembered at most before those not locked now are forgotten.
  static constexpr std::size_t kMaxKeys = 10000;
  FailureLimit(int max_failures, std::chrono::seconds lockout)
      : max_(max_failures), lockout_(lockout) {}
  /// True while `key` is locked.
  bool locked(const std::string& key);
  /// Counts a failure for `key`.
  void fail(const std::string& key);
  /// Clears `key` after a success.
  void clear(const std::string& key);

 private:
  struct Count {
    int failures{0};
    std::chrono::steady_clock::time_point until{};
  };
  int max_;
  std::chrono::seconds lockout_;
  std::mutex mu_;
  std::map<std::string, Count> counts_;
};

/// 32 random bytes from libsodium, as 64 hex digits.
std::string random_token();
/// Constant-time comparison of two tokens.
bool same_token(const std::string& a, const std::string& b);

}  // namespace labgate::gateway::console
