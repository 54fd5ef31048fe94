#pragma once
// Who may open which door and power which machine, when. Pure functions over plain facts: the
// daemon reads the facts (SQLite, controller state, inputs) and the policy only decides.
//
// Check order, identical for every tap so the logged reason is predictable:
//   0. site state      store_unavailable
//   1. card proof      card_not_authenticated, credential_needs_issue, key_version_retired
//                      (DESFire only: an unauthenticated card is refused as such before its
//                      UID's lookup counts, unless it is an unissued "desfire-uid" credential)
//      credential      unknown_credential, credential_revoked
//   2. member          member_pending, member_suspended, member_not_yet_valid, member_expired
//   3. technology      technology_not_allowed
//   4. calendar/plan   closure, holiday, outside_plan_hours
//      (a room's or locker's door: outside_booking / no_locker_loan instead)
//   5. door            fire_alarm (entry only), anti_passback
//      machine         fire_alarm, no_certification, certification_revoked,
//                      certification_expired, machine_locked_out, machine_not_ready,
//                      inspection_overdue, machine_in_use, insufficient_credit
// The first failing check is the reason. Doors never refuse for money.
//
// Exit readers of a door with egress: people must always be able to leave, and the presence
// record (evacuation roll-call, coworking time) must see them leave. So an exit tap by any
// known, non-revoked card of an accepted technology is granted whatever the member's status,
// validity, plan, calendar, anti-passback or fire alarm; `detail` names the check that would
// have refused an entry. Without egress an exit reader is checked like an entry reader.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "labgate/gateway/policy/calendar.hpp"
#include "labgate/gateway/policy/reason.hpp"
#include "labgate/gateway/policy/time_windows.hpp"

namespace labgate::gateway::policy {

/// Card technology as the policy sees it (same codes as the drivers' CardTechnology).
enum class Technology {
  kDesfire,    ///< "desfire": authenticated, always accepted
  kIso14443a,  ///< "iso14443a": UID only, clonable, opt-in
  kFelica,     ///< "felica": IDm, clonable, opt-in
  /// "desfire-uid": a DESFire card enrolled by its UID before cards were issued with keys;
  /// clonable like the other UID technologies, opt-in.
  kDesfireUid,
};

/// "desfire", "iso14443a", "felica" or "desfire-uid".
std::string_view to_string(Technology t);
/// Parses a technology code; nullopt when unknown.
std::optional<Technology> parse_technology(std::string_view code);

/// A small set of technologies.
class TechnologySet {
 public:
  TechnologySet() = default;
  TechnologySet(std::initializer_list<Technology> ts) {
    for (auto t : ts) insert(t);
  }
  /// Adds a technology.
  void insert(Technology t) { bits_ |= bit(t); }
  /// True when the technology is in the set.
  bool contains(Technology t) const { return (bits_ & bit(t)) != 0; }
  /// True when nothing is in the set.
  bool empty() const { return bits_ == 0; }
  friend bool operator==(const TechnologySet&, const TechnologySet&) = default;

