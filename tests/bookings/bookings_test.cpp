// The booking rules at their edges (policy/booking), the store's bookings and locker loans
// (grid, hours, closure, capacity, overlap, no-show settling, two writers booking one slot), and
// the reads the room reader decides on.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "labgate/gateway/billing/changes.hpp"
#include "labgate/gateway/policy/booking.hpp"
#include "labgate/gateway/store/store.hpp"
#include "must.hpp"
#include "process.hpp"
#include "schema.hpp"

using namespace labgate::gateway;
using labgate::testing::must;
using labgate::testing::TempDir;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

const policy::Calendar& tokyo() {
  static const policy::Calendar cal = [] {
    policy::Calendar c("Asia/Tokyo");
    c.add_holiday(*policy::parse_date("2026-12-09"));
    return c;
  }();
  return cal;
}

policy::Instant at(const char* date, int hh, int mm) {
  return tokyo().to_sys(*policy::parse_date(date), hh * 60 + mm);
}

std::int64_t ms(policy::Instant t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

policy::RoomRules room_rules() {
  policy::RoomRules r;
  r.capacity = 4;
  r.hours.windows = policy::parse_windows("mon-fri 09:00-21:00; sat 10:00-17:00").value();
  r.grid_minutes = 30;
  r.lead_minutes = 0;
  r.max_advance_days = 60;
  r.max_minutes = 8 * 60;
  r.cancel_minutes = 60;
  r.early_entry_minutes = 10;
  r.no_show_minutes = 15;
  return r;
}

std::string_view code_of(const std::optional<policy::BookingRefusal>& r) {
  return r ? r->code : std::string_view("allowed");
}

}  // namespace

// 2026-12-07 is a Monday; 2026-12-09 a holiday in this calendar.
TEST_CASE("booking rules: grid, hours, lead, capacity", "[bookings][rules]") {
  const auto rules = room_rules();
  const auto now = at("2026-12-07", 8, 0);
  auto check = [&](policy::Instant s, policy::Instant e, int people = 1) {
    return code_of(policy::check_booking(rules, tokyo(), s, e, now, people));
  };
  CHECK(check(at("2026-12-07", 9, 0), at("2026-12-07", 10, 0)) == "allowed");
  CHECK(check(at("2026-12-07", 20, 30), at("2026-12-07", 21, 0)) == "allowed");
  // Opening hours: the first minute and the last are both checked.
  CHECK(check(at("2026-12-07", 8, 30), at("2026-12-07", 9, 30)) == "outside_opening_hours");
  CHECK(check(at("2026-12-07", 20, 30), at("2026-12-07", 21, 30)) == "outside_opening_hours");
  CHECK(check(at("2026-12-13", 10, 0), at("2026-12-13", 11, 0)) == "outside_opening_hours");
  // Grid: starts on a grid line, whole steps, whole minutes.
  CHECK(check(at("2026-12-07", 9, 15), at("2026-12-07", 10, 15)) == "off_grid");
  CHECK(check(at("2026-12-07", 9, 0), at("2026-12-07", 9, 45)) == "off_grid");
  CHECK(check(at("2026-12-07", 9, 0) + seconds(1), at("2026-12-07", 10, 0) + seconds(1)) ==
        "off_grid");
  CHECK(check(at("2026-12-07", 10, 0), at("2026-12-07", 10, 0)) == "off_grid");
  // Past and lead time: a start one second before now is in the past.
  CHECK(
      code_of(policy::check_booking(rules, tokyo(), at("2026-12-07", 9, 0), at("2026-12-07", 10, 0),
                                    at("2026-12-07", 9, 0) + seconds(1), 1)) == "in_the_past");
  CHECK(code_of(policy::check_booking(rules, tokyo(), at("2026-12-07", 9, 0),
                                      at("2026-12-07", 10, 0), at("2026-12-07", 9, 0), 1)) ==
        "allowed");
  auto lead = rules;
  lead.lead_minutes = 60;
  CHECK(
      code_of(policy::check_booking(lead, tokyo(), at("2026-12-07", 9, 0), at("2026-12-07", 10, 0),
                                    at("2026-12-07", 8, 0) + seconds(1), 1)) == "too_short_notice");
  CHECK(code_of(policy::check_booking(lead, tokyo(), at("2026-12-07", 9, 0),
                                      at("2026-12-07", 10, 0), at("2026-12-07", 8, 0), 1)) ==
        "allowed");
  CHECK(check(at("2027-02-08", 9, 0), at("2027-02-08", 10, 0)) == "too_far_ahead");
  CHECK(check(at("2026-12-07", 9, 0), at("2026-12-07", 17, 30)) == "too_long");
  // Capacity counts the member and the guests.
  CHECK(check(at("2026-12-07", 9, 0), at("2026-12-07", 10, 0), 4) == "allowed");
  CHECK(check(at("2026-12-07", 9, 0), at("2026-12-07", 10, 0), 5) == "over_capacity");
  // A holiday closes the room unless it opens on holidays.
  CHECK(check(at("2026-12-09", 10, 0), at("2026-12-09", 11, 0)) == "holiday");
  auto holidays = rules;
  holidays.hours.holidays = true;
  CHECK(code_of(policy::check_booking(holidays, tokyo(), at("2026-12-09", 10, 0),
                                      at("2026-12-09", 11, 0), now, 1)) == "allowed");
}

