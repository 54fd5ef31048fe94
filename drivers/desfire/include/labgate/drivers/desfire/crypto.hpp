#pragma once
// Cryptographic primitives of MIFARE DESFire EV1 secure messaging, all computed by OpenSSL 3.
// Wrong lengths are programming errors and throw std::invalid_argument; an OpenSSL failure throws
// std::runtime_error. Key material passed in is never logged.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace labgate::drivers::desfire {

/// Byte string used by every DESFire helper.
using Bytes = std::vector<std::uint8_t>;
/// Read-only view on bytes.
using ByteView = std::span<const std::uint8_t>;
/// An AES-128 key.
using AesKey = std::array<std::uint8_t, 16>;
/// One AES block (also the IV of AES CBC and of the DESFire CMAC chain).
using AesBlock = std::array<std::uint8_t, 16>;
/// A two-key triple-DES key K1||K2 (K1 == K2 is single DES, as DESFire's default key).
using TdesKey = std::array<std::uint8_t, 16>;
/// One DES block (IV of 3DES CBC).
using DesBlock = std::array<std::uint8_t, 8>;

/// AES-128 block size in bytes.
inline constexpr std::size_t kAesBlock = 16;
/// Length of the truncated CMAC DESFire EV1 appends to messages.
inline constexpr std::size_t kDesfireMacLength = 8;

/// Encrypts one block with AES-128 in ECB mode.
AesBlock aes128_ecb_encrypt(const AesKey& key, const AesBlock& block);
/// Decrypts one block with AES-128 in ECB mode.
AesBlock aes128_ecb_decrypt(const AesKey& key, const AesBlock& block);

/// AES-128 CBC encryption with an explicit IV and no padding: data.size() must be a multiple of 16
/// (the caller pads as its protocol says). The next IV of a chain is the last ciphertext block.
Bytes aes128_cbc_encrypt(const AesKey& key, const AesBlock& iv, ByteView data);
/// AES-128 CBC decryption with an explicit IV and no padding (data.size() a multiple of 16).
Bytes aes128_cbc_decrypt(const AesKey& key, const AesBlock& iv, ByteView data);

/// Standard AES-128 CMAC (NIST SP 800-38B, RFC 4493) through OpenSSL's EVP_MAC "CMAC".
AesBlock aes128_cmac(const AesKey& key, ByteView message);

/// DESFire EV1 CMAC: the CMAC construction started from a chaining value `iv` instead of zero
/// (with iv all zero it equals aes128_cmac). EV1 secure messaging keeps one IV per session and
/// replaces it with the full 16-byte result after every MACed command and response; the 8 bytes
/// sent on the wire are the first half (desfire_truncate_mac).
AesBlock desfire_cmac(const AesKey& key, const AesBlock& iv, ByteView message);

/// The 8 bytes of a DESFire EV1 CMAC that travel on the wire (its first half).
std::array<std::uint8_t, kDesfireMacLength> desfire_truncate_mac(const AesBlock& cmac);

/// Two-key triple-DES (EDE) CBC encryption, no padding: data.size() a multiple of 8.
Bytes tdes_cbc_encrypt(const TdesKey& key, const DesBlock& iv, ByteView data);
/// Two-key triple-DES (EDE) CBC decryption, no padding: data.size() a multiple of 8.
Bytes tdes_cbc_decrypt(const TdesKey& key, const DesBlock& iv, ByteView data);

/// DESFire's CRC32 (IEEE 802.3 polynomial, initial value all ones, no final inversion), written
/// little-endian after the data it protects in enciphered frames and in ChangeKey.
std::uint32_t desfire_crc32(ByteView data);

/// ISO/IEC 14443-3 CRC_A (initial value 0x6363), the 16-bit CRC legacy (DES) DESFire secure
/// messaging puts after enciphered data, little-endian.
std::uint16_t iso14443a_crc(ByteView data);

/// Fills `out` from OpenSSL's CSPRNG; throws std::runtime_error if it cannot.
void random_bytes(std::span<std::uint8_t> out);
/// Convenience: `n` fresh random bytes.
Bytes random_bytes(std::size_t n);

}  // namespace labgate::drivers::desfire
