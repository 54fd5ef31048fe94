#pragma once
// The desk's side: turns a factory-default DESFire EV1+ card into a labgate card. Creates the
// labgate application with AES keys, writes the credential file with MACed communication, then
// replaces the application's default keys by the card's diversified read and master keys.

#include <cstdint>
#include <string>

#include "labgate/drivers/desfire/site_keys.hpp"

typedef struct nfc_device nfc_device;  // NOLINT: libnfc's own declaration

namespace labgate::drivers::desfire {

/// What issuing did.
struct IssueResult {
  bool ok{false};
  std::string failure;  ///< the step that failed and why
};

/// Issues the selected card (real UID `uid`, not a random ID) as `credential` under `version`.
/// Refuses a card that already holds an application with the site's AID. Never touches the
/// PICC master key. The card must stay on the reader until it returns.
IssueResult issue_card(nfc_device* device, const std::vector<std::uint8_t>& uid,
                       const SiteKeys& keys, const KeyVersion& version, std::uint64_t credential);

/// Rekeys the selected labgate card (real UID `uid`) to `version`: authenticates with the card's
/// application master key of the version it holds, changes the read key and then the master key
/// to `version` (each only when still older; so an interrupted rekey can be run again), and
/// rewrites the credential file as `credential` under `version`. `from` is set to the version
/// the master key held. Fails when the card has no labgate application or holds a version that
/// is not in `keys`. The card must stay on the reader until it returns.
IssueResult rekey_card(nfc_device* device, const std::vector<std::uint8_t>& uid,
                       const SiteKeys& keys, const KeyVersion& version, std::uint64_t credential,
                       int& from);

}  // namespace labgate::drivers::desfire