TEST_CASE("booking rules: across midnight and into the closure", "[bookings][rules]") {
  auto rules = room_rules();
  rules.hours.windows = policy::parse_windows("daily 20:00-02:00").value();
  const auto now = at("2026-12-07", 8, 0);
  auto check = [&](policy::Instant s, policy::Instant e) {
    return code_of(policy::check_booking(rules, tokyo(), s, e, now, 1));
  };
  CHECK(check(at("2026-12-07", 23, 0), at("2026-12-08", 1, 0)) == "allowed");
  CHECK(check(at("2026-12-07", 23, 0), at("2026-12-08", 2, 0)) == "allowed");
  CHECK(check(at("2026-12-07", 23, 0), at("2026-12-08", 2, 30)) == "outside_opening_hours");
  // The yearly closure starts at 00:00 on 29 Dec: a booking running into it is refused.
  CHECK(check(at("2026-12-28", 22, 0), at("2026-12-28", 23, 30)) == "allowed");
  CHECK(check(at("2026-12-28", 23, 0), at("2026-12-29", 0, 30)) == "closure");
  CHECK(check(at("2026-12-28", 23, 0), at("2026-12-29", 0, 0)) == "allowed");
}

TEST_CASE("booking rules: the reader's window and the no-show timer, to the second",
          "[bookings][rules]") {
  const auto rules = room_rules();  // early entry 10 min, no-show 15 min
  const auto start = at("2026-12-07", 10, 0);
  const auto end = at("2026-12-07", 11, 0);
  const auto open = start - minutes(10);
  CHECK_FALSE(policy::admits(rules, start, end, open - seconds(1)));
  CHECK(policy::admits(rules, start, end, open));
  CHECK(policy::admits(rules, start, end, open + seconds(1)));
  CHECK(policy::admits(rules, start, end, end - seconds(1)));
  CHECK_FALSE(policy::admits(rules, start, end, end));
  CHECK_FALSE(policy::admits(rules, start, end, end + seconds(1)));
  CHECK(policy::no_show_at(rules, start) == start + minutes(15));
  // Cancel rule: an hour before the start at the latest.
  CHECK(code_of(policy::check_cancel(rules, start, start - minutes(60))) == "allowed");
  CHECK(code_of(policy::check_cancel(rules, start, start - minutes(60) + seconds(1))) ==
        "too_late_to_cancel");
}

namespace {

store::SiteKey key() {
  store::SiteKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(0x33 + i);
  return k;
}

struct Site {
  TempDir dir;
  std::filesystem::path path = dir.file("labgate.db");
  std::int64_t now = ms(at("2026-12-07", 8, 0));

  std::unique_ptr<store::Store> open() {
    store::StoreOptions o;
    o.site_key = key();
    o.clock = [this] { return now; };
    auto s = store::Store::open(path, o);
    INFO((s ? std::string() : s.error().message));
    REQUIRE(s.ok());
    return std::move(*s);
  }

