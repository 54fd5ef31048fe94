// The ward report's meeting-room utilisation and locker occupancy on a hand-computed May 2026,
// with the rows written at exact local times, and the same figures in JSON, CSV and HTML.

#include <nlohmann/json.hpp>

#include "labgate/gateway/policy/booking.hpp"
#include "labgate/gateway/report/ward_report.hpp"
#include "labgate/gateway/store/bookings.hpp"
#include "report_fixture.hpp"

namespace {

namespace rp = labgate::gateway::report;
namespace policy = labgate::gateway::policy;
using labgate::test::kHourMs;
using labgate::test::ReportDb;
using labgate::test::tokyo;

// Room A opens weekdays 09:00-17:00 and not on the holiday 2026-05-04: May 2026 has 21
// weekdays, 20 of them open, 160 open hours. Two lockers: 62 locker-days.
void fill_rooms(ReportDb& db) {
  const auto m1 = db.member("2026-04-01 10:00");
  const auto m2 = db.member("2026-04-01 10:00");
  policy::RoomRules rules;
  rules.hours.windows = policy::parse_windows("mon-fri 09:00-17:00").value();
  rules.capacity = 4;
  const labgate::gateway::store::Room room{"room-a", "Room A", "room-a", rules, 1200};
  const labgate::gateway::store::Locker l1{"L1", "Locker 1", std::nullopt, 1500};
  const labgate::gateway::store::Locker l2{"L2", "Locker 2", std::nullopt, 1500};
  REQUIRE(db.store()
              .bookings()
              .sync_site({room}, {l1, l2}, {*policy::parse_date("2026-05-04")}, std::nullopt)
              .ok());
  const auto booking = [&](std::int64_t member, const std::string& from, const std::string& to,
                           const std::string& state) {
    db.exec(
        "INSERT INTO bookings (room_id, member_id, start_ms, end_ms, state, created_at_ms, "
        "created_by) VALUES ('room-a', " +
        std::to_string(member) + ", " + std::to_string(tokyo(from)) + ", " +
        std::to_string(tokyo(to)) + ", '" + state + "', 0, 'test')");
  };
  booking(m1, "2026-04-30 10:00", "2026-04-30 11:00", "held");    // April's
  booking(m1, "2026-05-07 10:00", "2026-05-07 12:00", "held");    // 2 h
  booking(m2, "2026-05-20 09:00", "2026-05-20 10:30", "booked");  // 1.5 h, used, never settled
  db.event(m2, "room-a", "", "granted", "2026-05-20 09:05");
  booking(m1, "2026-05-12 14:00", "2026-05-12 15:00", "no_show");  // released
  booking(m2, "2026-05-13 14:00", "2026-05-13 15:00", "cancelled");
  const auto loan = [&](const std::string& locker, std::int64_t member, const std::string& from,
                        const std::string& until, const std::string& returned) {
    db.exec(
        "INSERT INTO locker_loans (locker_id, member_id, from_date, until_date, lent_at_ms, "
        "returned_at_ms) VALUES ('" +
        locker + "', " + std::to_string(member) + ", '" + from + "', '" + until + "', 0, " +
        (returned.empty() ? std::string("NULL") : std::to_string(tokyo(returned))) + ")");
  };
  // Overdue since April and never taken back: it holds L1 all of May (31 days).
  loan("L1", m1, "2026-04-01", "2026-04-30", "");
  // Taken back early on 05-20: 05-10 .. 05-20, 11 days.
  loan("L2", m2, "2026-05-10", "2026-06-30", "2026-05-20 15:00");
  // Over before May.
  loan("L2", m1, "2026-03-01", "2026-03-31", "2026-04-02 09:00");
}

rp::WardReport may(ReportDb& db, const std::string& as_of) {
  auto p = rp::month_period("2026-05", "Asia/Tokyo");
  REQUIRE(p.ok());
  rp::ReportOptions o;
  o.as_of_ms = tokyo(as_of);
  auto r = rp::build_ward_report(db.store(), *p, o);
  if (!r) FAIL(r.error().message);
  return std::move(r).value();
}

}  // namespace

TEST_CASE("ward report: room utilisation and locker occupancy of May 2026", "[report]") {
  ReportDb db;
  fill_rooms(db);
  const auto r = may(db, "2026-06-15 12:00");
  REQUIRE(r.rooms.size() == 1);
  const auto& room = r.rooms[0];
  CHECK(room.id == "room-a");
  CHECK(room.bookings == 2);
  CHECK(room.booked_ms == 3 * kHourMs + kHourMs / 2);
  CHECK(room.open_ms == 160 * kHourMs);
  CHECK(room.no_shows == 1);
  CHECK(rp::format_percent(room.booked_ms, room.open_ms) == "2.2");  // 2.1875 %
  CHECK(r.lockers.lockers == 2);
  CHECK(r.lockers.locker_days == 62);
  CHECK(r.lockers.lent_days == 42);
  CHECK(r.lockers.lent_at_end == 1);

  // The same figures in every format.
  const auto j = nlohmann::json::parse(rp::render_json(r));
  REQUIRE(j["rooms"].size() == 1);
  CHECK(j["rooms"][0]["booked_hours"].get<double>() == Approx(3.5));
  CHECK(j["rooms"][0]["open_hours"].get<double>() == Approx(160.0));
  CHECK(j["rooms"][0]["utilisation_percent"].get<double>() == Approx(2.2));
  CHECK(j["lockers"]["occupancy_percent"].get<double>() == Approx(67.7));  // 42 / 62
  CHECK(j["lockers"]["lent_at_end"] == 1);
  bool rooms_csv = false;
  for (const auto& f : rp::render_csv(r)) {
    if (f.suffix == "rooms") {
      rooms_csv = true;
      CHECK(f.content.find("room-a,Room A,2,3.50,160.00,2.2,1\r\n") != std::string::npos);
    }
    if (f.suffix == "summary") {
      CHECK(f.content.find("locker_occupancy_percent,67.7\r\n") != std::string::npos);
    }
  }
  CHECK(rooms_csv);
  const auto html = rp::render_html(r);
  CHECK(html.find("会議室 Meeting rooms") != std::string::npos);
  CHECK(html.find(">67.7<") != std::string::npos);
}

