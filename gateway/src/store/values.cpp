// Value helpers of the store: enum names, hex, calendar dates.
#include <date/date.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>

#include <array>
#include <cctype>

#include "labgate/gateway/store/records.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::store {

const char* to_string(MemberStatus status) {
  switch (status) {
    case MemberStatus::kPending:
      return "pending";
    case MemberStatus::kActive:
      return "active";
    case MemberStatus::kSuspended:
      return "suspended";
  }
  return "pending";
}

std::optional<MemberStatus> parse_member_status(std::string_view text) {
  if (text == "pending") return MemberStatus::kPending;
  if (text == "active") return MemberStatus::kActive;
  if (text == "suspended") return MemberStatus::kSuspended;
  return std::nullopt;
}

const char* to_string(Decision decision) {
  switch (decision) {
    case Decision::kGranted:
      return "granted";
    case Decision::kDenied:
      return "denied";
    case Decision::kInfo:
      return "info";
  }
  return "info";
}

std::optional<Decision> parse_decision(std::string_view text) {
  if (text == "granted") return Decision::kGranted;
  if (text == "denied") return Decision::kDenied;
  if (text == "info") return Decision::kInfo;
  return std::nullopt;
}

const char* to_string(SessionKind kind) {
  return kind == SessionKind::kMachine ? "machine" : "coworking";
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

Result<std::vector<std::uint8_t>> parse_hex(std::string_view hex) {
  std::vector<std::uint8_t> out;
  int high = -1;
  for (char c : hex) {
    if (c == ' ' || c == ':') {
      if (high >= 0) {
        return Error{ErrorKind::kInvalid, 0,
                     "bad hex identifier: separators must fall between whole bytes"};
      }
      continue;
    }
    const int v = hex_value(c);
    if (v < 0) {
      return Error{ErrorKind::kInvalid, 0,
                   std::string("bad hex identifier: '") + c + "' is not a hex digit"};
    }
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high * 16 + v));
      high = -1;
    }
  }
  if (high >= 0) return Error{ErrorKind::kInvalid, 0, "bad hex identifier: odd number of digits"};
  if (out.empty()) return Error{ErrorKind::kInvalid, 0, "bad hex identifier: empty"};
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  // OpenSSL's SHA-256 uses the CPU's SHA extensions where there are any; libsodium's is portable
  // C, several times slower, and issuing a large month hashes several hundred MB of statements.
  std::array<std::uint8_t, SHA256_DIGEST_LENGTH> digest{};
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != digest.size()) {
    // Only on memory exhaustion or a broken library; the portable one gives the same digest.
    crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(bytes.data()),
                       bytes.size());
  }
  return to_hex(digest);
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

Result<SiteKey> parse_site_key(std::string_view hex) {
  auto bytes = parse_hex(hex);
  if (!bytes || bytes->size() != SiteKey{}.size()) {
    return Error{ErrorKind::kInvalid, 0, "site key must be 64 hex digits (32 bytes)"};
  }
  SiteKey key{};
  std::copy(bytes->begin(), bytes->end(), key.begin());
  return key;
}

namespace {
std::optional<date::year_month_day> parse_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (std::isdigit(static_cast<unsigned char>(s[i])) == 0) return std::nullopt;
  }
  const auto num = [&](std::size_t pos, std::size_t len) {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  date::year_month_day ymd{date::year{num(0, 4)}, date::month{static_cast<unsigned>(num(5, 2))},
                           date::day{static_cast<unsigned>(num(8, 2))}};
  if (!ymd.ok()) return std::nullopt;
  return ymd;
}
}  // namespace

bool is_valid_date(std::string_view date) {
  return parse_date(date).has_value();
}

std::string add_days(std::string_view date_text, std::int64_t days) {
  auto ymd = parse_date(date_text);
  if (!ymd) return std::string(date_text);
  const date::sys_days d = date::sys_days{*ymd} + date::days{days};
  return date::format("%F", d);
}

}  // namespace labgate::gateway::store