  void seed(store::Store& s) {
    for (const char* no : {"M1", "M2", "M3", "M4", "M5", "M6"}) {
      must(s.staff().add_member(
          {no, std::string("Member ") + no, "", std::nullopt, std::nullopt, std::nullopt},
          "staff"));
      if (std::string(no) != "M6") must(s.staff().approve_member(no, "staff"));
    }
    store::Room room{"room-a", "Room A", "room-a-door", room_rules(), 1200};
    store::Locker locker{"L01", "Locker 1", std::string("locker-1-door"), 1500};
    must(s.bookings().sync_site({room}, {locker}, {*policy::parse_date("2026-12-09")},
                                policy::Closure{}));
  }
};

store::NewBooking booking(const char* member, policy::Instant s, policy::Instant e,
                          std::vector<std::string> guests = {}) {
  return store::NewBooking{"room-a", member, ms(s), ms(e), std::move(guests), ""};
}

std::string_view refusal(const store::Result<store::Booking>& r) {
  return r.ok() ? std::string_view("booked") : store::refusal_code(r.error());
}

// `member` let in at room-a's door at `when`, recorded as the tap path records it.
void let_in(store::Store& s, const char* uuid, const char* member, policy::Instant when) {
  store::AccessEvent e;
  e.uuid = uuid;
  e.at_ms = ms(when);
  e.door_id = "room-a-door";
  e.member_id = must(s.taps().member_by_no(member)).value().id;
  e.kind = "tap";
  e.decision = store::Decision::kGranted;
  e.reason = "ok";
  must(s.events().record_access(e, store::OutboxMessage{"t/access", "{}", false}));
}

// Issues `month` as the admin channel does (settling its no-shows first).
store::Result<nlohmann::ordered_json> issue_month(store::Store& s, const char* month) {
  store::Actor actor;
  actor.label = "staff";
  return billing::apply_change(
      s, nlohmann::json{{"op", "statements.issue"}, {"args", {{"month", month}}}}, actor);
}

}  // namespace

TEST_CASE("store: bookings refused with their reasons", "[bookings][store]") {
  Site site;
  auto s = site.open();
  site.seed(*s);
  auto& b = s->bookings();
  const auto nine = at("2026-12-07", 9, 0);
  const auto ten = at("2026-12-07", 10, 0);
  CHECK(refusal(b.add(booking("M1", nine, ten, {"M2"}), "staff")) == "booked");
  CHECK(refusal(b.add(booking("M3", nine + minutes(30), ten + minutes(30)), "staff")) == "overlap");
  CHECK(refusal(b.add(booking("M3", ten, ten + minutes(30)), "staff")) == "booked");
  CHECK(refusal(b.add(booking("M9", at("2026-12-07", 12, 0), at("2026-12-07", 13, 0)), "staff")) ==
        "unknown_member");
  CHECK(refusal(b.add(booking("M6", at("2026-12-07", 12, 0), at("2026-12-07", 13, 0)), "staff")) ==
        "member_not_active");
  CHECK(refusal(b.add(booking("M1", at("2026-12-07", 12, 0), at("2026-12-07", 13, 0),
                              {"M2", "M3", "M4", "M5"}),
                      "staff")) == "over_capacity");
  CHECK(refusal(b.add(booking("M1", at("2026-12-07", 7, 0), at("2026-12-07", 7, 30)), "staff")) ==
        "in_the_past");
  CHECK(refusal(b.add(booking("M1", at("2026-12-07", 21, 0), at("2026-12-07", 22, 0)), "staff")) ==
        "outside_opening_hours");
  CHECK(refusal(b.add(booking("M1", at("2026-12-09", 10, 0), at("2026-12-09", 11, 0)), "staff")) ==
        "holiday");
  auto other = booking("M1", at("2026-12-07", 12, 0), at("2026-12-07", 13, 0));
  other.room_id = "room-z";
  CHECK(refusal(b.add(other, "staff")) == "unknown_room");

  // The reads the room reader decides on.
  const auto m1 = must(s->taps().member_id("M1"));
  const auto m2 = must(s->taps().member_id("M2"));
  const auto m3 = must(s->taps().member_id("M3"));
  const std::int64_t early = 10 * 60'000;
  CHECK_FALSE(must(s->taps().booking_admits("room-a", m1, ms(nine - minutes(10)) - 1000, early)));
  CHECK(must(s->taps().booking_admits("room-a", m1, ms(nine - minutes(10)), early)));
  CHECK(must(s->taps().booking_admits("room-a", m2, ms(ten) - 1000, early)));
  CHECK_FALSE(must(s->taps().booking_admits("room-a", m2, ms(ten), early)));
  CHECK_FALSE(must(s->taps().booking_admits("room-a", m3, ms(nine), early)));
  // M3's own booking from ten admits M3 from 09:50 (inside M1's booking, but M3's window).
  CHECK(must(s->taps().booking_admits("room-a", m3, ms(ten - minutes(10)), early)));

  // Cancelling frees the slots; the cancel rule is an hour before the start.
  auto all = must(b.list({}));
  REQUIRE(all.size() == 2);
  site.now = ms(ten - minutes(60)) + 1000;
  auto late = b.cancel(all[1].id, "staff");
  REQUIRE_FALSE(late.ok());
  CHECK(store::refusal_code(late.error()) == "too_late_to_cancel");
  site.now = ms(ten - minutes(60));
  CHECK(must(b.cancel(all[1].id, "staff")).state == "cancelled");
  CHECK_FALSE(must(s->taps().booking_admits("room-a", m3, ms(ten), early)));
  site.now = ms(at("2026-12-07", 8, 0));
  CHECK(refusal(b.add(booking("M4", ten, ten + minutes(60)), "staff")) == "booked");
}

