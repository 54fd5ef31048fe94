// DESFire crypto primitives checked against published test vectors.
#include "labgate/drivers/desfire/crypto.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <stdexcept>
#include <string>

using namespace labgate::drivers::desfire;

namespace {

Bytes hex(const std::string& s) {
  Bytes out;
  std::string digits;
  std::copy_if(s.begin(), s.end(), std::back_inserter(digits), [](char c) { return c != ' '; });
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> arr(const std::string& s) {
  const Bytes b = hex(s);
  if (b.size() != N) throw std::invalid_argument("test vector of the wrong length: " + s);
  std::array<std::uint8_t, N> out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

template <std::size_t N>
Bytes vec(const std::array<std::uint8_t, N>& a) {
  return Bytes(a.begin(), a.end());
}

const AesKey kNistKey = arr<16>("2b7e1516 28aed2a6 abf71588 09cf4f3c");
const std::string kNistMessage =
    "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";

}  // namespace

TEST_CASE("AES-128 block cipher matches FIPS-197 appendix C.1", "[crypto]") {
  const AesKey key = arr<16>("000102030405060708090a0b0c0d0e0f");
  const AesBlock plain = arr<16>("00112233445566778899aabbccddeeff");
  const AesBlock cipher = aes128_ecb_encrypt(key, plain);
  CHECK(vec(cipher) == hex("69c4e0d86a7b0430d8cdb78070b4c55a"));
  CHECK(aes128_ecb_decrypt(key, cipher) == plain);
}

TEST_CASE("AES-128 CBC matches SP 800-38A F.2.1 and chains through the last block", "[crypto]") {
  const AesBlock iv = arr<16>("000102030405060708090a0b0c0d0e0f");
  const Bytes plain = hex(kNistMessage.substr(0, 65));
  const Bytes cipher = aes128_cbc_encrypt(kNistKey, iv, plain);
  CHECK(cipher == hex("7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2"));
  CHECK(aes128_cbc_decrypt(kNistKey, iv, cipher) == plain);
  // Encrypting the second block alone with the first ciphertext block as IV continues the chain.
  AesBlock next_iv{};
  std::copy(cipher.begin(), cipher.begin() + 16, next_iv.begin());
  CHECK(aes128_cbc_encrypt(kNistKey, next_iv, Bytes(plain.begin() + 16, plain.end())) ==
        Bytes(cipher.begin() + 16, cipher.end()));
  CHECK_THROWS_AS(aes128_cbc_encrypt(kNistKey, iv, Bytes(15)), std::invalid_argument);
  CHECK_THROWS_AS(aes128_cbc_decrypt(kNistKey, iv, Bytes(17)), std::invalid_argument);
  CHECK(aes128_cbc_encrypt(kNistKey, iv, Bytes{}).empty());
}

TEST_CASE("AES-128 CMAC matches the SP 800-38B examples", "[crypto]") {
  const Bytes msg = hex(kNistMessage);
  struct Example {
    std::size_t len;
    const char* tag;
  };
  const Example examples[] = {{0, "bb1d6929e95937287fa37d129b756746"},
                              {16, "070a16b46b4d4144f79bdd9dd04a287c"},
                              {40, "dfa66747de9ae63030ca32611497c827"},
                              {64, "51f0bebf7e3b9d92fc49741779363cfe"}};
  for (const auto& ex : examples) {
    INFO("message length " << ex.len);
    const Bytes m(msg.begin(), msg.begin() + static_cast<std::ptrdiff_t>(ex.len));
    CHECK(vec(aes128_cmac(kNistKey, m)) == hex(ex.tag));
    // With a zero chaining value the DESFire variant is the standard CMAC.
    CHECK(vec(desfire_cmac(kNistKey, AesBlock{}, m)) == hex(ex.tag));
  }
}

TEST_CASE("DESFire CMAC starts its CBC chain from the session IV", "[crypto]") {
  // For one complete block, chaining from IV equals the plain CMAC of (block XOR IV).
  const AesBlock iv = arr<16>("00112233445566778899aabbccddeeff");
  const Bytes block = hex(kNistMessage.substr(0, 32));
  Bytes xored = block;
  for (std::size_t i = 0; i < 16; ++i) xored[i] ^= iv[i];
  CHECK(desfire_cmac(kNistKey, iv, block) == aes128_cmac(kNistKey, xored));
  CHECK(desfire_cmac(kNistKey, iv, block) != aes128_cmac(kNistKey, block));
  const auto mac = desfire_truncate_mac(aes128_cmac(kNistKey, Bytes{}));
  CHECK(Bytes(mac.begin(), mac.end()) == hex("bb1d6929e9593728"));
}

TEST_CASE("two-key triple DES with equal halves is single DES", "[crypto]") {
  const TdesKey key = arr<16>("133457799BBCDFF1 133457799BBCDFF1");
  const Bytes plain = hex("0123456789ABCDEF");
  const Bytes cipher = tdes_cbc_encrypt(key, DesBlock{}, plain);
  CHECK(cipher == hex("85E813540F0AB405"));
  CHECK(tdes_cbc_decrypt(key, DesBlock{}, cipher) == plain);
  CHECK_THROWS_AS(tdes_cbc_encrypt(key, DesBlock{}, Bytes(7)), std::invalid_argument);
}

TEST_CASE("DESFire CRC32 is the IEEE CRC without the final inversion", "[crypto]") {
  const std::string check = "123456789";
  const Bytes data(check.begin(), check.end());
  CHECK(desfire_crc32(data) == 0x340BC6D9u);
  CHECK(desfire_crc32(Bytes{}) == 0xFFFFFFFFu);
}

TEST_CASE("random bytes are fresh on every call", "[crypto]") {
  std::set<Bytes> seen;
  for (int i = 0; i < 32; ++i) seen.insert(random_bytes(16));
  CHECK(seen.size() == 32);
  CHECK(random_bytes(0).empty());
}
