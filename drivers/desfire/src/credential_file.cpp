#include "labgate/drivers/desfire/credential_file.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <string_view>

namespace labgate::drivers::desfire {
namespace {

constexpr std::size_t kBody = 32;
// The label separates this MAC from every other use of the credential MAC key.
constexpr std::string_view kLabel = "labgate credential file v1";

AesBlock file_mac(ByteView body, ByteView uid, const AesKey& mac_key) {
  Bytes msg(kLabel.begin(), kLabel.end());
  msg.insert(msg.end(), body.begin(), body.end());
  msg.push_back(static_cast<std::uint8_t>(uid.size()));
  msg.insert(msg.end(), uid.begin(), uid.end());
  return aes128_cmac(mac_key, msg);
}

}  // namespace

Bytes encode_credential_file(const CredentialRecord& record, ByteView uid, const AesKey& mac_key) {
  Bytes out(kCredentialFileSize, 0);
  out[0] = 'L';
  out[1] = 'G';
  out[2] = 0x01;
  out[3] = record.key_version;
  for (int i = 0; i < 8; ++i)
    out[4 + static_cast<std::size_t>(i)] =
        static_cast<std::uint8_t>(record.credential >> (56 - 8 * i));
  const AesBlock mac = file_mac(ByteView(out).first(kBody), uid, mac_key);
  std::copy(mac.begin(), mac.end(), out.begin() + kBody);
  return out;
}

std::optional<CredentialRecord> parse_credential_file(ByteView data, std::string& why) {
  if (data.size() != kCredentialFileSize) {
    why = "credential file of " + std::to_string(data.size()) + " bytes, expected 48";
    return std::nullopt;
  }
  if (data[0] != 'L' || data[1] != 'G') {
    why = "not a labgate credential file";
    return std::nullopt;
  }
  if (data[2] != 0x01) {
    why = "credential file format " + std::to_string(data[2]) + " unknown";
    return std::nullopt;
  }
  if (!std::all_of(data.begin() + 12, data.begin() + kBody,
                   [](std::uint8_t b) { return b == 0; })) {
    why = "credential file reserved bytes set";
    return std::nullopt;
  }
  CredentialRecord r;
  r.key_version = data[3];
  for (std::size_t i = 0; i < 8; ++i) r.credential = (r.credential << 8) | data[4 + i];
  if (r.credential == 0) {
    why = "credential file names no credential";
    return std::nullopt;
  }
  return r;
}

bool credential_file_mac_ok(ByteView data, ByteView uid, const AesKey& mac_key) {
  if (data.size() != kCredentialFileSize) return false;
  const AesBlock mac = file_mac(data.first(kBody), uid, mac_key);
  return CRYPTO_memcmp(mac.data(), data.data() + kBody, mac.size()) == 0;
}

}  // namespace labgate::drivers::desfire