TEST_CASE("store: the no-show timer releases an unused booking", "[bookings][store]") {
  Site site;
  auto s = site.open();
  site.seed(*s);
  auto& b = s->bookings();
  const auto ten = at("2026-12-07", 10, 0);
  const auto id = must(b.add(booking("M1", ten, ten + minutes(60)), "staff")).id;
  // One second before start + 15 min: still booked, the slot still taken.
  site.now = ms(ten + minutes(15)) - 1000;
  CHECK(must(b.settle_no_shows()) == 0);
  CHECK(must(b.booking(id))->state == "booked");
  site.now = ms(ten + minutes(15));
  CHECK(must(b.settle_no_shows()) == 1);
  CHECK(must(b.booking(id))->state == "no_show");
  const auto m1 = must(s->taps().member_id("M1"));
  CHECK_FALSE(must(s->taps().booking_admits("room-a", m1, ms(ten + minutes(20)), 600'000)));
  // The released slot can be booked again (from 10:30, the next grid line ahead).
  CHECK(refusal(b.add(booking("M2", ten + minutes(30), ten + minutes(60)), "staff")) == "booked");
}

TEST_CASE("store: a booking someone came in for is held, not a no-show", "[bookings][store]") {
  Site site;
  auto s = site.open();
  site.seed(*s);
  auto& b = s->bookings();
  const auto ten = at("2026-12-07", 10, 0);
  const auto id = must(b.add(booking("M1", ten, ten + minutes(60), {"M2"}), "staff")).id;
  // The guest was let in at the room's door five minutes before the start.
  store::AccessEvent e;
  e.uuid = "0b7a5f1e-5c1d-4c57-9a53-7d0e2f6b1c01";
  e.at_ms = ms(ten - minutes(5));
  e.reader_id = "room-a-reader";
  e.door_id = "room-a-door";
  e.kind = "tap_entry";
  e.decision = store::Decision::kGranted;
  e.reason = "granted";
  e.member_id = must(s->taps().member_id("M2"));
  must(s->events().record_access(e, store::OutboxMessage{"t", "{}", false}));
  site.now = ms(ten + minutes(15));
  CHECK(must(b.settle_no_shows()) == 0);
  CHECK(must(b.booking(id))->state == "held");
}

TEST_CASE("store: two writers booking one slot leave exactly one booking", "[bookings][store]") {
  Site site;
  {
    auto s = site.open();
    site.seed(*s);
  }
  const auto ten = at("2026-12-07", 10, 0);
  for (int round = 0; round < 10; ++round) {
    const auto start = ten + std::chrono::hours(round);
    std::vector<std::string> outcome(2);
    std::vector<std::thread> writers;
    for (int w = 0; w < 2; ++w) {
      writers.emplace_back([&, w] {
        store::StoreOptions o;
        o.site_key = key();
        o.clock = [&site] { return site.now; };
        auto st = store::Store::open(site.path, o);
        if (!st.ok()) {
          outcome[static_cast<std::size_t>(w)] = "open failed";
          return;
        }
        auto r = (*st)->bookings().add(booking(w == 0 ? "M1" : "M2", start, start + minutes(30)),
                                       "staff");
        outcome[static_cast<std::size_t>(w)] =
            r.ok() ? "booked" : std::string(store::refusal_code(r.error()));
      });
    }
    for (auto& t : writers) t.join();
    INFO("round " << round << ": " << outcome[0] << " / " << outcome[1]);
    CHECK(((outcome[0] == "booked") != (outcome[1] == "booked")));
    CHECK(((outcome[0] == "overlap") || (outcome[1] == "overlap")));
  }
  auto s = site.open();
  store::BookingFilter f;
  CHECK(must(s->bookings().list(f)).size() == 10);
}

TEST_CASE("store: lockers lent, opened for the holder, overdue, returned", "[bookings][store]") {
  Site site;
  auto s = site.open();
  site.seed(*s);
  auto& b = s->bookings();
  must(b.lend("L01", "M1", std::string("2026-12-07"), "2026-12-31", "staff"));
  auto again = b.lend("L01", "M2", std::nullopt, "2026-12-31", "staff");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().kind == store::ErrorKind::kConflict);
  const auto m1 = must(s->taps().member_id("M1"));
  const auto m2 = must(s->taps().member_id("M2"));
  CHECK(must(s->taps().loan_admits("L01", m1, "2026-12-07")));
  CHECK(must(s->taps().loan_admits("L01", m1, "2026-12-31")));
  CHECK_FALSE(must(s->taps().loan_admits("L01", m1, "2027-01-01")));
  CHECK_FALSE(must(s->taps().loan_admits("L01", m2, "2026-12-10")));
  CHECK(must(b.lockers())[0].overdue == false);
  site.now = ms(at("2027-01-05", 10, 0));
  auto map = must(b.lockers());
  REQUIRE(map[0].loan);
  CHECK(map[0].overdue);
  must(b.give_back("L01", "staff"));
  CHECK_FALSE(must(b.lockers())[0].loan);
  CHECK_FALSE(must(s->taps().loan_admits("L01", m1, "2026-12-10")));
}

TEST_CASE("decision: a room's or locker's door admits by its gate, not by the plan",
          "[bookings][policy]") {
  policy::DoorRequest req;
  req.tap.at = at("2026-12-06", 23, 0);  // a Sunday night, outside the member's plan
  req.tap.calendar = &tokyo();
  req.tap.credential = policy::CredentialFacts{policy::Technology::kDesfire, false, false};
  req.tap.proof = policy::CardProof{true, true, true, {}};
  policy::MemberFacts m;
  m.plan.windows = policy::parse_windows("mon-fri 09:00-17:00").value();
  req.tap.member = m;
  // Without a gate the plan refuses.
  CHECK(policy::decide_door(req).reason == policy::Reason::kOutsidePlanHours);
  // A booking admits whatever the plan says.
  req.door.gate = policy::ResourceGate{true, policy::Reason::kOutsideBooking, {}};
  CHECK(policy::decide_door(req).granted);
  // Outside the booking: its own reason.
  req.door.gate = policy::ResourceGate{false, policy::Reason::kOutsideBooking, "no booking"};
  auto d = policy::decide_door(req);
  CHECK_FALSE(d.granted);
  CHECK(d.reason == policy::Reason::kOutsideBooking);
  CHECK(policy::to_string(d.reason) == "outside_booking");
  req.door.gate = policy::ResourceGate{false, policy::Reason::kNoLockerLoan, "not lent"};
  CHECK(policy::decide_door(req).reason == policy::Reason::kNoLockerLoan);
  // The member's own status still comes first.
  req.tap.member->status = policy::MemberStatus::kSuspended;
  req.door.gate = policy::ResourceGate{true, policy::Reason::kOutsideBooking, {}};
  CHECK(policy::decide_door(req).reason == policy::Reason::kMemberSuspended);
  // And the fire alarm keeps everyone out.
  req.tap.member->status = policy::MemberStatus::kActive;
  req.tap.fire_alarm = true;
  CHECK(policy::decide_door(req).reason == policy::Reason::kFireAlarm);
}

TEST_CASE("billing reads: booked time per grid step, a charged no-show, a locker month",
          "[bookings][billing]") {
  Site site;
  auto s = site.open();
  site.seed(*s);
  auto& b = s->bookings();
  // 1200 yen an hour on a 30-minute grid: 600 a step. 90 minutes held, 60 cancelled.
  const auto held =
      must(b.add(booking("M1", at("2026-12-07", 10, 0), at("2026-12-07", 11, 30)), "staff"));
  const auto gone =
      must(b.add(booking("M2", at("2026-12-07", 13, 0), at("2026-12-07", 14, 0)), "staff"));
  must(b.cancel(gone.id, "staff"));
  must(b.lend("L01", "M3", std::string("2026-11-20"), "2027-01-31", "staff"));
  std::vector<store::UsageSale> lines;
  const auto month_begin = ms(at("2026-12-01", 0, 0));
  const auto month_end = ms(at("2027-01-01", 0, 0));
  must(store::Bookings::scan_usage(s->database(), month_begin, month_end, "2026-12-01",
                                   "2026-12-31", std::nullopt,
                                   [&](store::UsageSale&& u) { lines.push_back(std::move(u)); }));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].item_code == "room:room-a");
  CHECK(lines[0].id == held.id);
  CHECK(lines[0].quantity == 3);
  CHECK(lines[0].unit_price == 600);
  CHECK(lines[1].item_code == "locker:L01");
  CHECK(lines[1].quantity == 1);
  CHECK(lines[1].unit_price == 1500);
  // The room charges no-shows in this test's rules only when told: not here, so a no-show of
  // M1's booking drops out of the month.
  site.now = ms(at("2026-12-07", 10, 15));
  CHECK(must(b.settle_no_shows()) == 1);
  lines.clear();
  must(store::Bookings::scan_usage(s->database(), month_begin, month_end, "", "", std::nullopt,
                                   [&](store::UsageSale&& u) { lines.push_back(std::move(u)); }));
  CHECK(lines.empty());
}

