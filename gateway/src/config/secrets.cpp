// The keys of a real site must be its own: refused when printed in the repository, and kept in
// a file other users cannot read.
#include <sodium.h>
#include <sys/stat.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>

#include "labgate/gateway/config/site_config.hpp"

namespace labgate::gateway::config {
namespace {

constexpr const char* kFreshKeyHint =
    "generate a fresh one with `labgatectl init` or `head -c32 /dev/urandom | od -An -tx1 | tr -d "
    "' \\n'`";

std::string lower_hex(const Key32& key) {
  std::string hex(key.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), key.data(), key.size());
  hex.pop_back();
  return hex;
}

std::string sha256_hex(std::string_view text) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(text.data()),
                     text.size());
  std::string hex(digest.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  hex.pop_back();
  return hex;
}

// Single-quoted for a POSIX shell when the path has anything a shell would split or expand.
std::string shell_word(const std::string& s) {
  const bool plain = std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
           c == '.' || c == '_' || c == '-' || c == '+' || c == ',' || c == ':';
  });
  if (plain && !s.empty()) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

bool is_published_key(const Key32& key) {
  const auto& digests = published_key_digests();
  return std::binary_search(digests.begin(), digests.end(), sha256_hex(lower_hex(key)));
}

bool is_demo_key(const Key32& key) {
  static const std::optional<Key32> demo = [] {
    auto loaded = load_config_string(embedded_demo_config(), "built-in demo site");
    return loaded.has_value() ? std::optional<Key32>(loaded.value().site.key) : std::nullopt;
  }();
  return demo && *demo == key;
}

std::vector<ConfigError> published_key_errors(const SiteConfig& cfg) {
  std::vector<ConfigError> errors;
  if (is_published_key(cfg.site.key)) {
    errors.push_back({cfg.source, 0, 0,
                      "site.key is published in the labgate repository (anyone could compute "
                      "this site's card hashes): " +
                          std::string(kFreshKeyHint)});
  }
  if (cfg.mqtt.command_key && is_published_key(*cfg.mqtt.command_key)) {
    errors.push_back({cfg.source, 0, 0,
                      "mqtt.command_key is published in the labgate repository (anyone could "
                      "sign remote commands): " +
                          std::string(kFreshKeyHint)});
  }
  return errors;
}

std::optional<ConfigError> key_file_mode_error(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  const unsigned others = st.st_mode & 07;
  if (others == 0) return std::nullopt;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  const std::string what = (others & 02) != 0 ? "read and written" : "read";
  return ConfigError{path.string(), 0, 0,
                     "holds the site's keys but can be " + what + " by every user (mode " + mode +
                         "): run `chmod 640 " + shell_word(path.string()) + "`"};
}

LoadResult load_site_file(const std::filesystem::path& path) {
  auto loaded = load_config_file(path);
  if (!loaded.has_value()) return loaded;
  std::vector<ConfigError> errors;
  if (auto e = key_file_mode_error(path)) errors.push_back(std::move(*e));
  auto published = published_key_errors(loaded.value());
  if (!published.empty()) {
    // Point at the key's line, as every other config error does. The file parsed a moment ago.
    try {
      const toml::table root = toml::parse_file(path.string());
      for (auto& e : published) {
        const bool site_key = e.message.rfind("site.key", 0) == 0;
        const toml::node* n =
            site_key ? root["site"]["key"].node() : root["mqtt"]["command_key"].node();
        if (n != nullptr) {
          e.line = static_cast<int>(n->source().begin.line);
          e.column = static_cast<int>(n->source().begin.column);
        }
      }
    } catch (const std::exception&) {
    }
  }
  for (auto& e : published) errors.push_back(std::move(e));
  if (!errors.empty()) return errors;
  return loaded;
}

}  // namespace labgate::gateway::config
