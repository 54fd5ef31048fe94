#include "labgate/gateway/policy/access.hpp"

#include <catch2/catch.hpp>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "test_time.hpp"

using namespace labgate::gateway::policy;
using labgate::gateway::policy::test::jst;
using labgate::gateway::policy::test::utc;
using labgate::gateway::policy::test::ymd;

namespace {

// Monday 9 March 2026, 10:00 in Tokyo: a plain working day.
const auto kMonday10 = jst(2026, 3, 9, 10, 0);

const Calendar& site_calendar() {
  static const Calendar cal = [] {
    Calendar c;
    c.set_holidays({ymd(2026, 1, 1), ymd(2026, 3, 20), ymd(2027, 1, 1)});
    return c;
  }();
  return cal;
}

TapContext base_tap() {
  TapContext tap;
  tap.at = kMonday10;
  tap.calendar = &site_calendar();
  tap.site_technologies = {Technology::kFelica};
  tap.credential = CredentialFacts{Technology::kDesfire, false};
  MemberFacts m;
  m.id = 7;
  m.status = MemberStatus::kActive;
  m.valid_from = ymd(2026, 1, 1);
  m.valid_until = ymd(2027, 12, 31);
  m.plan.windows = parse_windows("mon-fri 08:30-17:15; sat 10:00-16:00").value();
  tap.member = m;
  return tap;
}

DoorRequest base_door() {
  DoorRequest r;
  r.tap = base_tap();
  r.direction = Direction::kEntry;
  r.door.egress = true;
  return r;
}

MachineRequest base_machine() {
  MachineRequest r;
  r.tap = base_tap();
  r.certification = CertificationFacts{true, ymd(2026, 6, 30), false};
  r.machine.certification_required = true;
  r.machine.inspection_required = true;
  r.machine.next_inspection_due = ymd(2026, 5, 1);
  return r;
}

template <class Request>
struct Row {
  std::string name;
  std::function<void(Request&)> change;
  Reason expected;
};

}  // namespace

