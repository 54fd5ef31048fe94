// The credential file: encode/parse round trip, and every way a file from the card can be wrong.
#include <catch2/catch.hpp>

#include "labgate/drivers/desfire/credential_file.hpp"

using namespace labgate::drivers::desfire;

namespace {
const AesKey kMac{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
const Bytes kUid{0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66};
}  // namespace

TEST_CASE("a credential file round-trips and its MAC binds the UID", "[credfile]") {
  const Bytes f = encode_credential_file({0x0102030405060708ULL, 3}, kUid, kMac);
  REQUIRE(f.size() == kCredentialFileSize);
  std::string why;
  auto r = parse_credential_file(f, why);
  REQUIRE(r);
  CHECK(r->credential == 0x0102030405060708ULL);
  CHECK(r->key_version == 3);
  CHECK(credential_file_mac_ok(f, kUid, kMac));

  Bytes other_uid = kUid;
  other_uid[6] ^= 1;
  CHECK_FALSE(credential_file_mac_ok(f, other_uid, kMac));
  AesKey other_key = kMac;
  other_key[0] ^= 1;
  CHECK_FALSE(credential_file_mac_ok(f, kUid, other_key));
}

TEST_CASE("any flipped bit of a credential file fails its MAC", "[credfile]") {
  const Bytes f = encode_credential_file({42, 1}, kUid, kMac);
  for (std::size_t i = 0; i < f.size(); ++i) {
    Bytes t = f;
    t[i] ^= 0x01;
    INFO("byte " << i);
    CHECK_FALSE(credential_file_mac_ok(t, kUid, kMac));
  }
}

TEST_CASE("malformed credential files are refused with a reason", "[credfile]") {
  const Bytes good = encode_credential_file({42, 1}, kUid, kMac);
  std::string why;
  CHECK_FALSE(parse_credential_file(Bytes{}, why));
  CHECK(why.find("0 bytes") != std::string::npos);
  CHECK_FALSE(parse_credential_file(ByteView(good).first(47), why));
  Bytes t = good;
  t[0] = 'X';
  CHECK_FALSE(parse_credential_file(t, why));
  CHECK(why == "not a labgate credential file");
  t = good;
  t[2] = 2;
  CHECK_FALSE(parse_credential_file(t, why));
  t = good;
  t[20] = 1;
  CHECK_FALSE(parse_credential_file(t, why));
  const Bytes zero = encode_credential_file({0, 1}, kUid, kMac);
  CHECK_FALSE(parse_credential_file(zero, why));
  CHECK_FALSE(credential_file_mac_ok(Bytes(10, 0), kUid, kMac));
}
