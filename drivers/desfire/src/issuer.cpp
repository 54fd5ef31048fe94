#include "labgate/drivers/desfire/issuer.hpp"

#include "exchange.hpp"
#include "labgate/drivers/desfire/authenticator.hpp"
#include "labgate/drivers/desfire/credential_file.hpp"

namespace labgate::drivers::desfire {
namespace {

using detail::Exchange;
using detail::Failure;
using detail::le24;

constexpr std::uint8_t kAppSettings = 0x0B;  // master key changeable, free listing, config
                                             // changeable; keys changed only with key 0
constexpr std::uint8_t kAesTwoKeys = 0x82;

void put_le32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// ChangeKey plaintext of EV1 AES: key (XOR the old one for another key than the session's),
// version, CRC32 over command || key number || those, CRC32 of the new key for another key,
// zero padding to two blocks.
Bytes change_key_plain(std::uint8_t key_no, const AesKey& key, std::uint8_t version, bool same_key,
                       const AesKey& old = AesKey{}) {
  Bytes p(key.begin(), key.end());  // the old key is all zero on a fresh application
  if (!same_key)
    for (std::size_t i = 0; i < p.size(); ++i) p[i] ^= old[i];
  p.push_back(version);
  Bytes covered{0xC4, key_no};
  covered.insert(covered.end(), p.begin(), p.end());
  put_le32(p, desfire_crc32(covered));
  if (!same_key) put_le32(p, desfire_crc32(key));
  p.resize(32, 0x00);
  return p;
}

void write_credential_file(Exchange& x, const std::vector<std::uint8_t>& uid,
                           const KeyVersion& version, std::uint64_t credential) {
  const std::uint8_t size = static_cast<std::uint8_t>(kCredentialFileSize);
  const Bytes file =
      encode_credential_file({credential, version.number}, uid, version.credential_mac);
  Bytes write{0x3D, kCredentialFileNo, 0, 0, 0, size, 0, 0};
  write.insert(write.end(), file.begin(), file.end());
  x.maced_write(write, "write the credential file");
}

const KeyVersion& version_on_card(Exchange& x, const SiteKeys& keys, std::uint8_t key_no) {
  const Bytes kv = x.plain({0x64, key_no}, "read key version");
  if (kv.size() != 1) throw Failure{"key version answer of wrong length"};
  const KeyVersion* v = keys.find(kv[0]);
  if (!v)
    throw Failure{"the card holds key version " + std::to_string(kv[0]) +
                  ", which is not in the key file (another site's card?)"};
  return *v;
}

// Runs the card steps; a failure says which step failed and why.
template <class Steps>
IssueResult attempt(const char* what, Steps&& steps) {
  IssueResult out;
  try {
    steps();
    out.ok = true;
  } catch (const Failure& f) {
    out.failure = f.why;
  } catch (const std::exception& e) {
    out.failure = std::string(what) + " error: " + e.what();
  }
  return out;
}

}  // namespace

IssueResult rekey_card(nfc_device* device, const std::vector<std::uint8_t>& uid,
                       const SiteKeys& keys, const KeyVersion& version, std::uint64_t credential,
                       int& from) {
  AesKey old_key{}, new_key{};
  const IssueResult out = attempt("rekeying", [&] {
    Exchange x(device);
    const std::uint32_t aid = keys.application.aid;
    x.plain(detail::select_application(aid), "select the labgate application (not issued here?)");
    const KeyVersion& master_version = version_on_card(x, keys, 0);
    const KeyVersion& read_version = version_on_card(x, keys, 1);
    from = master_version.number;
    const Bytes m = diversification_input(uid, aid, keys.application.system_id);
    old_key = diversify_aes128(master_version.app_master, m);
    x.authenticate(0, old_key);
    if (read_version.number != version.number) {
      old_key = diversify_aes128(read_version.read, m);
      new_key = diversify_aes128(version.read, m);
      x.enciphered_command({0xC4, 0x01},
                           change_key_plain(1, new_key, version.number, false, old_key), true,
                           "change the read key");
    }
    new_key = diversify_aes128(version.app_master, m);
    if (master_version.number != version.number) {
      x.enciphered_command({0xC4, 0x00}, change_key_plain(0, new_key, version.number, true), false,
                           "change the application master key");
      x.authenticate(0, new_key);
    }
    write_credential_file(x, uid, version, credential);
  });
  OPENSSL_cleanse(old_key.data(), old_key.size());
  OPENSSL_cleanse(new_key.data(), new_key.size());
  return out;
}

AesKey picc_key_for(const AesKey& picc_master, const std::vector<std::uint8_t>& uid_or_seed,
                    const std::vector<std::uint8_t>& system_id) {
  // AID 0 is the PICC level: the same UID gives a key unrelated to the application's.
  return diversify_aes128(picc_master, diversification_input(uid_or_seed, 0, system_id));
}

IssueResult survey_card(nfc_device* device, const std::vector<std::uint8_t>& uid,
                        const SiteKeys& keys, const IssueOptions& options, CardSurvey& out) {
  AesKey k{};
  const IssueResult result = attempt("surveying the card", [&] {
    Exchange x(device);
    out = CardSurvey{};
    out.random_id = is_random_uid(uid);
    if (!out.random_id && uid.size() != 7)
      throw Failure{"the card shows neither a 7-byte UID nor a random ID"};
    const std::uint32_t aid = keys.application.aid;
    const auto& system_id = keys.application.system_id;
    x.plain({0x5A, 0, 0, 0}, "select the card level");
    const Bytes settings = x.plain({0x45}, "read the PICC key settings");
    if (settings.size() != 2) throw Failure{"PICC key settings answer of wrong length"};
    out.picc_aes = (settings[1] & 0x80) != 0;
    const Bytes aids =
        x.plain({0x6A}, "list applications (locked by the card's owner: another site's card?)");
    if (aids.size() % 3 != 0) throw Failure{"application list of odd length"};
    for (std::size_t i = 0; i < aids.size(); i += 3) {
      const std::uint32_t a =
          static_cast<std::uint32_t>(aids[i] | aids[i + 1] << 8 | aids[i + 2] << 16);
      if (a == aid)
        out.labgate_app = true;
      else
        out.foreign_aids.push_back(a);
    }
    if (out.labgate_app) {
      x.plain(detail::select_application(aid), "select the labgate application");
      Bytes seed;
      if (x.raw({0xBD, kSeedFileNo, 0, 0, 0, 7, 0, 0}, seed) == detail::kOk) {
        if (seed.size() != 7) throw Failure{"seed file of wrong length"};
        out.seed = seed;
      }
      const Bytes kv = x.plain({0x64, 0x00}, "read the application master key version");
      if (kv.size() != 1) throw Failure{"key version answer of wrong length"};
      if (const KeyVersion* v = keys.find(kv[0]); v && (!out.random_id || !out.seed.empty())) {
        k = diversify_aes128(v->app_master, diversification_input(out.seed.empty() ? uid : out.seed,
                                                                  aid, system_id));
        if (x.try_authenticate(0, k)) {
          out.labgate_ours = true;
          if (out.random_id) out.uid = x.enciphered({0x51}, 7, "GetCardUID");
        }
      }
    }
    // Who holds the PICC master key: this site (diversified from the seed if the card carries
    // one, else from the UID), else the factory default; a refused attempt changes nothing.
    x.plain({0x5A, 0, 0, 0}, "select the card level");
    if (keys.picc_master && out.picc_aes && (!out.random_id || !out.seed.empty())) {
      k = picc_key_for(*keys.picc_master, out.seed.empty() ? uid : out.seed, system_id);
      if (x.try_authenticate(0, k)) out.owner = PiccOwner::kSite;
    }
    if (out.owner == PiccOwner::kUnknown &&
        (out.picc_aes ? x.try_authenticate(0, AesKey{}) : x.try_authenticate_des(0, TdesKey{})))
      out.owner = PiccOwner::kFactory;
    if (out.random_id && out.uid.empty() && out.owner != PiccOwner::kUnknown && out.picc_aes)
      out.uid = x.enciphered({0x51}, 7, "GetCardUID");
    if (!out.random_id) out.uid = uid;
    if (out.uid.size() != 7)
      throw Failure{"a random-ID card whose real UID this site cannot read: not this site's card"};

    const bool foreign_labgate = out.labgate_app && !out.labgate_ours;
    if (!options.format) {
      if (!out.foreign_aids.empty()) {
        std::string list;
        for (auto a : out.foreign_aids) {
          static const char* d = "0123456789abcdef";
          list += list.empty() ? "" : ", ";
          for (int sh = 20; sh >= 0; sh -= 4) list += d[(a >> sh) & 0xF];
        }
        throw Failure{"the card holds applications of another site (AID " + list +
                      "): refused; --format erases the card first"};
      }
      if (foreign_labgate)
        throw Failure{
            "the card holds a labgate application whose keys are not this site's (another "
            "site's card): refused; --format erases the card first"};
      if (out.labgate_app)
        throw Failure{
            "the card is already issued by this site: `credentials rekey` updates it, --format "
            "erases and issues it again"};
    }
    if (options.format && out.owner == PiccOwner::kUnknown)
      throw Failure{
          "cannot --format: the card's PICC master key is neither the factory default nor this "
          "site's (the card has another owner)"};
    if (options.take_ownership) {
      if (!keys.picc_master)
        throw Failure{
            "the key file has no PICC master key: `labgatectl keys rotate` adds one "
            "(docs/KEYS.md)"};
      if (out.owner == PiccOwner::kUnknown)
        throw Failure{
            "cannot take ownership: the card's PICC master key is not the factory default (the "
            "card has another owner)"};
    }
    if ((options.random_id || out.random_id) && !keys.application.random_uid)
      throw Failure{"random IDs are off for this site: [desfire] random_uid = true enables them"};
    if (options.random_id && !options.take_ownership && out.owner != PiccOwner::kSite)
      throw Failure{
          "--random-id needs --take-ownership: only the PICC master key switches random IDs on, "
          "and a random-ID card's keys are found again only with the site's PICC key"};
  });
  OPENSSL_cleanse(k.data(), k.size());
  return result;
}

IssueResult issue_card(nfc_device* device, const CardSurvey& card, const SiteKeys& keys,
                       const KeyVersion& version, std::uint64_t credential,
                       const IssueOptions& options) {
  AesKey read{}, master{}, picc_now{}, picc_new{};
  Bytes seed;
  const IssueResult out = attempt("issuing", [&] {
    Exchange x(device);
    const std::uint32_t aid = keys.application.aid;
    const auto& system_id = keys.application.system_id;
    const Bytes aid_bytes = le24(aid);
    const bool random = card.random_id || options.random_id;
    // A card that had a seed keeps it: its PICC key may be diversified from it.
    if (random) seed = card.seed.empty() ? random_bytes(7) : card.seed;
    const bool owned_before = card.owner == PiccOwner::kSite;
    if (owned_before)
      picc_now =
          picc_key_for(*keys.picc_master, card.seed.empty() ? card.uid : card.seed, system_id);
    auto picc_session = [&] {
      x.plain({0x5A, 0, 0, 0}, "select the card level");
      if (owned_before)
        x.authenticate(0, picc_now);
      else if (card.picc_aes)
        x.authenticate(0, AesKey{});
      else
        x.authenticate_des(0, TdesKey{});
    };
    if (options.format) {
      picc_session();
      x.session_command({0xFC}, "format the card");
    }

    x.plain({0x5A, 0, 0, 0}, "select the card level");
    Bytes create{0xCA};
    create.insert(create.end(), aid_bytes.begin(), aid_bytes.end());
    create.push_back(kAppSettings);
    create.push_back(kAesTwoKeys);
    x.plain(create, "create the labgate application");
    x.plain(detail::select_application(aid), "select the labgate application");
    x.authenticate(0, AesKey{});  // a new application's keys are all zero

    // File 1: MACed, read with key 1, written and changed only with key 0.
    const std::uint8_t size = static_cast<std::uint8_t>(kCredentialFileSize);
    x.maced({0xCD, kCredentialFileNo, 0x01, 0x00, 0x10, size, 0, 0}, "create the credential file");
    if (random) {
      // File 2: the seed, plain, free read (the door needs it before it has a key), written
      // and changed only with key 0.
      x.maced({0xCD, kSeedFileNo, 0x00, 0x00, 0xE0, 7, 0, 0}, "create the seed file");
      Bytes write{0x3D, kSeedFileNo, 0, 0, 0, 7, 0, 0};
      write.insert(write.end(), seed.begin(), seed.end());
      x.maced(write, "write the seed file");
    }
    write_credential_file(x, card.uid, version, credential);

    const Bytes m = diversification_input(random ? seed : card.uid, aid, system_id);
    read = diversify_aes128(version.read, m);
    master = diversify_aes128(version.app_master, m);
    x.enciphered_command({0xC4, 0x01}, change_key_plain(1, read, version.number, false), true,
                         "set the read key");
    x.enciphered_command({0xC4, 0x00}, change_key_plain(0, master, version.number, true), false,
                         "set the application master key");

    // Last, so that an interrupted issue leaves a card survey_card still recognises.
    if (!options.take_ownership && !owned_before) return;
    picc_new = picc_key_for(*keys.picc_master, random ? seed : card.uid, system_id);
    const bool change = !owned_before || picc_new != picc_now;
    const bool switch_random = options.random_id && !card.random_id;
    if (!change && !switch_random) return;
    picc_session();
    if (change) {
      // 0x80: the PICC master key becomes an AES key.
      if (!owned_before && !card.picc_aes)
        x.legacy_change_own_key_to_aes(0x80, picc_new, 0, "take ownership (PICC master key)");
      else
        x.enciphered_command({0xC4, 0x80}, change_key_plain(0x80, picc_new, 0, true), false,
                             "take ownership (PICC master key)");
      x.authenticate(0, picc_new);
    }
    if (switch_random) {
      // SetConfiguration option 0: bit 1 random ID (irreversible), format stays enabled.
      Bytes p{0x02};
      put_le32(p, desfire_crc32(Bytes{0x5C, 0x00, 0x02}));
      p.resize(16, 0x00);
      x.enciphered_command({0x5C, 0x00}, p, true, "switch on random IDs");
    }
  });
  for (AesKey* k : {&read, &master, &picc_now, &picc_new}) OPENSSL_cleanse(k->data(), k->size());
  OPENSSL_cleanse(seed.data(), seed.size());
  return out;
}

IssueResult issue_card(nfc_device* device, const std::vector<std::uint8_t>& uid,
                       const SiteKeys& keys, const KeyVersion& version, std::uint64_t credential) {
  CardSurvey card;
  if (IssueResult r = survey_card(device, uid, keys, {}, card); !r.ok) return r;
  return issue_card(device, card, keys, version, credential, {});
}

}  // namespace labgate::drivers::desfire