static std::vector<Row<DoorRequest>> door_rows() {
  return {
      {"plain entry", [](DoorRequest&) {}, Reason::kGranted},
      {"store down", [](DoorRequest& r) { r.tap.store_available = false; },
       Reason::kStoreUnavailable},
      {"unknown card", [](DoorRequest& r) { r.tap.credential.reset(); },
       Reason::kUnknownCredential},
      {"card without member", [](DoorRequest& r) { r.tap.member.reset(); },
       Reason::kUnknownCredential},
      {"revoked card", [](DoorRequest& r) { r.tap.credential->revoked = true; },
       Reason::kCredentialRevoked},
      {"pending", [](DoorRequest& r) { r.tap.member->status = MemberStatus::kPending; },
       Reason::kMemberPending},
      {"suspended", [](DoorRequest& r) { r.tap.member->status = MemberStatus::kSuspended; },
       Reason::kMemberSuspended},
      {"not yet valid", [](DoorRequest& r) { r.tap.member->valid_from = ymd(2026, 3, 10); },
       Reason::kMemberNotYetValid},
      {"expired", [](DoorRequest& r) { r.tap.member->valid_until = ymd(2026, 3, 8); },
       Reason::kMemberExpired},
      {"uid card, site did not opt in",
       [](DoorRequest& r) { r.tap.credential->technology = Technology::kIso14443a; },
       Reason::kTechnologyNotAllowed},
      {"felica, reader narrows it away",
       [](DoorRequest& r) {
         r.tap.credential->technology = Technology::kFelica;
         r.tap.reader_technologies = TechnologySet{Technology::kIso14443a};
       },
       Reason::kTechnologyNotAllowed},
      {"desfire card that did not authenticate",
       [](DoorRequest& r) {
         r.tap.proof = CardProof{false, true, true, "wrong key"};
       },
       Reason::kCardNotAuthenticated},
      {"desfire enrolled by uid, not issued",
       [](DoorRequest& r) {
         r.tap.proof = CardProof{false, true, true, "application not found"};
         r.tap.credential->needs_issue = true;
       },
       Reason::kCredentialNeedsIssue},
      {"desfire keys of a retired version",
       [](DoorRequest& r) {
         r.tap.proof = CardProof{true, false, true, "key version 1 ended 2026-03-01"};
       },
       Reason::kKeyVersionRetired},
      {"felica accepted by the site",
       [](DoorRequest& r) { r.tap.credential->technology = Technology::kFelica; },
       Reason::kGranted},
      {"before plan hours", [](DoorRequest& r) { r.tap.at = jst(2026, 3, 9, 8, 29); },
       Reason::kOutsidePlanHours},
      {"sunday", [](DoorRequest& r) { r.tap.at = jst(2026, 3, 8, 12, 0); },
       Reason::kOutsidePlanHours},
      {"holiday (Friday 20 March)", [](DoorRequest& r) { r.tap.at = jst(2026, 3, 20, 10, 0); },
       Reason::kHoliday},
      {"closure", [](DoorRequest& r) { r.tap.at = jst(2026, 12, 29, 10, 0); }, Reason::kClosure},
      {"fire alarm at entry", [](DoorRequest& r) { r.tap.fire_alarm = true; }, Reason::kFireAlarm},
      {"anti-passback: already inside",
       [](DoorRequest& r) {
         r.door.anti_passback = true;
         r.door.last_direction = Direction::kEntry;
       },
       Reason::kAntiPassback},
      {"anti-passback: was outside",
       [](DoorRequest& r) {
         r.door.anti_passback = true;
         r.door.last_direction = Direction::kExit;
       },
       Reason::kGranted},
      {"anti-passback: no record yet", [](DoorRequest& r) { r.door.anti_passback = true; },
       Reason::kGranted},
      {"anti-passback off ignores the record",
       [](DoorRequest& r) { r.door.last_direction = Direction::kEntry; }, Reason::kGranted},
      {"doors never refuse for money (no credit field even exists)", [](DoorRequest&) {},
       Reason::kGranted},
      {"room door: a booking admits on a sunday, outside the plan",
       [](DoorRequest& r) {
         r.tap.at = jst(2026, 3, 8, 12, 0);
         r.door.gate = ResourceGate{true, Reason::kOutsideBooking, {}};
       },
       Reason::kGranted},
      {"room door: no booking now",
       [](DoorRequest& r) {
         r.door.gate = ResourceGate{false, Reason::kOutsideBooking, "no booking of room-a now"};
       },
       Reason::kOutsideBooking},
      {"locker: not lent to this member",
       [](DoorRequest& r) {
         r.door.gate = ResourceGate{false, Reason::kNoLockerLoan, "locker 1 is not lent to them"};
       },
       Reason::kNoLockerLoan},
  };
}

TEST_CASE("door: one row per reason a door can give") {
  for (const auto& row : door_rows()) {
    DoorRequest r = base_door();
    row.change(r);
    const Decision d = decide_door(r);
    INFO(row.name << " -> " << to_string(d.reason) << " (" << d.detail << ")");
    CHECK(d.reason == row.expected);
    CHECK(d.granted == (row.expected == Reason::kGranted));
    if (!d.granted) CHECK_FALSE(d.detail.empty());
  }
}

