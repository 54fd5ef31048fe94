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

}  // namespace labgate::drivers::desfire