TEST_CASE("issuing a month settles its no-shows first: an unused room is not billed as booked",
          "[bookings][billing]") {
  Site site;
  auto s = site.open();
  site.seed(*s);
  // Two bookings of M1; nobody comes to the first, M1 is let in at the door for the second.
  must(s->bookings().add(booking("M1", at("2026-12-07", 10, 0), at("2026-12-07", 11, 0)), "staff"));
  must(s->bookings().add(booking("M1", at("2026-12-07", 14, 0), at("2026-12-07", 15, 0)), "staff"));
  let_in(*s, "in-1", "M1", at("2026-12-07", 13, 55));
  // Nothing listed, added or cancelled a booking since: both are still recorded as booked.
  CHECK(must(s->database().query_int64("SELECT COUNT(*) FROM bookings WHERE state = 'booked'")) ==
        2);
  site.now = ms(at("2027-01-05", 9, 0));
  auto out = issue_month(*s, "2026-12");
  INFO((out ? out->dump() : out.error().message));
  REQUIRE(out.ok());
  // The unused booking became a no-show (not charged under these rules); the used one is billed:
  // one hour on a 30-minute grid at 1200 yen an hour.
  CHECK(must(s->database().query_int64("SELECT COUNT(*) FROM bookings WHERE state = 'no_show'")) ==
        1);
  REQUIRE((*out)["issued"].size() == 1);
  CHECK((*out)["issued"][0]["member_no"] == "M1");
  CHECK((*out)["issued"][0]["total"] == 1200);
}