 private:
  static std::uint8_t bit(Technology t) {
    return static_cast<std::uint8_t>(1u << static_cast<unsigned>(t));
  }
  std::uint8_t bits_{0};
};

/// True when a card of technology `t` may be used at a reader: DESFire always; a clonable
/// technology only when the site opted in and the reader's own list (when it has one) names it.
bool technology_accepted(Technology t, const TechnologySet& site,
                         const std::optional<TechnologySet>& reader);

/// What the store knows about the presented card.
struct CredentialFacts {
  Technology technology{Technology::kDesfire};  ///< technology of the enrolled card
  bool revoked{false};                          ///< lost or withdrawn
  /// A DESFire card enrolled by UID (before issuing with keys): only "desfire-uid" sites take it.
  bool needs_issue{false};
};

/// What the reader proved about a DESFire card; absent for UID technologies.
struct CardProof {
  /// AES mutual authentication with the card's diversified read key and a credential file
  /// whose MAC binds it to this card all succeeded.
  bool authenticated{false};
  /// The card's keys are of a version still accepted (current, or retired with a date not yet
  /// passed). Meaningful only when authenticated.
  bool key_version_accepted{true};
  /// The credential file names the credential the store found for this card's UID.
  bool credential_matches{true};
  std::string detail;  ///< why authentication failed, or the key version's status
};

/// Lifecycle status of a member record.
enum class MemberStatus {
  kPending,    ///< applied, not yet approved
  kActive,     ///< approved and not suspended
  kSuspended,  ///< suspended by staff
};

/// The access part of a member's plan, as it applies to the door or machine being asked for.
struct PlanAccess {
  TimeWindows windows;   ///< weekly windows (empty = never)
  bool holidays{false};  ///< the windows also apply on national holidays
  bool closure{false};   ///< the windows also apply during the yearly closure
};

/// What the store knows about the card's member.
struct MemberFacts {
  std::int64_t id{0};  ///< member id (compared with MachineFacts::occupied_by)
  MemberStatus status{MemberStatus::kActive};
  std::optional<LocalDate> valid_from;   ///< first valid local day, inclusive; nullopt = open
  std::optional<LocalDate> valid_until;  ///< last valid local day, inclusive; nullopt = open
  PlanAccess plan;                       ///< plan access for the requested door or machine
};

/// The member's certification for the machine's type.
struct CertificationFacts {
  bool present{false};                  ///< a certification record exists
  std::optional<LocalDate> expires_on;  ///< last valid local day, inclusive; nullopt = no expiry
  bool revoked{false};                  ///< withdrawn by staff
};

/// Controller state of the machine as far as a new session is concerned.
enum class MachineReadiness {
  kReady,             ///< idle, may start a session
  kStartup,           ///< after power loss, waiting for staff to confirm
  kOutOfService,      ///< problem reported
  kAwaitingCheckoff,  ///< previous user's session waits for staff check-off
};

/// What the daemon knows about the machine.
struct MachineFacts {
  bool certification_required{true};             ///< the machine needs a certification
  bool locked_out{false};                        ///< staff lockout
  bool inspection_required{false};               ///< the machine has an inspection interval
  std::optional<LocalDate> next_inspection_due;  ///< overdue when before today; nullopt with
                                                 ///< inspection_required = never inspected
  std::optional<std::int64_t> occupied_by;       ///< member holding the current session, if any
  MachineReadiness readiness{MachineReadiness::kReady};
};

/// Which way a reader faces.
enum class Direction {
  kEntry,  ///< outside the door, going in
  kExit,   ///< inside the door, going out
};

/// A door that admits by booking (a meeting room) or by loan (a locker's lock) rather than by
/// the member's plan: whether a booking or loan admits the card's member now.
struct ResourceGate {
  bool admitted{false};                     ///< a booking or loan names the member now
  Reason refusal{Reason::kOutsideBooking};  ///< outside_booking or no_locker_loan
  std::string detail;                       ///< why not ("no booking of room-a now")
};

/// What the daemon knows about the door and the member's presence.
struct DoorFacts {
  bool egress{true};                        ///< exit readers must let known members out
  bool anti_passback{false};                ///< refuse a second entry (or exit) in a row
  std::optional<Direction> last_direction;  ///< member's last recorded passage at this site
  /// Set for a room's or locker's door: the booking or loan replaces the plan's windows and
  /// the calendar at its entry reader (the room's own hours were checked when it was booked).
  std::optional<ResourceGate> gate;
};

/// Everything common to a tap at any reader.
struct TapContext {
  std::chrono::system_clock::time_point at;          ///< when the card was read
  const Calendar* calendar{nullptr};                 ///< site calendar; nullptr = Calendar()
  TechnologySet site_technologies;                   ///< clonable technologies the site opted in to
  std::optional<TechnologySet> reader_technologies;  ///< the reader's narrower list, if any
  bool store_available{true};                        ///< false when the store lookup failed
  bool fire_alarm{false};                            ///< the fire alarm input is active
  std::optional<CardProof> proof;                    ///< set for DESFire cards
  std::optional<CredentialFacts> credential;         ///< nullopt = unknown card
  std::optional<MemberFacts> member;                 ///< the card's member (set when credential is)
};

/// A tap at a door reader.
struct DoorRequest {
  TapContext tap;
  Direction direction{Direction::kEntry};
  DoorFacts door;
};

/// A tap at a machine reader asking to start a session.
struct MachineRequest {
  TapContext tap;
  std::optional<CertificationFacts> certification;  ///< nullopt = none for this machine type
  MachineFacts machine;
  bool credit_ok{true};  ///< billing's verdict on balance / credit limit (reserved)
};

/// The policy's answer.
struct Decision {
  bool granted{false};
  Reason reason{Reason::kUnknownCredential};
  std::string detail;  ///< short English context for the log ("expired on 2026-03-31")
};

/// Decides a door tap (see the check order at the top of this header).
Decision decide_door(const DoorRequest& request);
/// Decides a machine tap (see the check order at the top of this header). A machine held by
/// the same member is granted: the daemon decides whether that tap ends the session.
Decision decide_machine(const MachineRequest& request);

}  // namespace labgate::gateway::policy
