#pragma once
// Per-card AES-128 keys diversified from a site master key, as NXP AN10922 §2.2 specifies.

#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "labgate/drivers/desfire/crypto.hpp"

namespace labgate::drivers::desfire {

/// Thrown for a diversification input outside AN10922's 1..31 bytes, or a crypto library failure.
class DiversifyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// AN10922 AES-128 diversification: AES-CMAC under `master` over 0x01 || M, where 0x01 || M is
/// always padded to two blocks (0x80 00..) when shorter than 32 bytes and then takes subkey K2,
/// else K1. This differs from a plain CMAC of 0x01 || M whenever M is 15 bytes or shorter.
/// `m` (UID || AID || system identifier) holds 1 to 31 bytes.
AesKey diversify_aes128(const AesKey& master, std::span<const std::uint8_t> m);

/// The diversification input labgate uses: UID || AID (3 bytes, least significant first, as the
/// card stores it) || system identifier, cut to AN10922's 31-byte maximum from the system
/// identifier's end. Throws DiversifyError on an empty UID.
std::vector<std::uint8_t> diversification_input(std::span<const std::uint8_t> uid,
                                                std::uint32_t aid,
                                                std::span<const std::uint8_t> system_id);

}  // namespace labgate::drivers::desfire