// ---- effective-dated rates of rooms and lockers (docs/BOOKINGS.md, "Rates") ----

namespace {

std::vector<store::UsageSale> month_lines(store::Store& s, const char* first, const char* next,
                                          const char* last_day) {
  std::vector<store::UsageSale> lines;
  must(store::Bookings::scan_usage(s.database(), ms(at(first, 0, 0)), ms(at(next, 0, 0)), first,
                                   last_day, std::nullopt,
                                   [&](store::UsageSale&& u) { lines.push_back(std::move(u)); }));
  return lines;
}

store::NewResourceRate resource_rate(const char* kind, const char* id, std::int64_t price,
                                     std::int64_t from_ms) {
  return store::NewResourceRate{kind, id, price, from_ms, "test"};
}

}  // namespace

TEST_CASE("room rates: a booking is billed under the rate in force at its start, to the ms",
          "[bookings][billing][rates]") {
  // A rate change 1 ms before, at, and 1 ms after the booking's start: 1200 yen an hour before
  // (600 a 30-minute step), 1800 after (900 a step).
  for (const std::int64_t offset : {-1, 0, 1}) {
    Site site;
    auto s = site.open();
    site.seed(*s);
    const auto start = at("2026-12-08", 10, 0);
    must(s->bookings().add(booking("M1", start, start + minutes(60)), "staff"));
    const auto rate = must(s->bookings().set_resource_rate(
        resource_rate("room", "room-a", 1800, ms(start) + offset), "mona"));
    CHECK(rate.target() == "room:room-a");
    const auto lines = month_lines(*s, "2026-12-01", "2027-01-01", "2026-12-31");
    REQUIRE(lines.size() == 1);  // the locker is not lent
    INFO("offset " << offset);
    CHECK(lines[0].item_code == "room:room-a");
    CHECK(lines[0].quantity == 2);
    CHECK(lines[0].unit_price == (offset <= 0 ? 900 : 600));
  }
}

