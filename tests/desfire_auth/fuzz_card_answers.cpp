// libFuzzer target: hostile live card answers to the tap path. A fake libnfc transceiver (this
// file's nfc_initiator_transceive_bytes, which the linker takes over libnfc's) answers the
// DesfireAuthenticator with a genuine emulated card issued with the site's keys, and the input
// alters those answers one exchange at a time: passed through, replaced, cut, bit-flipped,
// lengthened, or the card leaves. So the parsing after a real authentication (MACed read,
// credential file) sees hostile bytes as well as the steps before it. The same input then alters
// the answers to the desk's read-only survey (survey_card) of that card.
// Input: per exchange one control byte, then its operands:
//   0 pass | 1 len bytes: replace | 2 n: cut to n | 3 i: flip bit i | 4 len bytes: append | 5 gone
#include <nfc/nfc.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "labgate/drivers/desfire/authenticator.hpp"
#include "labgate/drivers/desfire/issuer.hpp"
#include "labgate/drivers/pn532_emu/desfire_card.hpp"

namespace df = labgate::drivers::desfire;
using labgate::drivers::pn532_emu::DesfireCard;
using Bytes = std::vector<std::uint8_t>;

namespace {

const Bytes kUid{0x04, 0x5A, 0x17, 0x22, 0x9C, 0x31, 0x80};

struct Wire {
  DesfireCard* card{nullptr};
  std::span<const std::uint8_t> input;  // the alterations left
  bool altering{false};

  std::optional<std::uint8_t> next() {
    if (input.empty()) return std::nullopt;
    const std::uint8_t b = input.front();
    input = input.subspan(1);
    return b;
  }
  Bytes take(std::size_t n) {
    n = std::min(n, input.size());
    Bytes out(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(n));
    input = input.subspan(n);
    return out;
  }
  // The answer the card gives, altered as the input says; nullopt: the card left the field.
  std::optional<Bytes> answer(std::span<const std::uint8_t> cmd) {
    Bytes a = card->transceive(cmd);
    if (!altering) return a;
    const auto op = next();
    if (!op) return a;
    switch (*op % 6) {
      case 1:
        a = take(next().value_or(0));
        break;
      case 2:
        a.resize(std::min<std::size_t>(a.size(), next().value_or(0)));
        break;
      case 3:
        if (!a.empty()) {
          const std::uint8_t i = next().value_or(0);
          a[(i / 8) % a.size()] ^= static_cast<std::uint8_t>(1u << (i % 8));
        }
        break;
      case 4: {
        const Bytes extra = take(next().value_or(0));
        a.insert(a.end(), extra.begin(), extra.end());
        break;
      }
      case 5:
        return std::nullopt;
      default:
        break;
    }
    return a;
  }
};

Wire wire;

df::SiteKeys site_keys() {
  df::SiteKeys keys;
  df::KeyVersion v;
  v.number = 1;
  for (std::size_t i = 0; i < 16; ++i) {
    v.app_master[i] = static_cast<std::uint8_t>(0x10 + i);
    v.read[i] = static_cast<std::uint8_t>(0x40 + i);
    v.credential_mac[i] = static_cast<std::uint8_t>(0x70 + i);
  }
  keys.versions.push_back(v);
  keys.application.system_id = {'f', 'u', 'z', 'z'};
  return keys;
}

}  // namespace

// The fake transceiver: the emulated card behind the wire.
extern "C" int nfc_initiator_transceive_bytes(nfc_device*, const uint8_t* tx, const size_t tx_len,
                                              uint8_t* rx, const size_t rx_len, int) {
  auto a = wire.answer(std::span<const std::uint8_t>(tx, tx_len));
  if (!a) return NFC_ETGRELEASED;
  if (a->size() > rx_len) return NFC_EOVFLOW;
  if (!a->empty()) std::memcpy(rx, a->data(), a->size());
  return static_cast<int>(a->size());
}

extern "C" const char* nfc_strerror(const nfc_device*) {
  return "fuzzed card";
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const df::SiteKeys keys = site_keys();
  static const DesfireCard issued = [] {
    DesfireCard card(kUid, false, false);
    wire = Wire{&card, {}, false};
    const auto r = df::issue_card(nullptr, kUid, keys, keys.versions.front(), 7);
    if (!r.ok) __builtin_trap();  // the harness itself is broken
    return card;
  }();
  static df::DesfireAuthenticator authenticator(keys);

  DesfireCard card = issued;
  card.power_up();
  wire = Wire{&card, std::span<const std::uint8_t>(data, size), true};
  nfc_target target{};
  target.nm = {NMT_ISO14443A, NBR_106};
  std::memcpy(target.nti.nai.abtUid, kUid.data(), kUid.size());
  target.nti.nai.szUidLen = kUid.size();
  labgate::drivers::Card c;
  c.technology = labgate::drivers::CardTechnology::kDesfire;
  c.identifier = kUid;
  authenticator.authenticate(nullptr, target, c);
  // Unaltered answers (the empty input, which libFuzzer runs first) must prove the card, so the
  // harness really reaches the end of the tap path; any proof must name the issued credential.
  if (size == 0 && !(c.proof && c.proof->authenticated)) __builtin_trap();
  if (c.proof && c.proof->authenticated && c.proof->credential != 7) __builtin_trap();

  // The desk's survey parses answers of its own (PICC key settings, application list, seed
  // file, key version, legacy DES authentication, GetCardUID): the same alterations again.
  static const df::SiteKeys desk_keys = [] {
    df::SiteKeys k = site_keys();
    k.picc_master = df::AesKey{0x2A};
    k.application.random_uid = true;
    return k;
  }();
  DesfireCard desk_card = issued;
  desk_card.power_up();
  wire = Wire{&desk_card, std::span<const std::uint8_t>(data, size), true};
  df::CardSurvey survey;
  const auto r =
      df::survey_card(nullptr, kUid, desk_keys, {.format = true, .take_ownership = true}, survey);
  // Unaltered, the survey must recognise the site's issued card on a factory PICC key.
  if (size == 0 && !(r.ok && survey.labgate_ours && survey.owner == df::PiccOwner::kFactory))
    __builtin_trap();
  if (r.ok && survey.uid != kUid) __builtin_trap();
  return 0;
}
