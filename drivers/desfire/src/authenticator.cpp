#include "labgate/drivers/desfire/authenticator.hpp"

#include <openssl/crypto.h>

#include <string>

#include "exchange.hpp"
#include "labgate/drivers/desfire/credential_file.hpp"

// The exchange is spoken directly in DESFire native commands over nfc_initiator_transceive_bytes,
// not through libfreefare: libfreefare 0.4.0 aborts the process on a short CMAC answer and copies
// past the caller's buffer on a long ReadData answer, and the card is whoever holds it to the
// reader. Every length below is checked before it is used.

namespace labgate::drivers::desfire {
namespace {

using detail::Exchange;
using detail::Failure;
using detail::kOk;
using detail::le24;

}  // namespace

bool is_random_uid(const std::vector<std::uint8_t>& uid) {
  return uid.size() == 4 && uid[0] == 0x08;
}

DesfireAuthenticator::DesfireAuthenticator(SiteKeys keys) : keys_(std::move(keys)) {
  // A door never needs the card-level key of owned cards: it stays at the desk.
  if (keys_.picc_master) OPENSSL_cleanse(keys_.picc_master->data(), keys_.picc_master->size());
  keys_.picc_master.reset();
}

DesfireAuthenticator::~DesfireAuthenticator() {
  for (auto& v : keys_.versions) {
    OPENSSL_cleanse(v.app_master.data(), v.app_master.size());
    OPENSSL_cleanse(v.read.data(), v.read.size());
    OPENSSL_cleanse(v.credential_mac.data(), v.credential_mac.size());
  }
}

void DesfireAuthenticator::authenticate(nfc_device* device, const nfc_target& /*target*/,
                                        Card& card) {
  CardProof proof;
  AesKey read{};
  try {
    Exchange x(device);
    const std::uint32_t aid = keys_.application.aid;
    const Bytes select = detail::select_application(aid);
    {
      Bytes data;
      const std::uint8_t st = x.raw(select, data);
      if (st != kOk)
        throw Failure{"no labgate application (UID-only or foreign card): status " +
                      Exchange::hex_byte(st)};
    }
    std::vector<std::uint8_t> diversify_from = card.identifier;
    const bool random = is_random_uid(card.identifier);
    if (random) {
      if (!keys_.application.random_uid) throw Failure{"random-ID card, but the site issues none"};
      // ReadData file 2, offset 0, length 7, in plain (free read).
      const Bytes seed =
          x.plain({0xBD, kSeedFileNo, 0, 0, 0, 7, 0, 0}, "random-ID card's seed file");
      if (seed.size() != 7) throw Failure{"seed file of wrong length"};
      diversify_from = seed;
    }
    const Bytes kv_answer = x.plain({0x64, 0x01}, "read key version");
    if (kv_answer.size() != 1) throw Failure{"key version answer of wrong length"};
    const std::uint8_t version = kv_answer[0];
    const KeyVersion* kv = keys_.find(version);
    if (!kv) throw Failure{"card keys of unknown version " + std::to_string(version)};
    read = diversify_aes128(
        kv->read, diversification_input(diversify_from, aid, keys_.application.system_id));
    x.authenticate(0x01, read);
    OPENSSL_cleanse(read.data(), read.size());

    std::vector<std::uint8_t> uid = card.identifier;
    if (random) uid = x.enciphered({0x51}, 7, "GetCardUID");
    const Bytes file = x.maced(
        {0xBD, kCredentialFileNo, 0, 0, 0, static_cast<std::uint8_t>(kCredentialFileSize), 0, 0},
        "credential file read");
    std::string why;
    auto record = parse_credential_file(file, why);
    if (!record) throw Failure{"credential file: " + why};
    if (!credential_file_mac_ok(file, uid, kv->credential_mac))
      throw Failure{
          "credential file MAC wrong (tampered, copied from another card, or another site)"};
    if (record->key_version != version)
      throw Failure{"credential file says key version " + std::to_string(record->key_version) +
                    ", the card's read key is version " + std::to_string(version)};
    proof.authenticated = true;
    proof.credential = record->credential;
    proof.key_version = version;
    card.identifier = std::move(uid);
  } catch (const Failure& f) {
    proof = CardProof{false, 0, 0, f.why};
  } catch (const std::exception& e) {
    proof = CardProof{false, 0, 0, std::string("authentication error: ") + e.what()};
  }
  OPENSSL_cleanse(read.data(), read.size());
  card.proof = std::move(proof);
}

}  // namespace labgate::drivers::desfire
