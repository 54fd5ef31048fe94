#pragma once
// The credential stage of the tap path: from a card read to the facts the policy decides on.
// It looks the card up (one indexed read), judges what a DESFire reader proved about it, and
// builds the policy's TapContext. It changes nothing and records nothing.

#include <map>
#include <optional>
#include <string>

#include "labgate/drivers/devices.hpp"
#include "labgate/gateway/app/clock.hpp"
#include "labgate/gateway/policy/access.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::app {

struct SiteSetup;

/// What the store knows of a card.
struct CardLookup {
  bool store_ok{false};                         ///< false: the lookup failed (see `failure`)
  std::optional<store::CredentialMatch> found;  ///< none: unknown card (or store failure)
  std::string failure;                          ///< the store's message when !store_ok
};

/// Looks cards up and builds the policy's view of a tap. See the file comment.
class Credentials {
 public:
  /// `setup`, `store` and `clock` must outlive this.
  Credentials(const SiteSetup& setup, store::Store& store, Clock& clock);

  /// The credential, member and plan of `card`.
  CardLookup lookup(const drivers::Card& card);
  /// The policy's context for a tap at `event.reader_id` (its technology lists, the time, the
  /// fire alarm, the member's facts and plan windows, the DESFire proof).
  policy::TapContext context(const drivers::ReaderEvent& event, const CardLookup& lookup,
                             bool fire_alarm);

 private:
  std::optional<policy::TimeWindows> plan_windows(const store::Plan& plan);
  // What the reader proved about a DESFire card, judged against the key versions' dates and
  // the credential the card's UID is enrolled as.
  policy::CardProof desfire_proof(const drivers::Card& card,
                                  const std::optional<store::CredentialMatch>& match,
                                  const policy::LocalDate& today) const;

  const SiteSetup& setup_;
  store::Store& store_;
  Clock& clock_;
  std::map<std::string, policy::TimeWindows> windows_cache_;
};

/// A date column ("YYYY-MM-DD") as a policy date; none when absent or unreadable.
std::optional<policy::LocalDate> date_of(const std::optional<std::string>& s);

}  // namespace labgate::gateway::app
