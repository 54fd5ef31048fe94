#pragma once
// The door's side of DESFire authentication, in native DESFire commands on the reader's own
// libnfc device and thread: select the labgate application, AES-authenticate (EV1, three passes)
// with the read key diversified for this card, read the credential file with MACed
// communication, check the answer's CMAC and the file's MAC.

#include <memory>

#include "labgate/drivers/desfire/site_keys.hpp"
#include "labgate/drivers/nfc/nfc_reader.hpp"

namespace labgate::drivers::desfire {

/// File number of the per-card diversification seed on cards issued with random IDs: 7 random
/// bytes chosen at issue, readable without a key (see DesfireAuthenticator).
inline constexpr std::uint8_t kSeedFileNo = 2;

/// True when a 4-byte anticollision UID is a DESFire random ID (first byte 0x08).
bool is_random_uid(const std::vector<std::uint8_t>& uid);

/// Authenticates DESFire cards for an NfcReader. Holds a copy of the site keys; used by one
/// reader thread at a time (each reader gets its own or shares a const one: it keeps no state
/// between cards).
///
/// Random IDs: such a card answers anticollision with a fresh random UID, so the key to use
/// cannot come from that UID. Reading the real UID first would need a key that is the same on
/// every card, whose loss would open every card. Instead each random-ID card carries a seed of
/// its own in a free-read file; its keys are diversified from the seed exactly as from a UID,
/// so every card still has its own key. After authentication GetCardUID returns the real UID
/// (enciphered, under the session key) and the credential file's MAC must verify against that
/// UID, so a seed copied to another card gains nothing. The seed is a stable identifier readable
/// by anyone, which gives away part of what random IDs hide: that is the price of per-card keys.
class DesfireAuthenticator final : public nfc::CardAuthenticator {
 public:
  /// Copies the keys (without SiteKeys::picc_master, which only the desk uses);
  /// `keys.versions` may hold retired versions still accepted.
  explicit DesfireAuthenticator(SiteKeys keys);
  ~DesfireAuthenticator() override;
  /// See nfc::CardAuthenticator. Every failure names its step in `card.proof->failure`.
  void authenticate(nfc_device* device, const nfc_target& target, Card& card) override;

 private:
  SiteKeys keys_;
};

}  // namespace labgate::drivers::desfire