TEST_CASE("locker rates: a month is billed at the rate in force at its first midnight",
          "[bookings][billing][rates]") {
  Site site;
  auto s = site.open();
  site.seed(*s);
  auto& b = s->bookings();
  must(b.lend("L01", "M3", std::string("2026-11-20"), "2027-03-31", "staff"));
  // Mid-December: December stays at the config's 1500, January pays 2000. Then one ms after
  // February's first midnight: February still pays 2000, March 2500.
  must(b.set_resource_rate(resource_rate("locker", "L01", 2000, ms(at("2026-12-15", 0, 0))),
                           "mona"));
  must(b.set_resource_rate(resource_rate("locker", "L01", 2500, ms(at("2027-02-01", 0, 0)) + 1),
                           "mona"));
  const auto price = [&](const char* first, const char* next, const char* last) {
    const auto lines = month_lines(*s, first, next, last);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].item_code == "locker:L01");
    return lines[0].unit_price;
  };
  CHECK(price("2026-12-01", "2027-01-01", "2026-12-31") == 1500);
  CHECK(price("2027-01-01", "2027-02-01", "2027-01-31") == 2000);
  CHECK(price("2027-02-01", "2027-03-01", "2027-02-28") == 2000);
  CHECK(price("2027-03-01", "2027-04-01", "2027-03-31") == 2500);
  // The history: the config's rate since always, each ended where the next begins.
  const auto all = must(b.resource_rates(std::string("locker"), true));
  REQUIRE(all.size() == 3);
  CHECK(all[0].effective_from_ms == 0);
  CHECK(all[0].created_by == "config");
  CHECK(all[0].effective_until_ms == ms(at("2026-12-15", 0, 0)));
  CHECK(all[1].effective_until_ms == ms(at("2027-02-01", 0, 0)) + 1);
  CHECK_FALSE(all[2].effective_until_ms.has_value());
  // Without history, the one in force now (the config's) and the coming ones.
  CHECK(must(b.resource_rates(std::string("locker"), false)).size() == 3);
  // A rate that would start at or before a coming one is refused: withdraw is not offered, so
  // the history stays a line.
  auto over =
      b.set_resource_rate(resource_rate("locker", "L01", 1, ms(at("2027-01-10", 0, 0))), "mona");
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().kind == store::ErrorKind::kConflict);
  CHECK(over.error().message.find("overlaps rate") != std::string::npos);
  // Every change is audited like the machines' rate changes.
  CHECK(must(s->database().query_int64("SELECT COUNT(*) FROM audit_log WHERE action = "
                                       "'rate_set' AND subject = 'locker:L01'")) == 2);
}

TEST_CASE("resource rates: a change reaching into an issued month is refused, naming it",
          "[bookings][billing][rates]") {
  Site site;
  auto s = site.open();
  site.seed(*s);
  auto& b = s->bookings();
  must(b.add(booking("M1", at("2026-12-08", 10, 0), at("2026-12-08", 11, 0)), "staff"));
  must(b.lend("L01", "M2", std::string("2026-12-01"), "2027-03-31", "staff"));
  // M1 comes in, so the booking is held and billed.
  let_in(*s, "in-rates", "M1", at("2026-12-08", 9, 55));
  site.now = ms(at("2027-01-05", 9, 0));
  auto out = issue_month(*s, "2026-12");
  INFO((out ? out->dump() : out.error().message));
  REQUIRE(out.ok());
  REQUIRE((*out)["issued"].size() == 2);
  // From the booking's start: it would change M1's December. One ms later it would not, and it
  // is refused only as a start in the past.
  auto room = b.set_resource_rate(
      resource_rate("room", "room-a", 1800, ms(at("2026-12-08", 10, 0))), "mona");
  REQUIRE_FALSE(room.ok());
  CHECK(room.error().kind == store::ErrorKind::kConflict);
  CHECK(room.error().message.find("issued") != std::string::npos);
  CHECK(room.error().message.find("M1 (2026-12)") != std::string::npos);
  auto later = b.set_resource_rate(
      resource_rate("room", "room-a", 1800, ms(at("2026-12-08", 10, 0)) + 1), "mona");
  REQUIRE_FALSE(later.ok());
  CHECK(later.error().message.find("starts in the past") != std::string::npos);
  CHECK(later.error().message.find("issued") == std::string::npos);
  // A locker rate from December's first midnight would change M2's December; from one ms after
  // it, only January on, which is not issued (still refused: in the past).
  auto locker =
      b.set_resource_rate(resource_rate("locker", "L01", 2000, ms(at("2026-12-01", 0, 0))), "mona");
  REQUIRE_FALSE(locker.ok());
  CHECK(locker.error().message.find("M2 (2026-12)") != std::string::npos);
  auto locker_later = b.set_resource_rate(
      resource_rate("locker", "L01", 2000, ms(at("2026-12-01", 0, 0)) + 1), "mona");
  REQUIRE_FALSE(locker_later.ok());
  CHECK(locker_later.error().message.find("issued") == std::string::npos);
  // Nothing was written by the refusals; from now on it is accepted.
  CHECK(must(s->database().query_int64("SELECT COUNT(*) FROM resource_rates")) == 2);
  CHECK(must(b.set_resource_rate({"room", "room-a", 1800, std::nullopt, ""}, "mona")).price ==
        1800);
  // Bad input: unknown resource, bad kind, negative price.
  auto unknown = b.set_resource_rate({"room", "room-z", 1, std::nullopt, ""}, "mona");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().kind == store::ErrorKind::kNotFound);
  CHECK_FALSE(b.set_resource_rate({"desk", "room-a", 1, std::nullopt, ""}, "mona").ok());
  CHECK_FALSE(b.set_resource_rate({"room", "room-a", -1, std::nullopt, ""}, "mona").ok());
}

