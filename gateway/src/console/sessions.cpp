#include "sessions.hpp"

#include <sodium.h>

#include <array>

namespace labgate::gateway::console {

using Clock = std::chrono::steady_clock;

std::string random_token() {
  std::array<unsigned char, 32> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  std::array<char, 65> hex{};
  sodium_bin2hex(hex.data(), hex.size(), bytes.data(), bytes.size());
  return std::string(hex.data());
}

bool same_token(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void Sessions::expire(Clock::time_point now) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = now - it->second.last_seen > idle_ ? sessions_.erase(it) : std::next(it);
  }
}

std::optional<Session> Sessions::find(const std::string& id) {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  expire(now);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  it->second.last_seen = now;
  return it->second;
}

Session Sessions::create() {
  Session s{random_token(), random_token(), {}, {}, std::nullopt, Clock::now()};
  std::lock_guard lock(mu_);
  // A flood of login forms is bounded by dropping the anonymous sessions, never a logged-in one:
  // at worst a pending login form must be loaded again.
  if (sessions_.size() >= kMaxSessions) {
    std::erase_if(sessions_, [](const auto& entry) { return entry.second.login.empty(); });
  }
  sessions_[s.id] = s;
  return s;
}

std::optional<Session> Sessions::log_in(const std::string& id, const std::string& login,
                                        const std::string& role, std::optional<Lang> lang) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  // A language chosen on the login page wins over the account's own.
  std::optional<Lang> chosen = lang;
  if (it != sessions_.end()) {
    if (it->second.lang) chosen = it->second.lang;
    sessions_.erase(it);
  }
  Session s{random_token(), random_token(), login, role, chosen, Clock::now()};
  sessions_[s.id] = s;
  return s;
}

void Sessions::set_lang(const std::string& id, Lang lang) {
  std::lock_guard lock(mu_);
  if (auto it = sessions_.find(id); it != sessions_.end()) it->second.lang = lang;
}

void Sessions::end(const std::string& id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

bool FailureLimit::locked(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = counts_.find(key);
  return it != counts_.end() && it->second.failures >= max_ && Clock::now() < it->second.until;
}

void FailureLimit::fail(const std::string& key) {
  std::lock_guard lock(mu_);
  if (counts_.size() >= kMaxKeys) {
    // Random logins must not grow the table without end: keep only the keys locked now.
    const auto now = Clock::now();
    std::erase_if(counts_, [&](const auto& entry) {
      return entry.second.failures < max_ || entry.second.until <= now;
    });
  }
  auto& c = counts_[key];
  if (c.failures >= max_ && Clock::now() >= c.until) c.failures = 0;  // the lock ran out
  if (++c.failures >= max_) c.until = Clock::now() + lockout_;
}

void FailureLimit::clear(const std::string& key) {
  std::lock_guard lock(mu_);
  counts_.erase(key);
}

}  // namespace labgate::gateway::console