TEST_CASE("ward report: a partial month counts rooms and lockers up to as_of", "[report]") {
  ReportDb db;
  fill_rooms(db);
  // Up to 05-15 12:00: open weekdays 05-01, 05-05..08, 05-11..14 (9 days, 72 h) and 05-15
  // 09:00-12:00 (3 h); the 05-20 booking is after it. Lockers: 15 days each so far; L1 all 15,
  // L2 from 05-10 (6 days).
  const auto r = may(db, "2026-05-15 12:00");
  CHECK_FALSE(r.complete);
  REQUIRE(r.rooms.size() == 1);
  CHECK(r.rooms[0].open_ms == 75 * kHourMs);
  CHECK(r.rooms[0].booked_ms == 2 * kHourMs);
  CHECK(r.rooms[0].bookings == 1);
  CHECK(r.lockers.locker_days == 30);
  CHECK(r.lockers.lent_days == 21);
  CHECK(r.lockers.lent_at_end == 2);
}

TEST_CASE("ward report: an unsettled booking nobody used counts as a no-show, as billing does",
          "[report]") {
  ReportDb db;
  fill_rooms(db);
  // Never settled (nothing listed or issued since): still recorded as booked. Nobody came; the
  // room's no-show time is 15 minutes (the default rules).
  const auto m3 = db.member("2026-04-01 10:00");
  db.exec(
      "INSERT INTO bookings (room_id, member_id, start_ms, end_ms, state, created_at_ms, "
      "created_by) VALUES ('room-a', " +
      std::to_string(m3) + ", " + std::to_string(labgate::test::tokyo("2026-05-21 10:00")) + ", " +
      std::to_string(labgate::test::tokyo("2026-05-21 11:00")) + ", 'booked', 0, 'test')");
  // A granted tap at another door, or a denied one at the room's, does not make it used.
  db.event(m3, "front", "", "granted", "2026-05-21 10:01");
  db.event(m3, "room-a", "", "denied", "2026-05-21 10:02");
  REQUIRE(policy::RoomRules{}.no_show_minutes == 15);
  // One millisecond before its no-show time it is still booked (as the report counts it up to
  // as_of): 05-20's 1.5 h, 05-07's 2 h and this one's 14 min 59.999 s.
  {
    auto p = rp::month_period("2026-05", "Asia/Tokyo");
    REQUIRE(p.ok());
    rp::ReportOptions o;
    o.as_of_ms = labgate::test::tokyo("2026-05-21 10:15") - 1;
    auto r = rp::build_ward_report(db.store(), *p, o);
    REQUIRE(r.ok());
    REQUIRE(r->rooms.size() == 1);
    CHECK(r->rooms[0].bookings == 3);
    CHECK(r->rooms[0].no_shows == 1);
  }
  // From its no-show time on it is a no-show, whole, like a settled one.
  const auto at = may(db, "2026-05-21 10:15");
  CHECK(at.rooms[0].bookings == 2);
  CHECK(at.rooms[0].booked_ms == 3 * kHourMs + kHourMs / 2);
  CHECK(at.rooms[0].no_shows == 2);
  const auto r = may(db, "2026-06-15 12:00");
  CHECK(r.rooms[0].bookings == 2);
  CHECK(r.rooms[0].booked_ms == 3 * kHourMs + kHourMs / 2);
  CHECK(r.rooms[0].no_shows == 2);
  // Settling by a writer (on the real clock, long after) leaves the same figures.
  REQUIRE(db.store().bookings().settle_no_shows().ok());
  const auto settled = may(db, "2026-06-15 12:00");
  CHECK(settled.rooms[0].bookings == 2);
  CHECK(settled.rooms[0].booked_ms == r.rooms[0].booked_ms);
  CHECK(settled.rooms[0].no_shows == 2);
}

TEST_CASE("ward report: percentages round half up and never divide by zero", "[report]") {
  CHECK(rp::format_percent(0, 0) == "0.0");
  CHECK(rp::format_percent(5, 0) == "0.0");
  CHECK(rp::format_percent(1, 8) == "12.5");
  CHECK(rp::format_percent(1, 3) == "33.3");
  CHECK(rp::format_percent(2, 3) == "66.7");
  CHECK(rp::format_percent(1, 2000) == "0.1");  // 0.05 rounds up
  CHECK(rp::format_percent(7, 7) == "100.0");
}
