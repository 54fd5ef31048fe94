#pragma once
// The labgate credential file on a DESFire card (standard data file 1 of the labgate
// application, read with MACed communication): which credential the card carries, under which
// key version, bound to the card's real UID by a CMAC under the site's credential MAC key.
//
// Layout, 48 bytes:
//   0..1   "LG"          magic
//   2      0x01          format
//   3      key version   the site key version the card's keys were diversified from
//   4..11  credential    the store's credential id, big-endian, never 0
//   12..31 zero          reserved
//   32..47 MAC           AES-CMAC(credential MAC key, label || bytes 0..31 || uid length || uid)
// The UID is not stored: the MAC binds the file to the card, so a file copied onto another card
// (or a card given another UID) fails the check.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "labgate/drivers/desfire/crypto.hpp"

namespace labgate::drivers::desfire {

/// Size of the credential file.
inline constexpr std::size_t kCredentialFileSize = 48;
/// File number of the credential file in the labgate application.
inline constexpr std::uint8_t kCredentialFileNo = 1;

/// What a credential file says.
struct CredentialRecord {
  std::uint64_t credential{0};  ///< store credential id
  std::uint8_t key_version{0};  ///< site key version of the card's keys
};

/// The 48 bytes of a credential file for `record` on the card with this real UID.
Bytes encode_credential_file(const CredentialRecord& record, ByteView uid, const AesKey& mac_key);

/// Parses the layout only (magic, format, reserved bytes, non-zero id); says why not in `why`.
/// Safe on any input: this is what the card sent.
std::optional<CredentialRecord> parse_credential_file(ByteView data, std::string& why);

/// True when the file's MAC is right for this UID under `mac_key` (constant-time comparison).
bool credential_file_mac_ok(ByteView data, ByteView uid, const AesKey& mac_key);

}  // namespace labgate::drivers::desfire
