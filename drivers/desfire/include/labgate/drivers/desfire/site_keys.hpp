#pragma once
// The site's DESFire master keys as the reader side uses them: value types only, so the gateway
// can hand them to a reader without the drivers knowing where they were stored.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/drivers/desfire/diversify.hpp"

namespace labgate::drivers::desfire {

/// One version of the site master keys. Each card key is diversified from these per card.
struct KeyVersion {
  std::uint8_t number{1};   ///< 1..255; written on the card as the AES key version
  AesKey app_master{};      ///< master of the application master key (key 0)
  AesKey read{};            ///< master of the read key (key 1) every door tap uses
  AesKey credential_mac{};  ///< CMAC key of the credential file (not diversified: never on a card)
};

/// Where the labgate application sits and what goes into diversification.
struct ApplicationSettings {
  std::uint32_t aid{0x4C4701};          ///< 24-bit application id
  std::vector<std::uint8_t> system_id;  ///< AN10922 system identifier (site-specific)
  /// Cards issued with the random-ID option: the anticollision UID is random, the real one is
  /// read with GetCardUID after authentication.
  bool random_uid{false};
};

/// Every key version the reader may meet; the highest number is the one new cards get.
struct SiteKeys {
  std::vector<KeyVersion> versions;
  ApplicationSettings application;
  /// Master of the PICC master key of cards the site owns (`credentials issue
  /// --take-ownership`), diversified per card; nullopt for a key file written before it existed.
  /// Not versioned: an owned card keeps its PICC key across key rotations.
  std::optional<AesKey> picc_master;

  /// The version with this number, or nullptr.
  const KeyVersion* find(std::uint8_t number) const;
  /// The highest version, or nullptr when there is none.
  const KeyVersion* current() const;
};

/// A short public fingerprint of a key (16 hex characters of SHA-256 over a label and the key),
/// for `keys show` and logs: tells versions apart, reveals nothing usable.
std::string fingerprint(const AesKey& key);

}  // namespace labgate::drivers::desfire
