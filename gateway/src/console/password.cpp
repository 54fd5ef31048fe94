// See password.hpp for the choice of cost.
#include "labgate/gateway/console/password.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>

namespace labgate::gateway::console {

std::optional<std::string> password_problem(std::string_view password) {
  if (password.size() < kMinPasswordBytes) {
    return "the password must be at least " + std::to_string(kMinPasswordBytes) + " bytes";
  }
  if (password.size() > kMaxPasswordBytes) {
    return "the password must be at most " + std::to_string(kMaxPasswordBytes) + " bytes";
  }
  const bool control = std::any_of(password.begin(), password.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (control) return "the password must not contain control characters";
  return std::nullopt;
}

std::optional<std::string> hash_password(std::string_view password) {
  if (sodium_init() < 0) return std::nullopt;
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str(out.data(), password.data(), password.size(),
                        crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return std::nullopt;
  }
  return std::string(out.data());
}

bool verify_password(const std::string& hash, std::string_view password) {
  if (sodium_init() < 0) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

}  // namespace labgate::gateway::console
