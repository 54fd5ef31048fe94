#include "labgate/gateway/policy/calendar.hpp"

#include <catch2/catch.hpp>

#include "test_time.hpp"

using namespace labgate::gateway::policy;
using labgate::gateway::policy::test::jst;
using labgate::gateway::policy::test::utc;
using labgate::gateway::policy::test::ymd;

TEST_CASE("calendar defaults to Asia/Tokyo with the year-end closure") {
  Calendar cal;
  CHECK(cal.time_zone_name() == "Asia/Tokyo");
  REQUIRE(cal.closure());
  CHECK(cal.closure()->from == MonthDay{12, 29});
  CHECK(cal.closure()->to == MonthDay{1, 3});
  CHECK(cal.holidays().empty());
}

TEST_CASE("a tap at 23:30 UTC is the next local day in Tokyo") {
  Calendar cal;
  const auto t = utc(2026, 3, 6, 23, 30);  // Friday in UTC
  const LocalTime lt = cal.to_local(t);
  CHECK(lt.date == ymd(2026, 3, 7));
  CHECK(lt.weekday == std::chrono::Saturday);
  CHECK(lt.minute_of_day == 8 * 60 + 30);

  Calendar utc_cal{"Etc/UTC"};
  const LocalTime lu = utc_cal.to_local(t);
  CHECK(lu.date == ymd(2026, 3, 6));
  CHECK(lu.weekday == std::chrono::Friday);
  CHECK(lu.minute_of_day == 23 * 60 + 30);
}

TEST_CASE("local midnight boundaries") {
  Calendar cal;
  const LocalTime before = cal.to_local(jst(2026, 3, 8, 23, 59) + std::chrono::seconds{59});
  CHECK(before.date == ymd(2026, 3, 8));
  CHECK(before.minute_of_day == 1439);
  const LocalTime at = cal.to_local(jst(2026, 3, 9, 0, 0));
  CHECK(at.date == ymd(2026, 3, 9));
  CHECK(at.weekday == std::chrono::Monday);
  CHECK(at.minute_of_day == 0);
}

TEST_CASE("to_sys is the inverse of to_local") {
  Calendar cal;
  CHECK(cal.to_sys(ymd(2026, 12, 29), 0) == jst(2026, 12, 29, 0, 0));
  CHECK(cal.to_sys(ymd(2027, 1, 3), 23 * 60 + 59) == jst(2027, 1, 3, 23, 59));
  Calendar ny{"America/New_York"};
  // 2026-07-01 is EDT (UTC-4).
  CHECK(ny.to_sys(ymd(2026, 7, 1), 12 * 60) == utc(2026, 7, 1, 16, 0));
  CHECK(ny.to_local(utc(2026, 7, 1, 16, 0)).minute_of_day == 12 * 60);
}

TEST_CASE("unknown time zones are refused") {
  CHECK_THROWS_AS(Calendar{"Mars/Olympus_Mons"}, std::invalid_argument);
  CHECK_FALSE(Calendar::is_valid_time_zone("Asia/Tokio"));
  CHECK_FALSE(Calendar::is_valid_time_zone(""));
  CHECK(Calendar::is_valid_time_zone("Asia/Tokyo"));
  CHECK(Calendar::is_valid_time_zone("Europe/Berlin"));
}

TEST_CASE("yearly closure spans the new year, both ends inclusive") {
  Calendar cal;
  CHECK_FALSE(cal.in_closure(ymd(2026, 12, 28)));
  CHECK(cal.in_closure(ymd(2026, 12, 29)));
  CHECK(cal.in_closure(ymd(2026, 12, 31)));
  CHECK(cal.in_closure(ymd(2027, 1, 1)));
  CHECK(cal.in_closure(ymd(2027, 1, 3)));
  CHECK_FALSE(cal.in_closure(ymd(2027, 1, 4)));

  SECTION("29 Dec 00:00 JST and 3 Jan 23:59 / 4 Jan 00:00") {
    CHECK_FALSE(cal.in_closure(cal.to_local(jst(2026, 12, 28, 23, 59)).date));
    CHECK(cal.in_closure(cal.to_local(jst(2026, 12, 29, 0, 0)).date));
    CHECK(cal.in_closure(cal.to_local(jst(2027, 1, 3, 23, 59)).date));
    CHECK_FALSE(cal.in_closure(cal.to_local(jst(2027, 1, 4, 0, 0)).date));
    // 29 Dec 00:00 JST is still 28 Dec in UTC: the local date decides.
    CHECK(cal.in_closure(cal.to_local(utc(2026, 12, 28, 15, 0)).date));
  }
  SECTION("a closure inside one year") {
    cal.set_closure(Closure{{8, 13}, {8, 16}});
    CHECK_FALSE(cal.in_closure(ymd(2026, 8, 12)));
    CHECK(cal.in_closure(ymd(2026, 8, 13)));
    CHECK(cal.in_closure(ymd(2026, 8, 16)));
    CHECK_FALSE(cal.in_closure(ymd(2026, 8, 17)));
    CHECK_FALSE(cal.in_closure(ymd(2026, 12, 30)));
  }
  SECTION("disabled") {
    cal.set_closure(std::nullopt);
    CHECK_FALSE(cal.in_closure(ymd(2026, 12, 31)));
  }
}

TEST_CASE("holidays") {
  Calendar cal;
  cal.set_holidays({ymd(2026, 5, 5), ymd(2026, 1, 1), ymd(2026, 5, 5)});
  cal.add_holiday(ymd(2026, 3, 20));
  cal.add_holiday(ymd(2026, 3, 20));
  REQUIRE(cal.holidays().size() == 3);
  CHECK(cal.holidays().front() == ymd(2026, 1, 1));
  CHECK(cal.is_holiday(ymd(2026, 3, 20)));
  CHECK(cal.is_holiday(ymd(2026, 5, 5)));
  CHECK_FALSE(cal.is_holiday(ymd(2026, 5, 6)));
  CHECK_FALSE(cal.is_holiday(ymd(2027, 1, 1)));
}

TEST_CASE("date parsing and formatting") {
  CHECK(parse_date("2026-01-01") == ymd(2026, 1, 1));
  CHECK(parse_date("2028-02-29") == ymd(2028, 2, 29));
  CHECK_FALSE(parse_date("2027-02-29"));
  CHECK_FALSE(parse_date("2026-13-01"));
  CHECK_FALSE(parse_date("2026-1-01"));
  CHECK_FALSE(parse_date("2026-01-01 "));
  CHECK_FALSE(parse_date("2026/01/01"));
  CHECK_FALSE(parse_date("+026-01-01"));
  CHECK_FALSE(parse_date(""));
  CHECK(to_string(ymd(2026, 3, 7)) == "2026-03-07");

  CHECK(parse_month_day("12-29") == MonthDay{12, 29});
  CHECK(parse_month_day("02-29") == MonthDay{2, 29});
  CHECK_FALSE(parse_month_day("02-30"));
  CHECK_FALSE(parse_month_day("00-10"));
  CHECK_FALSE(parse_month_day("1-03"));
  CHECK(to_string(MonthDay{1, 3}) == "01-03");
}