TEST_CASE("resource rates: the config's rate seeds the history once and never overwrites it",
          "[bookings][rates]") {
  Site site;
  auto s = site.open();
  site.seed(*s);
  auto& b = s->bookings();
  must(b.set_resource_rate(resource_rate("room", "room-a", 1800, ms(at("2026-12-10", 0, 0))),
                           "mona"));
  // A restart with other numbers in the config (and a new room): the history stays, the new
  // room gets its config rate as its first.
  store::Room room{"room-a", "Room A", "room-a-door", room_rules(), 3000};
  store::Room room_b{"room-b", "Room B", "room-b-door", room_rules(), 900};
  store::Locker locker{"L01", "Locker 1", std::string("locker-1-door"), 9999};
  must(b.sync_site({room, room_b}, {locker}, {}, policy::Closure{}));
  must(b.sync_site({room, room_b}, {locker}, {}, policy::Closure{}));
  const auto rooms = must(b.resource_rates(std::string("room"), true));
  REQUIRE(rooms.size() == 3);
  CHECK(must(b.resource_rate_at("room", "room-a", ms(at("2026-12-09", 12, 0))))->price == 1200);
  CHECK(must(b.resource_rate_at("room", "room-a", ms(at("2026-12-10", 0, 0))))->price == 1800);
  CHECK(must(b.resource_rate_at("room", "room-b", 0))->price == 900);
  CHECK(must(b.resource_rate_at("locker", "L01", ms(at("2027-01-01", 0, 0))))->price == 1500);
  // The rooms table keeps the config's number (what the config says), billing the history's.
  must(b.add(booking("M1", at("2026-12-11", 10, 0), at("2026-12-11", 11, 0)), "staff"));
  const auto lines = month_lines(*s, "2026-12-01", "2027-01-01", "2026-12-31");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].unit_price == 900);  // 1800 an hour, 30-minute steps
}

TEST_CASE("migration: a schema-11 database's rooms and lockers keep their rate since always",
          "[bookings][rates][migration]") {
  TempDir dir;
  const auto path = dir.file("old.db");
  {
    auto db = store::Database::open(path, {});
    REQUIRE(db.ok());
    std::string script;
    for (std::size_t v = 0; v < 11; ++v) script += store::detail::kMigrations[v];
    script +=
        "INSERT INTO rooms VALUES ('room-a', 'Room A', 'door-a', 4, 'mon-fri 09:00-17:00', 0, 0, "
        "30, 0, 60, 480, 60, 10, 15, 0, 1200, 1);"
        "INSERT INTO lockers VALUES ('L01', 'Locker 1', NULL, 1500, 1);"
        "PRAGMA user_version = 11; PRAGMA application_id = 1279412052;";
    REQUIRE((*db)->execute_script(script).ok());
  }
  store::StoreOptions o;
  o.site_key = key();
  auto s = store::Store::open(path, o);
  INFO((s ? std::string() : s.error().message));
  REQUIRE(s.ok());
  CHECK(must((*s)->schema_version()) == store::kSchemaVersion);
  auto& b = (*s)->bookings();
  const auto room = must(b.resource_rate_at("room", "room-a", 0));
  REQUIRE(room.has_value());
  CHECK(room->price == 1200);
  CHECK_FALSE(room->effective_until_ms.has_value());
  CHECK(must(b.resource_rate_at("locker", "L01", ms(at("2030-01-01", 0, 0))))->price == 1500);
  // A later start with the config's number does not add a second first rate.
  store::Room r{"room-a", "Room A", "door-a", room_rules(), 1200};
  must(b.sync_site({r}, {}, {}, std::nullopt));
  CHECK(must(b.resource_rates(std::string("room"), true)).size() == 1);
}
