#pragma once
// The desk's side: turns a DESFire EV1+ card into a labgate card. First a read-only survey
// (applications on the card, who holds its PICC master key, the real UID of a random-ID card)
// that refuses another site's card unless it may be formatted; then, optionally FormatPICC,
// the labgate application with AES keys, the credential file written with MACed communication,
// the card's diversified read and master keys, and optionally the site's PICC master key and
// random IDs.

#include <cstdint>
#include <string>
#include <vector>

#include "labgate/drivers/desfire/site_keys.hpp"

typedef struct nfc_device nfc_device;  // NOLINT: libnfc's own declaration

namespace labgate::drivers::desfire {

/// What issuing did.
struct IssueResult {
  bool ok{false};
  std::string failure;  ///< the step that failed and why
};

/// What the desk may do to a card beyond writing the labgate application.
struct IssueOptions {
  /// Erase the card first (FormatPICC with its PICC master key: the factory default DES or AES
  /// zero key, or this site's key on a card the site owns). Without it, a card holding any
  /// application but a free labgate slot is refused.
  bool format{false};
  /// Replace the PICC master key by the site's, diversified for this card (needs
  /// SiteKeys::picc_master). Without it the PICC master key is never changed.
  bool take_ownership{false};
  /// Switch the card to random IDs (SetConfiguration); needs ApplicationSettings::random_uid
  /// and a card the site owns or takes over now (the PICC master key must be the site's).
  bool random_id{false};
};

/// Who holds a card's PICC master key, as the desk found out by authenticating.
enum class PiccOwner : std::uint8_t {
  kFactory,  ///< the factory default (DES or AES zero key)
  kSite,     ///< this site's key diversified for the card
  kUnknown,  ///< neither: another owner
};

/// What survey_card found on a card, read-only, before anything is written or recorded.
struct CardSurvey {
  std::vector<std::uint8_t> uid;  ///< the real 7-byte UID (GetCardUID on a random-ID card)
  std::vector<std::uint8_t>
      seed;               ///< a random-ID card's diversification seed (7 bytes), else empty
  bool random_id{false};  ///< the card answers anticollision with a random ID
  bool picc_aes{false};   ///< the PICC master key is an AES key
  PiccOwner owner{PiccOwner::kUnknown};
  std::vector<std::uint32_t> foreign_aids;  ///< applications other than labgate's
  bool labgate_app{false};                  ///< an application with the site's AID
  bool labgate_ours{false};                 ///< ... whose master key is this site's
};

/// Looks at the selected card (anticollision UID `uid`) without changing it and decides whether
/// issuing with `options` may go on. The failure is a sentence for staff: another site's
/// applications without --format, a card already issued here, a PICC key not ours, ...
IssueResult survey_card(nfc_device* device, const std::vector<std::uint8_t>& uid,
                        const SiteKeys& keys, const IssueOptions& options, CardSurvey& out);

/// Issues the surveyed card as `credential` under `version`: formats it if asked, creates the
/// labgate application (with the seed file when the card has or gets random IDs), writes the
/// credential file bound to the real UID, sets the diversified keys, and last takes ownership
/// and switches on random IDs if asked. The card must stay on the reader until it returns.
IssueResult issue_card(nfc_device* device, const CardSurvey& card, const SiteKeys& keys,
                       const KeyVersion& version, std::uint64_t credential,
                       const IssueOptions& options = {});

/// Issues a card with a 7-byte real UID `uid` as `credential` under `version` with default
/// options (survey_card then issue_card): refuses a card holding any application.
IssueResult issue_card(nfc_device* device, const std::vector<std::uint8_t>& uid,
                       const SiteKeys& keys, const KeyVersion& version, std::uint64_t credential);

/// The PICC master key the site gives an owned card: AN10922 diversification of
/// SiteKeys::picc_master over the seed (cards carrying one) or the real UID, AID 0, the system id.
AesKey picc_key_for(const AesKey& picc_master, const std::vector<std::uint8_t>& uid_or_seed,
                    const std::vector<std::uint8_t>& system_id);

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