static std::vector<Row<MachineRequest>> machine_rows() {
  return {
      {"plain start", [](MachineRequest&) {}, Reason::kGranted},
      {"store down", [](MachineRequest& r) { r.tap.store_available = false; },
       Reason::kStoreUnavailable},
      {"unknown card", [](MachineRequest& r) { r.tap.credential.reset(); },
       Reason::kUnknownCredential},
      {"revoked card", [](MachineRequest& r) { r.tap.credential->revoked = true; },
       Reason::kCredentialRevoked},
      {"suspended", [](MachineRequest& r) { r.tap.member->status = MemberStatus::kSuspended; },
       Reason::kMemberSuspended},
      {"expired", [](MachineRequest& r) { r.tap.member->valid_until = ymd(2026, 3, 8); },
       Reason::kMemberExpired},
      {"uid card", [](MachineRequest& r) { r.tap.credential->technology = Technology::kIso14443a; },
       Reason::kTechnologyNotAllowed},
      {"after plan hours", [](MachineRequest& r) { r.tap.at = jst(2026, 3, 9, 17, 15); },
       Reason::kOutsidePlanHours},
      {"holiday", [](MachineRequest& r) { r.tap.at = jst(2026, 3, 20, 10, 0); }, Reason::kHoliday},
      {"closure", [](MachineRequest& r) { r.tap.at = jst(2027, 1, 3, 10, 0); }, Reason::kClosure},
      {"fire alarm", [](MachineRequest& r) { r.tap.fire_alarm = true; }, Reason::kFireAlarm},
      {"never certified", [](MachineRequest& r) { r.certification.reset(); },
       Reason::kNoCertification},
      {"certification record absent", [](MachineRequest& r) { r.certification->present = false; },
       Reason::kNoCertification},
      {"certification revoked", [](MachineRequest& r) { r.certification->revoked = true; },
       Reason::kCertificationRevoked},
      {"certification expired",
       [](MachineRequest& r) { r.certification->expires_on = ymd(2026, 3, 8); },
       Reason::kCertificationExpired},
      {"machine needs no certification",
       [](MachineRequest& r) {
         r.certification.reset();
         r.machine.certification_required = false;
       },
       Reason::kGranted},
      {"locked out", [](MachineRequest& r) { r.machine.locked_out = true; },
       Reason::kMachineLockedOut},
      {"startup", [](MachineRequest& r) { r.machine.readiness = MachineReadiness::kStartup; },
       Reason::kMachineNotReady},
      {"out of service",
       [](MachineRequest& r) { r.machine.readiness = MachineReadiness::kOutOfService; },
       Reason::kMachineNotReady},
      {"awaiting check-off",
       [](MachineRequest& r) { r.machine.readiness = MachineReadiness::kAwaitingCheckoff; },
       Reason::kMachineNotReady},
      {"inspection overdue",
       [](MachineRequest& r) { r.machine.next_inspection_due = ymd(2026, 3, 8); },
       Reason::kInspectionOverdue},
      {"never inspected", [](MachineRequest& r) { r.machine.next_inspection_due.reset(); },
       Reason::kInspectionOverdue},
      {"no inspection regime",
       [](MachineRequest& r) {
         r.machine.inspection_required = false;
         r.machine.next_inspection_due.reset();
       },
       Reason::kGranted},
      {"someone else on it", [](MachineRequest& r) { r.machine.occupied_by = 8; },
       Reason::kMachineInUse},
      {"own session", [](MachineRequest& r) { r.machine.occupied_by = 7; }, Reason::kGranted},
      {"no credit", [](MachineRequest& r) { r.credit_ok = false; }, Reason::kInsufficientCredit},
  };
}

TEST_CASE("machine: one row per reason a machine can give") {
  for (const auto& row : machine_rows()) {
    MachineRequest r = base_machine();
    row.change(r);
    const Decision d = decide_machine(r);
    INFO(row.name << " -> " << to_string(d.reason) << " (" << d.detail << ")");
    CHECK(d.reason == row.expected);
    CHECK(d.granted == (row.expected == Reason::kGranted));
    if (!d.granted) CHECK_FALSE(d.detail.empty());
  }
}

TEST_CASE("the two tables cover every reason") {
  // A reason added to the enum must get a row in one of the tables above.
  std::set<Reason> covered;
  for (const auto& row : door_rows()) covered.insert(row.expected);
  for (const auto& row : machine_rows()) covered.insert(row.expected);
  for (auto r : kAllReasons) {
    INFO(to_string(r));
    CHECK(covered.count(r) == 1);
  }
}

TEST_CASE("check order is fixed: the earliest failing check wins") {
  MachineRequest r = base_machine();
  r.tap.fire_alarm = true;
  r.machine.locked_out = true;
  r.machine.occupied_by = 8;
  r.certification.reset();
  CHECK(decide_machine(r).reason == Reason::kFireAlarm);
  r.tap.fire_alarm = false;
  CHECK(decide_machine(r).reason == Reason::kNoCertification);
  r.tap.at = jst(2026, 3, 8, 12, 0);  // Sunday
  CHECK(decide_machine(r).reason == Reason::kOutsidePlanHours);
  r.tap.credential->technology = Technology::kIso14443a;
  CHECK(decide_machine(r).reason == Reason::kTechnologyNotAllowed);
  r.tap.member->status = MemberStatus::kPending;
  CHECK(decide_machine(r).reason == Reason::kMemberPending);
  r.tap.credential->revoked = true;
  CHECK(decide_machine(r).reason == Reason::kCredentialRevoked);
  r.tap.store_available = false;
  CHECK(decide_machine(r).reason == Reason::kStoreUnavailable);

  DoorRequest d = base_door();
  d.tap.at = jst(2027, 1, 1, 10, 0);  // holiday inside the closure
  CHECK(decide_door(d).reason == Reason::kClosure);
  d.tap.member->plan.closure = true;
  CHECK(decide_door(d).reason == Reason::kHoliday);
  d.tap.member->plan.holidays = true;
  CHECK(decide_door(d).reason == Reason::kGranted);  // Friday 10:00, inside the windows
}

