// Table tests of each billing rule at its edges (docs/BILLING.md, rules 1-9).
#include "labgate/gateway/billing/engine.hpp"

#include <catch2/catch.hpp>

#include "billing_support.hpp"

using namespace labgate::test::billing;
namespace bl = labgate::gateway::billing;

namespace {

std::int64_t amount_of(std::int64_t duration_ms, const bl::RateTerms& rate) {
  auto st = bill({session(1, "laser", nov(24, 10), duration_ms, rate)});
  REQUIRE(st.lines.size() == 1);
  return st.lines[0].amount;
}

}  // namespace

TEST_CASE("units round up; 1 ms either side of each unit boundary", "[billing][units]") {
  const auto r = simple_rate();  // 15 min units at 300
  struct Row {
    std::int64_t ms;
    std::int64_t units;
  };
  const Row rows[] = {
      {1, 0},              // d = 0 s: no unit (and no grace configured)
      {1000, 1},           // 1 s
      {900'000 - 1, 1},    // 899.999 s -> d = 899
      {900'000, 1},        // exactly one unit
      {900'000 + 1, 1},    // 900.001 s -> d = 900 (seconds are floored first)
      {901'000 - 1, 1},    // 900.999 s
      {901'000, 2},        // 901 s: into the second unit
      {1'800'000 - 1, 2},  // 1799.999 s
      {1'800'000, 2},      // 1800 s
      {1'801'000, 3},      // 1801 s
  };
  for (const auto& row : rows) {
    INFO("duration ms " << row.ms);
    auto st = bill({session(1, "laser", nov(24, 10), row.ms, r)});
    REQUIRE(st.lines.size() == 1);
    CHECK(st.lines[0].units == row.units);
    CHECK(st.lines[0].amount == row.units * 300);
    CHECK(st.lines[0].seconds == row.ms / 1000);
  }
  auto st = bill({session(1, "laser", nov(24, 10), 47 * 60'000, r)});
  CHECK(st.lines[0].rule == "47m -> 4 x 15m units (rounded up) x 300 = 1200");
}

TEST_CASE("grace: free up to and including grace_seconds", "[billing][grace]") {
  auto r = simple_rate();
  r.grace_seconds = 60;
  r.minimum_charge = 500;
  CHECK(amount_of(59'999, r) == 0);
  CHECK(amount_of(60'000, r) == 0);
  CHECK(amount_of(60'999, r) == 0);    // still 60 s after flooring
  CHECK(amount_of(61'000, r) == 500);  // one unit (300) lifted to the minimum charge
  auto st = bill({session(1, "laser", nov(24, 10), 60'000, r)});
  CHECK(st.lines[0].rule == "1m <= grace 1m: free");
  CHECK_FALSE(st.lines[0].minimum_applied);
}

TEST_CASE("minimum charge applies only above zero and below the minimum", "[billing][minimum]") {
  auto r = simple_rate();
  r.minimum_charge = 600;
  auto one = bill({session(1, "laser", nov(24, 10), 100'000, r)});
  CHECK(one.lines[0].gross == 300);
  CHECK(one.lines[0].amount == 600);
  CHECK(one.lines[0].minimum_applied);
  CHECK(one.lines[0].rule == "1m40s -> 1 x 15m units (rounded up) x 300 = 300; minimum charge 600");
  auto equal = bill({session(1, "laser", nov(24, 10), 1'000'000, r)});  // 2 units = 600
  CHECK(equal.lines[0].amount == 600);
  CHECK_FALSE(equal.lines[0].minimum_applied);
  auto above = bill({session(1, "laser", nov(24, 10), 2'000'000, r)});  // 3 units
  CHECK(above.lines[0].amount == 900);
  CHECK_FALSE(above.lines[0].minimum_applied);
}

TEST_CASE("plan discount is floored, after the minimum charge", "[billing][discount]") {
  auto r = simple_rate();
  r.price_per_unit = 333;
  r.discount_percent = 10;
  auto st = bill({session(1, "laser", nov(24, 10), 600'000, r)});
  CHECK(st.lines[0].gross == 333);
  CHECK(st.lines[0].discount == 33);  // floor(33.3)
  CHECK(st.lines[0].amount == 300);
  CHECK(st.lines[0].rule == "10m -> 1 x 15m units (rounded up) x 333 = 333; plan -10% = 300");
  r.minimum_charge = 500;
  r.discount_percent = 15;
  auto m = bill({session(1, "laser", nov(24, 10), 600'000, r)});
  CHECK(m.lines[0].discount == 75);
  CHECK(m.lines[0].amount == 425);
  r.discount_percent = 100;
  CHECK(amount_of(600'000, r) == 0);
  r.price_per_unit = 1;
  r.minimum_charge = 0;
  r.discount_percent = 99;
  CHECK(amount_of(600'000, r) == 1);  // floor(0.99) = 0 off
}

TEST_CASE("daily cap runs across sessions per target and local day", "[billing][cap]") {
  auto r = simple_rate();
  r.daily_cap = 1000;
  const std::int64_t three_units = 45 * 60'000;  // 900
  auto st = bill({
      session(1, "laser", nov(24, 9), three_units, r),
      session(2, "laser", nov(24, 11), three_units, r),
      session(3, "laser", nov(24, 13), three_units, r),
      session(4, "printer-1", nov(24, 13), three_units, r),      // another target: its own cap
      session(5, "laser", nov(24, 23, 59, 59), three_units, r),  // starts the same local day
      session(6, "laser", nov(25, 1), three_units, r),           // next local day
  });
  REQUIRE(st.lines.size() == 6);
  CHECK(st.lines[0].amount == 900);
  CHECK(st.lines[1].cap_reduction == 800);
  CHECK(st.lines[1].amount == 100);
  CHECK(st.lines[1].rule ==
        "45m -> 3 x 15m units (rounded up) x 300 = 900; daily cap 1000 for 2026-11-24 reached: "
        "-800 = 100");
  CHECK(st.lines[2].amount == 0);
  CHECK(st.lines[2].cap_reduction == 900);
  CHECK(st.lines[3].target == "printer-1");
  CHECK(st.lines[3].amount == 900);
  CHECK(st.lines[4].amount == 0);
  CHECK(st.lines[5].amount == 900);
  CHECK(st.total == 900 + 100 + 900 + 900);
  // The local day is Tokyo's: 2026-11-24 23:59:59 JST is 14:59:59 UTC.
  CHECK(st.lines[4].date == "2026-11-24");
  CHECK(st.lines[5].date == "2026-11-25");
}

TEST_CASE("included minutes are consumed in start order and can cross a session",
          "[billing][included]") {
  auto r = simple_rate();
  r.grace_seconds = 60;
  r.included_minutes = 60;
  auto st = bill({
      session(1, "laser", nov(3, 10), 30'000, r),           // grace: consumes nothing
      session(2, "laser", nov(3, 11), 40 * 60'000, r),      // all included, 20 min left
      session(3, "laser", nov(4, 11), 40 * 60'000, r),      // 20 included, 20 billable -> 2 units
      session(4, "laser", nov(5, 11), 10 * 60'000, r),      // nothing left -> 1 unit
      session(5, "printer-1", nov(5, 12), 10 * 60'000, r),  // its own 60 minutes
  });
  REQUIRE(st.lines.size() == 5);
  CHECK(st.lines[0].included_seconds_used == 0);
  CHECK(st.lines[0].amount == 0);
  CHECK(st.lines[1].included_seconds_used == 2400);
  CHECK(st.lines[1].amount == 0);
  CHECK(st.lines[1].rule == "40m - 40m included (20m left this month) = 0s: included");
  CHECK(st.lines[2].included_seconds_used == 1200);
  CHECK(st.lines[2].billable_seconds == 1200);
  CHECK(st.lines[2].units == 2);
  CHECK(st.lines[2].amount == 600);
  CHECK(st.lines[2].rule ==
        "40m - 20m included (0s left this month) = 20m -> 2 x 15m units (rounded up) x 300 = 600");
  CHECK(st.lines[3].included_seconds_used == 0);
  CHECK(st.lines[3].amount == 300);
  CHECK(st.lines[4].included_seconds_used == 600);
  CHECK(st.lines[4].amount == 0);
}

TEST_CASE("busy and idle units; included time eats idle time first", "[billing][busy]") {
  auto r = simple_rate();
  r.idle_price_per_unit = 100;
  auto s = session(1, "laser", nov(24, 10), 3600'000, r);
  s.busy_seconds = 2700;
  auto st = bill({s});
  CHECK(st.lines[0].busy_units == 3);
  CHECK(st.lines[0].idle_units == 1);
  CHECK(st.lines[0].units == 4);
  CHECK(st.lines[0].amount == 3 * 300 + 100);
  CHECK(st.lines[0].rule ==
        "1h00m -> busy 45m = 3 x 15m units (rounded up) x 300 + idle 15m = 1 x 15m units "
        "(rounded up) x 100 = 1000");
  r.included_minutes = 15;
  s.rate = r;
  auto inc = bill({s});
  CHECK(inc.lines[0].billable_seconds == 2700);
  CHECK(inc.lines[0].busy_seconds == 2700);
  CHECK(inc.lines[0].idle_units == 0);
  CHECK(inc.lines[0].amount == 900);
  r.included_minutes = 30;  // eats all 15 idle minutes, then 15 busy ones
  s.rate = r;
  CHECK(bill({s}).lines[0].amount == 600);
  // Busy input longer than the billed time: capped at the billable seconds.
  s.busy_seconds = 99999;
  r.included_minutes = 0;
  s.rate = r;
  CHECK(bill({s}).lines[0].amount == 4 * 300);
  // No busy input on the session: the whole time at the busy price.
  s.busy_seconds.reset();
  auto none = bill({s});
  CHECK(none.lines[0].amount == 1200);
  CHECK_FALSE(none.lines[0].busy_units.has_value());
  // No idle price on the rate: busy_seconds is ignored.
  auto plain = simple_rate();
  auto p = session(1, "laser", nov(24, 10), 3600'000, plain);
  p.busy_seconds = 60;
  CHECK(bill({p}).lines[0].amount == 1200);
}

TEST_CASE("a day pass makes that local day's coworking free without consuming included time",
          "[billing][daypass]") {
  auto cw = simple_rate(7);
  cw.unit_seconds = 3600;
  cw.price_per_unit = 400;
  cw.included_minutes = 60;
  auto laser = simple_rate(1);
  bl::SaleItem pass{11, "day-pass", "Coworking day pass", 1, 1500, nov(24, 8, 30), true};
  auto st = bill(
      {
          session(1, "coworking", nov(24, 9), 3 * 3600'000, cw),
          session(2, "laser", nov(24, 13), 900'000, laser),
          session(3, "coworking", nov(25, 9), 2 * 3600'000, cw),
      },
      {pass});
  REQUIRE(st.lines.size() == 4);
  CHECK(st.lines[0].type == bl::LineType::kDayPass);
  CHECK(st.lines[0].amount == 1500);
  CHECK(st.lines[1].rule == "day pass");
  CHECK(st.lines[1].amount == 0);
  CHECK(st.lines[1].included_seconds_used == 0);
  CHECK(st.lines[2].amount == 300);                  // machines are not covered by a day pass
  CHECK(st.lines[3].included_seconds_used == 3600);  // the included hour is still there
  CHECK(st.lines[3].amount == 400);
  CHECK(st.subtotal_day_passes == 1500);  // a line and a subtotal of its own, not "materials"
  CHECK(st.subtotal_materials == 0);
  CHECK(st.subtotal_coworking == 400);
  CHECK(st.subtotal_machine == 300);
  CHECK(st.total == 2200);
}

TEST_CASE("merge: a gap up to grace joins sessions into one line", "[billing][merge]") {
  auto r = simple_rate();
  r.grace_seconds = 60;
  const std::int64_t five_min = 5 * 60'000;
  // 5 min, gap exactly 60 s, 5 min: one 10-minute line, one unit.
  auto joined = bill({session(1, "laser", nov(24, 10), five_min, r),
                      session(2, "laser", nov(24, 10, 6), five_min, r)});
  REQUIRE(joined.lines.size() == 1);
  CHECK(joined.lines[0].session_ids == std::vector<std::int64_t>{1, 2});
  CHECK(joined.lines[0].seconds == 600);
  CHECK(joined.lines[0].amount == 300);
  CHECK(joined.lines[0].end == "2026-11-24T10:11:00+09:00");
  CHECK(joined.lines[0].rule ==
        "sessions 1+2 merged (gaps <= grace 1m); 10m -> 1 x 15m units (rounded up) x 300 = 300");
  // 1 ms more gap: two lines, two units.
  auto apart = bill({session(1, "laser", nov(24, 10), five_min, r),
                     session(2, "laser", nov(24, 10, 6, 0, 1), five_min, r)});
  REQUIRE(apart.lines.size() == 2);
  CHECK(apart.total == 600);
  // Two 50 s taps each inside grace would be free alone; merged they are 100 s, one unit.
  auto dodge = bill({session(1, "laser", nov(24, 10), 50'000, r),
                     session(2, "laser", nov(24, 10, 0, 55), 50'000, r)});
  REQUIRE(dodge.lines.size() == 1);
  CHECK(dodge.total == 300);
  // Another target or another rate in between never merges.
  auto r2 = simple_rate(2);
  r2.grace_seconds = 60;
  auto other_rate = bill({session(1, "laser", nov(24, 10), five_min, r),
                          session(2, "laser", nov(24, 10, 5, 30), five_min, r2)});
  CHECK(other_rate.lines.size() == 2);
  auto other_target = bill({session(1, "laser", nov(24, 10), five_min, r),
                            session(2, "printer-1", nov(24, 10, 5, 30), five_min, r)});
  CHECK(other_target.lines.size() == 2);
  // Three in a row chain through the last session's end.
  auto chain = bill({session(1, "laser", nov(24, 10), five_min, r),
                     session(2, "laser", nov(24, 10, 6), five_min, r),
                     session(3, "laser", nov(24, 10, 12), five_min, r)});
  REQUIRE(chain.lines.size() == 1);
  CHECK(chain.lines[0].seconds == 900);
}

TEST_CASE("sessions over 24 h are held unless reviewed; a review bills or waives",
          "[billing][review]") {
  const auto r = simple_rate();
  const std::int64_t day = 86'400'000;
  auto exact = bill({session(1, "laser", nov(10, 9), day, r)});
  REQUIRE(exact.lines.size() == 1);  // exactly 24 h is billed
  CHECK(exact.lines[0].amount == 96 * 300);
  auto just_under_next = bill({session(1, "laser", nov(10, 9), day + 999, r)});
  CHECK(just_under_next.lines.size() == 1);  // 86400.999 s floors to 86400
  auto held = bill({session(1, "laser", nov(10, 9), day + 1000, r)});
  CHECK(held.lines.empty());
  REQUIRE(held.held_for_review.size() == 1);
  CHECK(held.held_for_review[0].session_id == 1);
  CHECK(held.held_for_review[0].seconds == 86401);
  CHECK(held.held_for_review[0].explanation.find("held for staff review") != std::string::npos);
  CHECK(held.total == 0);
  CHECK(held.note.empty());

  auto reviewed = session(1, "laser", nov(10, 9), 3 * day, r);
  reviewed.review = bl::Review{3600, "Ren Ito"};
  auto billed = bill({reviewed});
  REQUIRE(billed.lines.size() == 1);
  CHECK(billed.lines[0].seconds == 3600);
  CHECK(billed.lines[0].amount == 1200);
  CHECK(billed.lines[0].rule ==
        "reviewed by Ren Ito: bill 1h00m; 1h00m -> 4 x 15m units (rounded up) x 300 = 1200");
  reviewed.review = bl::Review{0, "Ren Ito"};
  auto waived = bill({reviewed});
  CHECK(waived.lines[0].amount == 0);
  CHECK(waived.lines[0].rule == "reviewed by Ren Ito: bill 0s; waived by Ren Ito");
}

TEST_CASE("no rate, open sessions, sales and an empty month", "[billing][edges]") {
  auto st = bill({session(1, "laser", nov(24, 10), 3600'000, std::nullopt)});
  CHECK(st.lines[0].amount == 0);
  CHECK(st.lines[0].rule == "no rate");
  auto open = session(2, "laser", nov(30, 23), 0, simple_rate());
  open.ended_at_ms.reset();
  auto o = bill({open});
  CHECK(o.lines.empty());
  REQUIRE(o.open_sessions.size() == 1);
  CHECK(o.open_sessions[0].end.empty());
  CHECK(o.note.empty());
  auto sale = bill({}, {bl::SaleItem{5, "acrylic-3mm", "Acrylic 3 mm", 3, 450, nov(2, 10), false}});
  CHECK(sale.lines[0].amount == 1350);
  CHECK(sale.lines[0].rule == "3 x 450 = 1350");
  CHECK(sale.subtotal_materials == 1350);
  auto empty = bill({});
  CHECK(empty.note == "no usage in 2026-11");
  CHECK(empty.total == 0);
}

TEST_CASE("lines sort by start, then session id, then sale id", "[billing][order]") {
  const auto r = simple_rate();
  auto st = bill(
      {session(9, "laser", nov(24, 10), 60'000, r), session(3, "printer-1", nov(24, 10), 60'000, r),
       session(1, "coworking", nov(24, 11), 60'000, r)},
      {bl::SaleItem{2, "x", "X", 1, 1, nov(24, 10), false},
       bl::SaleItem{1, "y", "Y", 1, 1, nov(24, 10), false}});
  REQUIRE(st.lines.size() == 5);
  CHECK(st.lines[0].session_ids[0] == 3);
  CHECK(st.lines[1].session_ids[0] == 9);
  CHECK(st.lines[2].sale_id == 1);
  CHECK(st.lines[3].sale_id == 2);
  CHECK(st.lines[4].session_ids[0] == 1);
}

TEST_CASE("durations and local times as printed", "[billing][format]") {
  CHECK(bl::format_duration(0) == "0s");
  CHECK(bl::format_duration(59) == "59s");
  CHECK(bl::format_duration(60) == "1m");
  CHECK(bl::format_duration(61) == "1m01s");
  CHECK(bl::format_duration(3600) == "1h00m");
  CHECK(bl::format_duration(3725) == "1h02m05s");
  bl::Engine e{tokyo()};
  CHECK(e.local_iso(nov(24, 9, 5, 7)) == "2026-11-24T09:05:07+09:00");
  CHECK(e.local_date(nov(1, 0)) == "2026-11-01");
  CHECK(e.local_date(nov(1, 0) - 1) == "2026-10-31");
  bl::Engine ny{date::locate_zone("America/New_York")};
  CHECK(ny.local_iso(jst(2026, 7, 1, 13)) == "2026-07-01T00:00:00-04:00");
  CHECK(ny.local_iso(jst(2026, 12, 1, 14)) == "2026-12-01T00:00:00-05:00");
}
