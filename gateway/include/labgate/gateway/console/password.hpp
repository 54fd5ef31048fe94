#pragma once
// Staff console passwords: argon2id through libsodium's crypto_pwhash_str, which writes the
// algorithm, its cost and a random salt into the string it returns.
//
// Cost: OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE (64 MiB, about 0.1 s here). The console runs
// on the gateway box next to labgated; MODERATE would take 256 MiB and most of a second per try,
// which on a small board competes with the daemon for memory. Online guessing is held back by
// the console's per-account and per-address login limits instead.

#include <optional>
#include <string>
#include <string_view>

namespace labgate::gateway::console {

/// Shortest and longest password accepted (bytes).
inline constexpr std::size_t kMinPasswordBytes = 8;
inline constexpr std::size_t kMaxPasswordBytes = 1024;

/// Why `password` is not acceptable (too short, too long, control characters); nullopt when fine.
std::optional<std::string> password_problem(std::string_view password);
/// The argon2id string of `password`; nullopt when libsodium fails (out of memory).
std::optional<std::string> hash_password(std::string_view password);
/// True when `password` matches `hash` (an argon2id string from hash_password()).
bool verify_password(const std::string& hash, std::string_view password);

}  // namespace labgate::gateway::console