TEST_CASE("exit readers with egress let every known member out") {
  DoorRequest r = base_door();
  r.direction = Direction::kExit;

  SECTION("outside plan hours, Sunday night") {
    r.tap.at = jst(2026, 3, 8, 23, 0);
    const Decision d = decide_door(r);
    CHECK(d.granted);
    CHECK(d.detail == "exit allowed despite outside_plan_hours");
  }
  SECTION("during the closure and on a holiday") {
    r.tap.at = jst(2026, 12, 30, 3, 0);
    CHECK(decide_door(r).granted);
    r.tap.at = jst(2026, 3, 20, 3, 0);
    CHECK(decide_door(r).granted);
  }
  SECTION("membership expired while inside") {
    r.tap.member->valid_until = ymd(2026, 3, 8);
    const Decision d = decide_door(r);
    CHECK(d.granted);
    CHECK(d.detail == "exit allowed despite member_expired");
  }
  SECTION("suspended member") {
    r.tap.member->status = MemberStatus::kSuspended;
    CHECK(decide_door(r).granted);
  }
  SECTION("anti-passback never traps anyone") {
    r.door.anti_passback = true;
    r.door.last_direction = Direction::kExit;
    CHECK(decide_door(r).granted);
  }
  SECTION("the card itself must still be valid") {
    r.tap.credential->revoked = true;
    CHECK(decide_door(r).reason == Reason::kCredentialRevoked);
    r.tap.credential.reset();
    CHECK(decide_door(r).reason == Reason::kUnknownCredential);
  }
  SECTION("and of an accepted technology") {
    r.tap.credential->technology = Technology::kIso14443a;
    CHECK(decide_door(r).reason == Reason::kTechnologyNotAllowed);
  }
  SECTION("without egress the exit reader is checked like an entry") {
    r.door.egress = false;
    r.tap.at = jst(2026, 3, 8, 23, 0);
    CHECK(decide_door(r).reason == Reason::kOutsidePlanHours);
    r.tap.at = kMonday10;
    r.door.anti_passback = true;
    r.door.last_direction = Direction::kExit;
    CHECK(decide_door(r).reason == Reason::kAntiPassback);
    SECTION("except during a fire alarm") {
      r.tap.fire_alarm = true;
      r.tap.at = jst(2026, 3, 8, 23, 0);
      CHECK(decide_door(r).granted);
    }
  }
}

TEST_CASE("validity, certification and inspection edges are inclusive of today") {
  MachineRequest r = base_machine();
  r.tap.at = jst(2026, 3, 9, 10, 0);

  r.certification->expires_on = ymd(2026, 3, 9);
  CHECK(decide_machine(r).granted);  // expires today: still valid today
  r.tap.at = jst(2026, 3, 10, 0, 0);
  r.tap.member->plan.windows = TimeWindows::always();
  CHECK(decide_machine(r).reason == Reason::kCertificationExpired);
  r.tap.at = jst(2026, 3, 9, 23, 59);
  CHECK(decide_machine(r).granted);

  r = base_machine();
  r.tap.member->plan.windows = TimeWindows::always();
  r.machine.next_inspection_due = ymd(2026, 3, 9);
  r.tap.at = jst(2026, 3, 9, 23, 59);
  CHECK(decide_machine(r).granted);  // due today: not overdue yet
  r.tap.at = jst(2026, 3, 10, 0, 0);
  CHECK(decide_machine(r).reason == Reason::kInspectionOverdue);
  // 23:30 UTC on the 9th is already the 10th in Tokyo.
  r.tap.at = utc(2026, 3, 9, 15, 0);
  CHECK(decide_machine(r).reason == Reason::kInspectionOverdue);

  DoorRequest d = base_door();
  d.tap.member->plan.windows = TimeWindows::always();
  d.tap.member->valid_until = ymd(2026, 3, 9);
  d.tap.at = jst(2026, 3, 9, 23, 59);
  CHECK(decide_door(d).granted);
  d.tap.at = jst(2026, 3, 10, 0, 0);
  CHECK(decide_door(d).reason == Reason::kMemberExpired);
  d.tap.member->valid_until.reset();
  d.tap.member->valid_from = ymd(2026, 3, 10);
  CHECK(decide_door(d).granted);
  d.tap.at = jst(2026, 3, 9, 23, 59);
  CHECK(decide_door(d).reason == Reason::kMemberNotYetValid);
}

