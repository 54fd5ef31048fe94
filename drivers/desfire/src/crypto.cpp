#include "labgate/drivers/desfire/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace labgate::drivers::desfire {
namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct MacFree {
  void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
};
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

[[noreturn]] void openssl_failed(const char* what) {
  throw std::runtime_error(std::string("OpenSSL: ") + what + " failed");
}

// One-shot EVP cipher run with padding off: DESFire pads by its own rules before we get here.
Bytes run_cipher(const EVP_CIPHER* cipher, const std::uint8_t* key, const std::uint8_t* iv,
                 ByteView data, bool encrypt) {
  const auto block = static_cast<std::size_t>(EVP_CIPHER_get_block_size(cipher));
  if (data.size() % block != 0) {
    throw std::invalid_argument("cipher input is not a whole number of blocks");
  }
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) openssl_failed("EVP_CIPHER_CTX_new");
  if (EVP_CipherInit_ex2(ctx.get(), cipher, key, iv, encrypt ? 1 : 0, nullptr) != 1) {
    openssl_failed("EVP_CipherInit_ex2");
  }
  EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
  Bytes out(data.size() + block);
  int len = 0;
  int total = 0;
  if (!data.empty() && EVP_CipherUpdate(ctx.get(), out.data(), &len, data.data(),
                                        static_cast<int>(data.size())) != 1) {
    openssl_failed("EVP_CipherUpdate");
  }
  total = len;
  if (EVP_CipherFinal_ex(ctx.get(), out.data() + total, &len) != 1) {
    openssl_failed("EVP_CipherFinal_ex");
  }
  total += len;
  out.resize(static_cast<std::size_t>(total));
  return out;
}

AesBlock to_block(const Bytes& b) {
  AesBlock out{};
  std::copy(b.begin(), b.begin() + kAesBlock, out.begin());
  return out;
}

// NIST SP 800-38B subkey doubling in GF(2^128).
AesBlock shift_left_xor(const AesBlock& in) {
  AesBlock out{};
  for (std::size_t i = 0; i < kAesBlock; ++i) {
    out[i] = static_cast<std::uint8_t>(in[i] << 1);
    if (i + 1 < kAesBlock) out[i] |= static_cast<std::uint8_t>(in[i + 1] >> 7);
  }
  if (in[0] & 0x80) out[kAesBlock - 1] ^= 0x87;
  return out;
}

}  // namespace

AesBlock aes128_ecb_encrypt(const AesKey& key, const AesBlock& block) {
  return to_block(run_cipher(EVP_aes_128_ecb(), key.data(), nullptr, block, true));
}

AesBlock aes128_ecb_decrypt(const AesKey& key, const AesBlock& block) {
  return to_block(run_cipher(EVP_aes_128_ecb(), key.data(), nullptr, block, false));
}

Bytes aes128_cbc_encrypt(const AesKey& key, const AesBlock& iv, ByteView data) {
  return run_cipher(EVP_aes_128_cbc(), key.data(), iv.data(), data, true);
}

Bytes aes128_cbc_decrypt(const AesKey& key, const AesBlock& iv, ByteView data) {
  return run_cipher(EVP_aes_128_cbc(), key.data(), iv.data(), data, false);
}

AesBlock aes128_cmac(const AesKey& key, ByteView message) {
  std::unique_ptr<EVP_MAC, MacFree> mac(EVP_MAC_fetch(nullptr, "CMAC", nullptr));
  if (!mac) openssl_failed("EVP_MAC_fetch(CMAC)");
  std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) openssl_failed("EVP_MAC_CTX_new");
  char cipher_name[] = "AES-128-CBC";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher_name, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) openssl_failed("EVP_MAC_init");
  if (!message.empty() && EVP_MAC_update(ctx.get(), message.data(), message.size()) != 1) {
    openssl_failed("EVP_MAC_update");
  }
  AesBlock out{};
  std::size_t len = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size()) {
    openssl_failed("EVP_MAC_final");
  }
  return out;
}

// EVP_MAC's CMAC always starts from a zero chaining value, so the IV-chained EV1 variant is the
// same SP 800-38B construction run over OpenSSL's AES-CBC with the session IV.
AesBlock desfire_cmac(const AesKey& key, const AesBlock& iv, ByteView message) {
  const AesBlock k1 = shift_left_xor(aes128_ecb_encrypt(key, AesBlock{}));
  const AesBlock k2 = shift_left_xor(k1);
  Bytes buf(message.begin(), message.end());
  const AesBlock* sub = &k1;
  if (buf.empty() || buf.size() % kAesBlock != 0) {
    buf.push_back(0x80);
    while (buf.size() % kAesBlock != 0) buf.push_back(0x00);
    sub = &k2;
  }
  for (std::size_t i = 0; i < kAesBlock; ++i) buf[buf.size() - kAesBlock + i] ^= (*sub)[i];
  const Bytes enc = aes128_cbc_encrypt(key, iv, buf);
  AesBlock out{};
  std::copy(enc.end() - static_cast<std::ptrdiff_t>(kAesBlock), enc.end(), out.begin());
  return out;
}

std::array<std::uint8_t, kDesfireMacLength> desfire_truncate_mac(const AesBlock& cmac) {
  std::array<std::uint8_t, kDesfireMacLength> out{};
  std::copy(cmac.begin(), cmac.begin() + kDesfireMacLength, out.begin());
  return out;
}

Bytes tdes_cbc_encrypt(const TdesKey& key, const DesBlock& iv, ByteView data) {
  return run_cipher(EVP_des_ede_cbc(), key.data(), iv.data(), data, true);
}

Bytes tdes_cbc_decrypt(const TdesKey& key, const DesBlock& iv, ByteView data) {
  return run_cipher(EVP_des_ede_cbc(), key.data(), iv.data(), data, false);
}

std::uint32_t desfire_crc32(ByteView data) {
  // zlib's CRC32 ends with an inversion that DESFire leaves out.
  uLong crc = crc32(0L, Z_NULL, 0);
  if (!data.empty()) crc = crc32(crc, data.data(), static_cast<uInt>(data.size()));
  return ~static_cast<std::uint32_t>(crc);
}

std::uint16_t iso14443a_crc(ByteView data) {
  std::uint16_t crc = 0x6363;
  for (std::uint8_t b : data) {
    b = static_cast<std::uint8_t>(b ^ (crc & 0xFF));
    b = static_cast<std::uint8_t>(b ^ (b << 4));
    crc = static_cast<std::uint16_t>((crc >> 8) ^ (b << 8) ^ (b << 3) ^ (b >> 4));
  }
  return crc;
}

void random_bytes(std::span<std::uint8_t> out) {
  if (out.empty()) return;
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) openssl_failed("RAND_bytes");
}

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  random_bytes(std::span<std::uint8_t>(out));
  return out;
}

}  // namespace labgate::drivers::desfire
