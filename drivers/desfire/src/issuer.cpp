#include "labgate/drivers/desfire/issuer.hpp"

#include "exchange.hpp"
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

IssueResult issue_card(nfc_device* device, const std::vector<std::uint8_t>& uid,
                       const SiteKeys& keys, const KeyVersion& version, std::uint64_t credential) {
  AesKey read{};
  AesKey master{};
  const IssueResult out = attempt("issuing", [&] {
    Exchange x(device);
    const std::uint32_t aid = keys.application.aid;
    const Bytes aid_bytes = le24(aid);
    x.plain({0x5A, 0, 0, 0}, "select the card level");
    const Bytes aids = x.plain({0x6A}, "list applications");
    if (aids.size() % 3 != 0) throw Failure{"application list of odd length"};
    for (std::size_t i = 0; i < aids.size(); i += 3) {
      if (std::equal(aid_bytes.begin(), aid_bytes.end(), aids.begin() + static_cast<long>(i)))
        throw Failure{"the card already holds a labgate application (issued before?)"};
    }
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
    write_credential_file(x, uid, version, credential);

    const Bytes m = diversification_input(uid, aid, keys.application.system_id);
    read = diversify_aes128(version.read, m);
    master = diversify_aes128(version.app_master, m);
    x.enciphered_command({0xC4, 0x01}, change_key_plain(1, read, version.number, false), true,
                         "set the read key");
    x.enciphered_command({0xC4, 0x00}, change_key_plain(0, master, version.number, true), false,
                         "set the application master key");
  });
  OPENSSL_cleanse(read.data(), read.size());
  OPENSSL_cleanse(master.data(), master.size());
  return out;
}

}  // namespace labgate::drivers::desfire
