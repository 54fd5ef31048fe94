#include "labgate/gateway/policy/access.hpp"

#include <array>

namespace labgate::gateway::policy {
namespace {

using Check = std::optional<Decision>;

Decision refuse(Reason r, std::string detail) {
  return Decision{false, r, std::move(detail)};
}

const Calendar& calendar_of(const TapContext& tap) {
  static const Calendar kDefault;
  return tap.calendar != nullptr ? *tap.calendar : kDefault;
}

bool technology_allowed(Technology t, const TapContext& tap) {
  return technology_accepted(t, tap.site_technologies, tap.reader_technologies);
}

// A DESFire card is believed only once the reader has authenticated it; a card enrolled by UID
// before issuing passes as the clonable "desfire-uid" where the site opted in.
Check check_proof(const TapContext& tap) {
  if (!tap.proof) return std::nullopt;
  const CardProof& p = *tap.proof;
  if (p.authenticated) {
    if (!p.key_version_accepted) return refuse(Reason::kKeyVersionRetired, p.detail);
    if (tap.credential && !p.credential_matches)
      return refuse(Reason::kCardNotAuthenticated,
                    "credential file names another credential than the card's UID");
    return std::nullopt;
  }
  if (tap.credential && tap.credential->needs_issue) {
    if (technology_allowed(Technology::kDesfireUid, tap)) return std::nullopt;
    return refuse(Reason::kCredentialNeedsIssue,
                  "enrolled by UID only; issue the card with keys at the desk");
  }
  return refuse(Reason::kCardNotAuthenticated,
                p.detail.empty() ? std::string("no authentication") : p.detail);
}

Check check_credential(const TapContext& tap) {
  if (!tap.store_available) return refuse(Reason::kStoreUnavailable, "credential lookup failed");
  if (auto r = check_proof(tap)) return r;
  if (!tap.credential) return refuse(Reason::kUnknownCredential, "no enrolled card matches");
  if (tap.credential->revoked) return refuse(Reason::kCredentialRevoked, "card revoked");
  if (!tap.member) return refuse(Reason::kUnknownCredential, "card is not assigned to a member");
  return std::nullopt;
}

Check check_member(const MemberFacts& m, const LocalDate& today) {
  switch (m.status) {
    case MemberStatus::kPending:
      return refuse(Reason::kMemberPending, "application not yet approved");
    case MemberStatus::kSuspended:
      return refuse(Reason::kMemberSuspended, "member suspended");
    case MemberStatus::kActive:
      break;
  }
  if (m.valid_from && today < *m.valid_from)
    return refuse(Reason::kMemberNotYetValid, "valid from " + to_string(*m.valid_from));
  if (m.valid_until && *m.valid_until < today)
    return refuse(Reason::kMemberExpired, "expired after " + to_string(*m.valid_until));
  return std::nullopt;
}

Check check_technology(const TapContext& tap) {
  Technology t = tap.credential->technology;
  // An unissued DESFire credential is judged as what it is: a UID.
  if (t == Technology::kDesfire && tap.credential->needs_issue) t = Technology::kDesfireUid;
  if (technology_allowed(t, tap)) return std::nullopt;
  return refuse(Reason::kTechnologyNotAllowed,
                std::string(to_string(t)) + " cards are not accepted at this reader");
}

// The calendar applies to the local date of the tap, so the closure starts at 00:00 on its
// first day even for a plan window that opened the evening before.
Check check_calendar(const PlanAccess& plan, const Calendar& cal, const LocalTime& now) {
  if (!plan.closure && cal.in_closure(now.date))
    return refuse(Reason::kClosure, "yearly closure on " + to_string(now.date));
  if (!plan.holidays && cal.is_holiday(now.date))
    return refuse(Reason::kHoliday, "holiday on " + to_string(now.date));
  if (!plan.windows.contains(now.weekday, now.minute_of_day))
    return refuse(Reason::kOutsidePlanHours, "plan hours: " + to_string(plan.windows));
  return std::nullopt;
}

Check check_member_and_time(const TapContext& tap, const PlanAccess& plan, const Calendar& cal,
                            const LocalTime& now) {
  if (auto r = check_member(*tap.member, now.date)) return r;
  if (auto r = check_technology(tap)) return r;
  return check_calendar(plan, cal, now);
}

const char* direction_text(Direction d) {
  return d == Direction::kEntry ? "entry" : "exit";
}

}  // namespace

std::string_view to_string(Technology t) {
  switch (t) {
    case Technology::kDesfire:
      return "desfire";
    case Technology::kIso14443a:
      return "iso14443a";
    case Technology::kFelica:
      return "felica";
    case Technology::kDesfireUid:
      return "desfire-uid";
  }
  return "unknown";
}

std::optional<Technology> parse_technology(std::string_view code) {
  for (auto t :
       {Technology::kDesfire, Technology::kIso14443a, Technology::kFelica, Technology::kDesfireUid})
    if (to_string(t) == code) return t;
  return std::nullopt;
}

bool technology_accepted(Technology t, const TechnologySet& site,
                         const std::optional<TechnologySet>& reader) {
  if (t == Technology::kDesfire) return true;
  return site.contains(t) && (!reader || reader->contains(t));
}

Decision decide_door(const DoorRequest& request) {
  const TapContext& tap = request.tap;
  const Calendar& cal = calendar_of(tap);
  const LocalTime now = cal.to_local(tap.at);

  if (auto r = check_credential(tap)) return *std::move(r);

  // During a fire alarm every exit is a free exit: the doors are released anyway, and the
  // roll-call needs to see who left.
  const bool free_exit =
      request.direction == Direction::kExit && (request.door.egress || tap.fire_alarm);
  if (free_exit) {
    if (auto r = check_technology(tap)) return *std::move(r);
    std::string detail;
    if (auto r = check_member(*tap.member, now.date)) {
      detail = "exit allowed despite " + std::string(to_string(r->reason));
    } else if (auto c = check_calendar(tap.member->plan, cal, now)) {
      detail = "exit allowed despite " + std::string(to_string(c->reason));
    }
    return Decision{true, Reason::kGranted, std::move(detail)};
  }

  if (const auto& gate = request.door.gate) {
    if (auto r = check_member(*tap.member, now.date)) return *std::move(r);
    if (auto r = check_technology(tap)) return *std::move(r);
    if (!gate->admitted) return refuse(gate->refusal, gate->detail);
  } else if (auto r = check_member_and_time(tap, tap.member->plan, cal, now)) {
    return *std::move(r);
  }
  if (tap.fire_alarm && request.direction == Direction::kEntry)
    return refuse(Reason::kFireAlarm, "no entry during a fire alarm");
  if (request.door.anti_passback && request.door.last_direction == request.direction)
    return refuse(Reason::kAntiPassback,
                  std::string("last passage was already an ") + direction_text(request.direction));
  return Decision{true, Reason::kGranted, {}};
}

Decision decide_machine(const MachineRequest& request) {
  const TapContext& tap = request.tap;
  const Calendar& cal = calendar_of(tap);
  const LocalTime now = cal.to_local(tap.at);
  const MachineFacts& m = request.machine;

  if (auto r = check_credential(tap)) return *std::move(r);
  if (auto r = check_member_and_time(tap, tap.member->plan, cal, now)) return *std::move(r);
  if (tap.fire_alarm) return refuse(Reason::kFireAlarm, "machines stay off during a fire alarm");

  if (m.certification_required) {
    const auto& c = request.certification;
    if (!c || !c->present)
      return refuse(Reason::kNoCertification, "no certification for this machine type");
    if (c->revoked) return refuse(Reason::kCertificationRevoked, "certification revoked");
    // A certification expiring today is still valid today.
    if (c->expires_on && *c->expires_on < now.date)
      return refuse(Reason::kCertificationExpired, "expired after " + to_string(*c->expires_on));
  }
  if (m.locked_out) return refuse(Reason::kMachineLockedOut, "locked out by staff");
  switch (m.readiness) {
    case MachineReadiness::kReady:
      break;
    case MachineReadiness::kStartup:
      return refuse(Reason::kMachineNotReady, "waiting for staff after power-up");
    case MachineReadiness::kOutOfService:
      return refuse(Reason::kMachineNotReady, "out of service");
    case MachineReadiness::kAwaitingCheckoff:
      return refuse(Reason::kMachineNotReady, "waiting for staff check-off");
  }
  if (m.inspection_required) {
    if (!m.next_inspection_due) return refuse(Reason::kInspectionOverdue, "never inspected");
    // Due today is still fine; overdue starts the day after.
    if (*m.next_inspection_due < now.date)
      return refuse(Reason::kInspectionOverdue,
                    "inspection was due " + to_string(*m.next_inspection_due));
  }
  if (m.occupied_by && *m.occupied_by != tap.member->id)
    return refuse(Reason::kMachineInUse, "another member holds the session");
  if (!request.credit_ok) return refuse(Reason::kInsufficientCredit, "balance or credit limit");
  return Decision{true, Reason::kGranted,
                  m.occupied_by ? std::string("member already holds the session") : std::string{}};
}

}  // namespace labgate::gateway::policy
