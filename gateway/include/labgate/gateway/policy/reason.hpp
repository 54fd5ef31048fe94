#pragma once
// Why a tap was granted or refused: stable codes for the event log, MQTT and reports.

#include <array>
#include <optional>
#include <string_view>

namespace labgate::gateway::policy {

/// The outcome of a policy decision. The snake_case code of each value (to_string) is stored in
/// the database and published over MQTT: never rename one, only add new values at the end.
enum class Reason {
  kGranted,               ///< granted
  kUnknownCredential,     ///< unknown_credential: no enrolled card with this identifier
  kCredentialRevoked,     ///< credential_revoked: the card was reported lost or withdrawn
  kTechnologyNotAllowed,  ///< technology_not_allowed: the site or reader does not accept it
  kMemberPending,         ///< member_pending: application not yet approved
  kMemberSuspended,       ///< member_suspended: suspended by staff
  kMemberNotYetValid,     ///< member_not_yet_valid: before the membership's first day
  kMemberExpired,         ///< member_expired: after the membership's last day
  kOutsidePlanHours,      ///< outside_plan_hours: the plan's windows are closed now
  kHoliday,               ///< holiday: national holiday and the plan excludes holidays
  kClosure,               ///< closure: yearly closure and the plan excludes it
  kNoCertification,       ///< no_certification: never trained on this machine type
  kCertificationExpired,  ///< certification_expired
  kCertificationRevoked,  ///< certification_revoked
  kMachineLockedOut,      ///< machine_locked_out: staff lockout
  kInspectionOverdue,     ///< inspection_overdue: safety inspection past due
  kMachineInUse,          ///< machine_in_use: another member holds the session
  kMachineNotReady,       ///< machine_not_ready: startup, out of service, awaiting check-off
  kFireAlarm,             ///< fire_alarm: the fire alarm is active
  kStoreUnavailable,      ///< store_unavailable: the database could not be read
  kAntiPassback,          ///< anti_passback: the member is already recorded on this side
  kInsufficientCredit,    ///< insufficient_credit: reserved for billing
  kCardNotAuthenticated,  ///< card_not_authenticated: a DESFire card failed AES authentication
                          ///< or its credential file (UID-only clone, wrong key, tampered file)
  kCredentialNeedsIssue,  ///< credential_needs_issue: DESFire enrolled by UID, not yet issued
  kKeyVersionRetired,     ///< key_version_retired: card keys of a version past its accept date
  kOutsideBooking,        ///< outside_booking: no booking admits this card at this room now
  kNoLockerLoan,          ///< no_locker_loan: the locker is not lent to this card's member now
};

/// Every reason, in declaration order.
inline constexpr std::array<Reason, 27> kAllReasons = {
    Reason::kGranted,
    Reason::kUnknownCredential,
    Reason::kCredentialRevoked,
    Reason::kTechnologyNotAllowed,
    Reason::kMemberPending,
    Reason::kMemberSuspended,
    Reason::kMemberNotYetValid,
    Reason::kMemberExpired,
    Reason::kOutsidePlanHours,
    Reason::kHoliday,
    Reason::kClosure,
    Reason::kNoCertification,
    Reason::kCertificationExpired,
    Reason::kCertificationRevoked,
    Reason::kMachineLockedOut,
    Reason::kInspectionOverdue,
    Reason::kMachineInUse,
    Reason::kMachineNotReady,
    Reason::kFireAlarm,
    Reason::kStoreUnavailable,
    Reason::kAntiPassback,
    Reason::kInsufficientCredit,
    Reason::kCardNotAuthenticated,
    Reason::kCredentialNeedsIssue,
    Reason::kKeyVersionRetired,
    Reason::kOutsideBooking,
    Reason::kNoLockerLoan,
};

/// The stable snake_case code ("outside_plan_hours").
std::string_view to_string(Reason r);
/// Parses a code produced by to_string(); nullopt when unknown.
std::optional<Reason> parse_reason(std::string_view code);
/// A short English sentence for the log and the reader display (at most 32 characters).
std::string_view describe(Reason r);

}  // namespace labgate::gateway::policy
