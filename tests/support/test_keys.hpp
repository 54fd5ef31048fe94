#pragma once
// Keys for the configs the tests write. Every test process draws its own at random: a key
// printed in the repository is refused by labgated (it is on the published-key deny list), and
// no test should teach anyone to copy one.

#include <filesystem>
#include <string>

namespace labgate::testing {

/// This process's site key, 64 random hex digits, the same on every call.
const std::string& test_key();
/// This process's MQTT command key, 64 random hex digits, different from test_key().
const std::string& test_command_key();
/// 32 fresh random bytes as 64 hex digits (a new one on every call).
std::string random_key_hex();

/// Writes `text` to `path` (replacing it) with mode 0600, as a config holding keys must be.
/// Throws std::runtime_error when it cannot.
void write_private_file(const std::filesystem::path& path, const std::string& text);

}  // namespace labgate::testing
