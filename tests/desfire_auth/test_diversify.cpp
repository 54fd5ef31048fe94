// AN10922 AES-128 diversification: the app note's own example (§2.2.1), and the cases where its
// fixed two-block padding agrees or disagrees with a plain AES-CMAC computed by OpenSSL.
#include <catch2/catch.hpp>

#include "labgate/drivers/desfire/diversify.hpp"
#include "labgate/drivers/devices.hpp"

using labgate::drivers::from_hex;
using labgate::drivers::to_hex;
using namespace labgate::drivers::desfire;

namespace {

AesKey key_from_hex(const std::string& hex) {
  auto bytes = from_hex(hex);
  REQUIRE(bytes);
  REQUIRE(bytes->size() == 16);
  AesKey k{};
  std::copy(bytes->begin(), bytes->end(), k.begin());
  return k;
}

std::string hex(const AesKey& k) {
  return to_hex(std::vector<std::uint8_t>(k.begin(), k.end()));
}

// Standard AES-CMAC (SP 800-38B), OpenSSL's EVP_MAC through the shared crypto library, as the
// independent reference.
std::string plain_cmac(const AesKey& key, const std::vector<std::uint8_t>& msg) {
  return hex(aes128_cmac(key, msg));
}

std::vector<std::uint8_t> with_constant(const std::vector<std::uint8_t>& m) {
  std::vector<std::uint8_t> d(m.size() + 1, 0x01);
  std::copy(m.begin(), m.end(), d.begin() + 1);
  return d;
}

}  // namespace

TEST_CASE("AN10922 section 2.2.1 AES-128 example", "[diversify]") {
  const auto master = key_from_hex("00112233445566778899AABBCCDDEEFF");
  // UID 04782E21801D80, AID 3042F5, system identifier "NXP Abu".
  const auto m = from_hex("04782E21801D803042F54E585020416275");
  REQUIRE(m);
  CHECK(hex(diversify_aes128(master, *m)) == "a8dd63a3b89d54b37ca802473fda9175");
}

TEST_CASE("diversification_input lays out UID, AID (LSB first) and system id", "[diversify]") {
  const auto uid = *from_hex("04782E21801D80");
  const auto sys = *from_hex("4E585020416275");
  const auto m = diversification_input(uid, 0xF54230, sys);
  CHECK(to_hex(m) == "04782e21801d803042f54e585020416275");
  const auto master = key_from_hex("00112233445566778899AABBCCDDEEFF");
  CHECK(hex(diversify_aes128(master, m)) == "a8dd63a3b89d54b37ca802473fda9175");

  const std::vector<std::uint8_t> long_sys(40, 0x41);
  CHECK(diversification_input(uid, 1, long_sys).size() == 31);
  CHECK_THROWS_AS(diversification_input({}, 1, sys), DiversifyError);
}

TEST_CASE("AN10922 agrees with plain CMAC from 16 to 31 bytes of input", "[diversify]") {
  const auto master = key_from_hex("2b7e151628aed2a6abf7158809cf4f3c");
  for (std::size_t n : {16u, 20u, 30u, 31u}) {
    std::vector<std::uint8_t> m(n);
    for (std::size_t i = 0; i < n; ++i) m[i] = static_cast<std::uint8_t>(0x11 * i + n);
    INFO("M of " << n << " bytes");
    // 0x01 || M fills 17..32 bytes: CMAC pads (K2) or not (K1, at 32) just as AN10922 does.
    CHECK(hex(diversify_aes128(master, m)) == plain_cmac(master, with_constant(m)));
  }
}

TEST_CASE("AN10922 pads short inputs to two blocks, unlike plain CMAC", "[diversify]") {
  const auto master = key_from_hex("2b7e151628aed2a6abf7158809cf4f3c");
  for (std::size_t n : {1u, 7u, 14u, 15u}) {
    std::vector<std::uint8_t> m(n, 0x5a);
    INFO("M of " << n << " bytes");
    const auto ours = hex(diversify_aes128(master, m));
    // A plain CMAC would pad 0x01 || M to one block (or not pad 16 bytes at all).
    CHECK(ours != plain_cmac(master, with_constant(m)));
    std::vector<std::uint8_t> longer(n + 1, 0x5a);
    CHECK(ours != hex(diversify_aes128(master, longer)));
  }
}

TEST_CASE("diversified keys differ per card and per master key", "[diversify]") {
  const auto a = key_from_hex("00112233445566778899AABBCCDDEEFF");
  const auto b = key_from_hex("00112233445566778899AABBCCDDEEFE");
  const auto m1 = *from_hex("04782E21801D803042F54E585020416275");
  auto m2 = m1;
  m2[6] ^= 0x01;
  CHECK(diversify_aes128(a, m1) != diversify_aes128(a, m2));
  CHECK(diversify_aes128(a, m1) != diversify_aes128(b, m1));
}

TEST_CASE("diversification refuses inputs outside 1..31 bytes", "[diversify]") {
  const auto master = key_from_hex("00112233445566778899AABBCCDDEEFF");
  CHECK_THROWS_AS(diversify_aes128(master, std::vector<std::uint8_t>{}), DiversifyError);
  CHECK_THROWS_AS(diversify_aes128(master, std::vector<std::uint8_t>(32, 1)), DiversifyError);
  CHECK_NOTHROW(diversify_aes128(master, std::vector<std::uint8_t>(31, 1)));
}
