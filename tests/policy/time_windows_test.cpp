#include "labgate/gateway/policy/time_windows.hpp"

#include <catch2/catch.hpp>

using namespace labgate::gateway::policy;
using std::chrono::Friday;
using std::chrono::Monday;
using std::chrono::Saturday;
using std::chrono::Sunday;
using std::chrono::Thursday;

namespace {

TimeWindows parse_ok(std::string_view text) {
  auto r = parse_windows(text);
  INFO(text);
  if (!r) FAIL("parse error at " << r.error().position << ": " << r.error().message);
  return r.value();
}

constexpr int hm(int h, int m) {
  return h * 60 + m;
}

}  // namespace

TEST_CASE("office hours: one minute before and at open and close") {
  const auto w = parse_ok("mon-fri 08:30-17:15; sat 10:00-16:00; sun off");
  CHECK_FALSE(w.contains(Monday, hm(8, 29)));
  CHECK(w.contains(Monday, hm(8, 30)));
  CHECK(w.contains(Monday, hm(17, 14)));
  CHECK_FALSE(w.contains(Monday, hm(17, 15)));
  CHECK(w.contains(Friday, hm(12, 0)));
  CHECK_FALSE(w.contains(Saturday, hm(9, 59)));
  CHECK(w.contains(Saturday, hm(10, 0)));
  CHECK(w.contains(Saturday, hm(15, 59)));
  CHECK_FALSE(w.contains(Saturday, hm(16, 0)));
  CHECK_FALSE(w.contains(Sunday, hm(12, 0)));
  CHECK(to_string(w) == "mon-fri 08:30-17:15; sat 10:00-16:00");
}

TEST_CASE("weekday boundaries") {
  const auto w = parse_ok("mon-fri 00:00-24:00");
  CHECK_FALSE(w.contains(Sunday, hm(23, 59)));
  CHECK(w.contains(Monday, 0));
  CHECK(w.contains(Friday, hm(23, 59)));
  CHECK_FALSE(w.contains(Saturday, 0));
}

TEST_CASE("24h and always") {
  for (auto text : {"24h", "daily 24h", "00:00-24:00", "mon-sun 24h", "DAILY 24H"}) {
    const auto w = parse_ok(text);
    INFO(text);
    CHECK(w == TimeWindows::always());
    CHECK(w.contains(Sunday, 0));
    CHECK(w.contains(Saturday, 1439));
    CHECK(to_string(w) == "daily 24h");
  }
  CHECK(parse_ok("off").empty());
  CHECK_FALSE(TimeWindows{}.contains(Monday, hm(12, 0)));
  CHECK(to_string(TimeWindows{}) == "off");
}

TEST_CASE("a window past midnight belongs to the day it opens") {
  const auto w = parse_ok("fri 22:00-06:00");
  CHECK_FALSE(w.contains(Friday, hm(21, 59)));
  CHECK(w.contains(Friday, hm(22, 0)));
  CHECK(w.contains(Friday, hm(23, 59)));
  CHECK(w.contains(Saturday, 0));
  CHECK(w.contains(Saturday, hm(5, 59)));
  CHECK_FALSE(w.contains(Saturday, hm(6, 0)));
  CHECK_FALSE(w.contains(Saturday, hm(22, 0)));
  CHECK_FALSE(w.contains(Friday, hm(3, 0)));  // Thursday night is not open
  CHECK_FALSE(w.contains(Thursday, hm(23, 0)));

  SECTION("saturday night runs into sunday, across the week wrap") {
    const auto s = parse_ok("sat 20:00-02:00");
    CHECK(s.contains(Sunday, hm(1, 59)));
    CHECK_FALSE(s.contains(Sunday, hm(2, 0)));
  }
  SECTION("ending at midnight is not past midnight") {
    const auto m = parse_ok("fri 22:00-00:00");
    CHECK(m.contains(Friday, hm(23, 59)));
    CHECK_FALSE(m.contains(Saturday, 0));
    CHECK(m == parse_ok("fri 22:00-24:00"));
  }
}

TEST_CASE("day lists, wrapping ranges, several ranges, off removes days") {
  const auto w = parse_ok("mon,wed,fri 09:00-12:00,13:00-17:00");
  CHECK(w.contains(Monday, hm(9, 0)));
  CHECK_FALSE(w.contains(Monday, hm(12, 30)));
  CHECK(w.contains(Friday, hm(13, 0)));
  CHECK_FALSE(w.contains(std::chrono::Tuesday, hm(10, 0)));

  const auto wrap = parse_ok("fri-mon 10:00-11:00");
  CHECK(wrap.contains(Saturday, hm(10, 30)));
  CHECK(wrap.contains(Sunday, hm(10, 30)));
  CHECK(wrap.contains(Monday, hm(10, 30)));
  CHECK_FALSE(wrap.contains(Thursday, hm(10, 30)));

  const auto off = parse_ok("daily 08:00-20:00; sun off");
  CHECK(off.contains(Saturday, hm(8, 0)));
  CHECK_FALSE(off.contains(Sunday, hm(8, 0)));
  CHECK(to_string(off) == "mon-sat 08:00-20:00");
  CHECK(parse_ok(to_string(off)) == off);

  CHECK(parse_ok("  mon-fri   08:30-17:15 ;  sat 10:00-16:00 ; ") ==
        parse_ok("mon-fri 08:30-17:15; sat 10:00-16:00"));
}

TEST_CASE("parse errors carry the position") {
  struct Case {
    std::string_view text;
    std::size_t position;
    std::string_view message_part;
  };
  const Case cases[] = {
      {"", 0, "empty schedule"},
      {"   ", 3, "empty schedule"},
      {"mon-fry 08:00-10:00", 4, "unknown day \"fry\""},
      {"monday 08:00-10:00", 0, "unknown day"},
      {"mon 8:00-10:00", 4, "HH:MM"},
      {"mon 08:00", 9, "expected '-'"},
      {"mon 08:00-", 10, "HH:MM"},
      {"mon 08:60-10:00", 7, "minutes"},
      {"mon 25:00-26:00", 4, "hours"},
      {"mon 24:00-10:00", 4, "hours must be 00..23"},
      {"mon 08:00-24:30", 10, "hours"},
      {"mon 10:00-10:00", 4, "empty window"},
      {"mon 08:00-10:00 tue 10:00-11:00", 16, "expected ';'"},
      {"mon 08:00-10:00;; tue 10:00-11:00", 16, "expected a day"},
      {"mon", 3, "expected a time range"},
      {"mon-", 4, "expected a day after '-'"},
      {"mon, 08:00-10:00", 4, "expected a day after ','"},
      {"mon08:00-10:00", 0, "unknown day \"mon08\""},
      {"mon off,08:00-10:00", 7, "expected ';'"},
      {"mon 08:00-10:00,", 16, "HH:MM"},
  };
  for (const auto& c : cases) {
    INFO("input: \"" << c.text << "\"");
    auto r = parse_windows(c.text);
    REQUIRE_FALSE(r);
    INFO("got: " << r.error().position << ": " << r.error().message);
    CHECK(r.error().position == c.position);
    CHECK(r.error().message.find(c.message_part) != std::string::npos);
  }
}