TEST_CASE("JST vs UTC: a tap at 23:30 UTC is judged on the next local day") {
  DoorRequest d = base_door();
  // Friday 6 March 23:30 UTC = Saturday 7 March 08:30 JST: the Saturday window opens at 10:00.
  d.tap.at = utc(2026, 3, 6, 23, 30);
  CHECK(decide_door(d).reason == Reason::kOutsidePlanHours);
  // Thursday 19 March 23:30 UTC = Friday 20 March (holiday) 08:30 JST.
  d.tap.at = utc(2026, 3, 19, 23, 30);
  CHECK(decide_door(d).reason == Reason::kHoliday);
  // The same instant in a UTC calendar is a Thursday night: outside the weekday window.
  Calendar utc_cal{"Etc/UTC"};
  d.tap.calendar = &utc_cal;
  CHECK(decide_door(d).reason == Reason::kOutsidePlanHours);
  d.tap.at = utc(2026, 3, 19, 10, 0);
  CHECK(decide_door(d).granted);
}

TEST_CASE("closure edges: 29 Dec 00:00 JST, 3 Jan 23:59, 4 Jan 00:00") {
  DoorRequest d = base_door();
  d.tap.member->plan.windows = TimeWindows::always();
  d.tap.member->valid_until = ymd(2027, 12, 31);
  d.tap.at = jst(2026, 12, 28, 23, 59);
  CHECK(decide_door(d).granted);
  d.tap.at = jst(2026, 12, 29, 0, 0);
  CHECK(decide_door(d).reason == Reason::kClosure);
  d.tap.at = jst(2027, 1, 3, 23, 59);
  CHECK(decide_door(d).reason == Reason::kClosure);
  d.tap.at = jst(2027, 1, 4, 0, 0);
  CHECK(decide_door(d).granted);

  SECTION("a plan window opened before midnight still stops at the closure") {
    d.tap.member->plan.windows =
        parse_windows("mon 22:00-06:00").value();  // 28 Dec 2026 is a Monday
    d.tap.at = jst(2026, 12, 28, 23, 0);
    CHECK(decide_door(d).granted);
    d.tap.at = jst(2026, 12, 29, 1, 0);
    CHECK(decide_door(d).reason == Reason::kClosure);
    d.tap.member->plan.closure = true;
    CHECK(decide_door(d).granted);
  }
}

TEST_CASE("technology acceptance") {
  const TechnologySet none;
  const TechnologySet both{Technology::kIso14443a, Technology::kFelica};
  CHECK(technology_accepted(Technology::kDesfire, none, std::nullopt));
  CHECK(technology_accepted(Technology::kDesfire, none, TechnologySet{}));
  CHECK_FALSE(technology_accepted(Technology::kFelica, none, std::nullopt));
  CHECK(technology_accepted(Technology::kFelica, both, std::nullopt));
  CHECK_FALSE(
      technology_accepted(Technology::kFelica, both, TechnologySet{Technology::kIso14443a}));
  CHECK_FALSE(technology_accepted(Technology::kFelica, TechnologySet{},
                                  TechnologySet{Technology::kFelica}));
  for (auto t : {Technology::kDesfire, Technology::kIso14443a, Technology::kFelica})
    CHECK(parse_technology(to_string(t)) == t);
  CHECK_FALSE(parse_technology("mifare"));
}

TEST_CASE("a null calendar means the default Asia/Tokyo calendar") {
  DoorRequest d = base_door();
  d.tap.calendar = nullptr;
  d.tap.at = jst(2026, 3, 9, 8, 30);
  CHECK(decide_door(d).granted);
  d.tap.at = jst(2026, 3, 9, 8, 29);
  CHECK(decide_door(d).reason == Reason::kOutsidePlanHours);
}
