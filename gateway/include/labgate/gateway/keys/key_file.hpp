#pragma once
// The site's DESFire master keys in a file of their own: never in the site config, mode 0600,
// owned by the user that reads it (the daemon's), every key version with its dates.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/drivers/desfire/site_keys.hpp"
#include "labgate/gateway/policy/result.hpp"

namespace labgate::gateway::keys {

/// One key version as stored: the keys and their life.
struct StoredVersion {
  drivers::desfire::KeyVersion keys;
  std::string created;  ///< YYYY-MM-DD
  /// A retired version: its cards are accepted through this local day (YYYY-MM-DD, inclusive);
  /// nullopt for the current version, or for a retired one accepted without end.
  std::optional<std::string> accept_until;
};

/// The whole file: at least one version, numbers unique, the highest is current.
struct KeyFile {
  std::vector<StoredVersion> versions;
  /// Master of owned cards' PICC master keys (top-level `picc_master`); nullopt in a file
  /// written before labgate took ownership of cards (`keys rotate` adds one).
  std::optional<drivers::desfire::AesKey> picc_master;

  /// The highest-numbered version; the file is never empty once loaded or created.
  const StoredVersion& current() const;
  /// The version with this number, or nullptr.
  const StoredVersion* find(std::uint8_t number) const;
  /// The keys as the reader side needs them.
  drivers::desfire::SiteKeys site_keys(drivers::desfire::ApplicationSettings app) const;
};

/// Parses the file's text. Never throws; the error names the line or key at fault and never
/// quotes a key.
policy::Result<KeyFile, std::string> parse_key_file(std::string_view text);
/// The file's text (keys in hex) for save_key_file.
std::string render_key_file(const KeyFile& file);

/// Reads a key file after checking it: a regular file, no access for group or others, owned by
/// the effective user. The error says what is wrong and how to fix it.
policy::Result<KeyFile, std::string> load_key_file(const std::filesystem::path& path);
/// Writes the file atomically (a 0600 temporary beside it, fsync, rename). With `must_be_new`
/// an existing file is an error, so `keys init` never overwrites keys. Returns the error.
std::optional<std::string> save_key_file(const std::filesystem::path& path, const KeyFile& file,
                                         bool must_be_new);

/// A fresh version with random keys from the operating system's generator (OpenSSL RAND_bytes).
StoredVersion generate_version(std::uint8_t number, std::string created);
/// A fresh random PICC master key master (OpenSSL RAND_bytes).
drivers::desfire::AesKey generate_picc_master();

}  // namespace labgate::gateway::keys
