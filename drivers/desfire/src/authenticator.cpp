#include "labgate/drivers/desfire/authenticator.hpp"

#include <freefare.h>
#include <nfc/nfc.h>
#include <openssl/crypto.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "labgate/drivers/desfire/credential_file.hpp"

namespace labgate::drivers::desfire {
namespace {

struct TagFree {
  void operator()(MifareTag t) const { freefare_free_tag(t); }
};
using Tag = std::unique_ptr<std::remove_pointer_t<MifareTag>, TagFree>;
struct KeyFree {
  void operator()(MifareDESFireKey k) const { mifare_desfire_key_free(k); }
};
using Key = std::unique_ptr<std::remove_pointer_t<MifareDESFireKey>, KeyFree>;
struct CFree {
  void operator()(void* p) const { std::free(p); }
};

std::string card_error(MifareTag tag) {
  const char* e = freefare_strerror(tag);
  return e ? e : "no answer";
}

}  // namespace

bool is_random_uid(const std::vector<std::uint8_t>& uid) {
  return uid.size() == 4 && uid[0] == 0x08;
}

DesfireAuthenticator::DesfireAuthenticator(SiteKeys keys) : keys_(std::move(keys)) {}

DesfireAuthenticator::~DesfireAuthenticator() {
  for (auto& v : keys_.versions) {
    OPENSSL_cleanse(v.app_master.data(), v.app_master.size());
    OPENSSL_cleanse(v.read.data(), v.read.size());
    OPENSSL_cleanse(v.credential_mac.data(), v.credential_mac.size());
  }
}

void DesfireAuthenticator::authenticate(nfc_device* device, const nfc_target& target, Card& card) {
  CardProof proof;
  auto fail = [&](std::string why) {
    proof.authenticated = false;
    proof.failure = std::move(why);
    card.proof = std::move(proof);
  };
  // libfreefare selects the card itself (by its UID) when it connects.
  nfc_initiator_deselect_target(device);
  Tag tag(freefare_tag_new(device, target.nti.nai));
  if (!tag || freefare_get_tag_type(tag.get()) != DESFIRE)
    return fail("not a DESFire card libfreefare recognises");
  if (mifare_desfire_connect(tag.get()) < 0) return fail("connect: " + card_error(tag.get()));

  std::unique_ptr<std::remove_pointer_t<MifareDESFireAID>, CFree> aid(
      mifare_desfire_aid_new(keys_.application.aid));
  if (mifare_desfire_select_application(tag.get(), aid.get()) < 0)
    return fail("no labgate application (UID-only or foreign card): " + card_error(tag.get()));

  std::vector<std::uint8_t> diversify_from = card.identifier;
  const bool random = is_random_uid(card.identifier);
  if (random) {
    if (!keys_.application.random_uid) return fail("random-ID card, but the site issues none");
    std::array<std::uint8_t, 7> seed{};
    if (mifare_desfire_read_data_ex(tag.get(), kSeedFileNo, 0, seed.size(), seed.data(),
                                    MDCM_PLAIN) != static_cast<ssize_t>(seed.size()))
      return fail("random-ID card without its seed file: " + card_error(tag.get()));
    diversify_from.assign(seed.begin(), seed.end());
  }

  std::uint8_t version = 0;
  if (mifare_desfire_get_key_version(tag.get(), 1, &version) < 0)
    return fail("read key version: " + card_error(tag.get()));
  const KeyVersion* kv = keys_.find(version);
  if (!kv) return fail("card keys of unknown version " + std::to_string(version));

  AesKey read{};
  try {
    read = diversify_aes128(kv->read, diversification_input(diversify_from, keys_.application.aid,
                                                            keys_.application.system_id));
  } catch (const std::exception& e) {
    return fail(std::string("diversification: ") + e.what());
  }
  Key key(mifare_desfire_aes_key_new_with_version(read.data(), version));
  OPENSSL_cleanse(read.data(), read.size());
  if (!key) return fail("out of memory");
  // Three passes with random challenges from both sides: a recorded exchange does not replay.
  if (mifare_desfire_authenticate_aes(tag.get(), 1, key.get()) < 0)
    return fail("AES authentication with the read key failed (wrong key, clone, or removed): " +
                card_error(tag.get()));

  std::vector<std::uint8_t> uid = card.identifier;
  if (random) {
    char* hex = nullptr;
    if (mifare_desfire_get_card_uid(tag.get(), &hex) < 0 || hex == nullptr)
      return fail("GetCardUID: " + card_error(tag.get()));
    std::unique_ptr<char, CFree> owned(hex);
    auto real = from_hex(hex);
    if (!real || real->size() != 7) return fail("GetCardUID returned no 7-byte UID");
    uid = *real;
  }

  std::array<std::uint8_t, kCredentialFileSize> file{};
  const ssize_t got = mifare_desfire_read_data_ex(tag.get(), kCredentialFileNo, 0, file.size(),
                                                  file.data(), MDCM_MACED);
  if (got != static_cast<ssize_t>(file.size()))
    return fail("credential file read (MACed) failed: " + card_error(tag.get()));
  std::string why;
  auto record = parse_credential_file(file, why);
  if (!record) return fail("credential file: " + why);
  if (!credential_file_mac_ok(file, uid, kv->credential_mac))
    return fail("credential file MAC wrong (tampered, copied from another card, or another site)");
  if (record->key_version != version)
    return fail("credential file says key version " + std::to_string(record->key_version) +
                ", the card's read key is version " + std::to_string(version));
  proof.authenticated = true;
  proof.credential = record->credential;
  proof.key_version = version;
  card.identifier = std::move(uid);
  card.proof = std::move(proof);
  // No disconnect: the card stays selected for the reader's presence checks.
}

}  // namespace labgate::drivers::desfire
