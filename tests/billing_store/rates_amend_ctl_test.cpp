// Issue 16, rates and billing answers, through the real labgatectl against a temporary database:
// `rates set` keeps the terms not given, `rates replace` / `rates withdraw` correct a rate that
// has not started, contradictory rates are refused with their reason, a change reaching into an
// issued month names exactly the statements it would change, `statements show` says where a
// statement stands, and `statements issue` ends with a summary and a documented exit code.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ctl_harness.hpp"

namespace {

using labgate::test::Ctl;
using labgate::test::require_ok;
using labgate::test::require_refused;
using json = nlohmann::json;

// Epoch ms of a Tokyo (UTC+9, no DST) wall-clock time.
std::int64_t jst(int y, unsigned m, unsigned d, int h, int min = 0, int s = 0) {
  using namespace std::chrono;
  const sys_days day{year{y} / month{m} / d};
  return duration_cast<milliseconds>(day.time_since_epoch() + hours{h - 9} + minutes{min} +
                                     seconds{s})
      .count();
}

void seed(const Ctl& ctl) {
  require_ok(ctl({"--create", "plans", "add", "--code", "FULL", "--name", "Full time", "--windows",
                  "mon-sun 00:00-24:00"}));
  for (const auto& [no, name] : std::vector<std::pair<std::string, std::string>>{
           {"M0001", "Hanako Yamada"}, {"M0002", "Taro Sato"}, {"M0003", "Yuki Mori"}}) {
    require_ok(ctl({"members", "add", "--no", no, "--name", name, "--plan", "FULL"}));
    require_ok(ctl({"members", "approve", "--no", no}));
  }
  require_ok(
      ctl({"machines", "add", "--id", "laser1", "--name", "Laser cutter 1", "--busy-input"}));
  require_ok(ctl({"machines", "add", "--id", "mill", "--name", "CNC mill"}));
}

json rates(const Ctl& ctl) {
  const auto r = ctl({"rates", "list", "--history", "--json"});
  require_ok(r);
  return json::parse(r.out);
}

std::vector<std::string> audit_actions(const Ctl& ctl) {
  const auto r = ctl({"audit", "list", "--json"});
  require_ok(r);
  std::vector<std::string> out;
  for (const auto& row : json::parse(r.out)) out.push_back(row["action"]);
  return out;
}

std::int64_t count(const std::vector<std::string>& v, const std::string& what) {
  return std::count(v.begin(), v.end(), what);
}

// A closed session written as labgated writes it (rate stamped at the start).
void add_session(const Ctl& ctl, int id, int member_id, const std::string& machine,
                 std::int64_t start, std::int64_t end, int rate_id,
                 std::optional<std::int64_t> busy = std::nullopt) {
  const bool cowork = machine == "coworking";
  ctl.exec(
      "INSERT INTO sessions (id, uuid, member_id, machine_id, kind, started_at_ms, "
      "ended_at_ms, rate_id, busy_seconds) VALUES (" +
      std::to_string(id) + ", 'u" + std::to_string(id) + "', " + std::to_string(member_id) + ", " +
      (cowork ? "NULL, 'coworking'" : "'" + machine + "', 'machine'") + ", " +
      std::to_string(start) + ", " + std::to_string(end) + ", " + std::to_string(rate_id) + ", " +
      (busy ? std::to_string(*busy) : "NULL") + ")");
}

// A month already billed: laser and coworking rates from 2026-11-01, M0001 on the laser on the
// 30th, M0002 coworking on the 10th, M0003 nothing; November issued on December 2.
void billed_november(const Ctl& ctl) {
  seed(ctl);
  const std::vector<std::string> before = {"--simulated-clock", "2026-10-31 12:00"};
  auto laser =
      std::vector<std::string>{"rates",   "set", "--machine",    "laser1", "--unit", "15m",
                               "--price", "600", "--idle-price", "200",    "--from", "2026-11-01"};
  laser.insert(laser.end(), before.begin(), before.end());
  require_ok(ctl(laser));
  auto cowork = std::vector<std::string>{"rates",   "set", "--coworking", "--unit",    "1h",
                                         "--price", "300", "--from",      "2026-11-01"};
  cowork.insert(cowork.end(), before.begin(), before.end());
  require_ok(ctl(cowork));
  // 40 min 30 s on the laser, busy all along; 2 h coworking.
  add_session(ctl, 1, 1, "laser1", jst(2026, 11, 30, 9), jst(2026, 11, 30, 9, 40, 30), 1, 2430);
  add_session(ctl, 2, 2, "coworking", jst(2026, 11, 10, 9), jst(2026, 11, 10, 11), 2);
  const auto issued =
      ctl({"statements", "issue", "--month", "2026-11", "--simulated-clock", "2026-12-02 10:00"});
  require_ok(issued);
}

// The seed, a laser rate of 300 from now and one of 400 from `next` (a future date).
void laser_rates(const Ctl& ctl, const std::string& next) {
  seed(ctl);
  require_ok(ctl({"rates", "set", "--machine", "laser1", "--unit", "15m", "--price", "300"}));
  require_ok(ctl({"rates", "set", "--machine", "laser1", "--price", "400", "--from", next}));
}

}  // namespace

TEST_CASE("rates set takes the terms not given from the rate in force and shows both",
          "[rates_amend]") {
  Ctl ctl;
  seed(ctl);
  require_ok(ctl({"rates", "set", "--machine", "laser1", "--unit", "15m", "--price", "300",
                  "--idle-price", "100", "--minimum", "500", "--grace", "2m", "--daily-cap", "3000",
                  "--plan-term", "FULL:10%:60"}));
  const auto next = ctl({"rates", "set", "--machine", "laser1", "--price", "400", "--from",
                         "2099-01-01", "--note", "new year"});
  require_ok(next);
  // The whole rate, plan terms included, before and after.
  CHECK_THAT(next.out, Catch::Contains("before: rate 1 from"));
  CHECK_THAT(next.out, Catch::Contains("300 per 15m (idle 100, minimum 500, grace 2m, daily cap "
                                       "3000; plan terms FULL:10%:60m)"));
  CHECK_THAT(next.out, Catch::Contains("after:  rate 2 from 2099-01-01 00:00:00: 400 per 15m "
                                       "(idle 100, minimum 500, grace 2m, daily cap 3000; plan "
                                       "terms FULL:10%:60m)"));
  const auto all = rates(ctl);
  REQUIRE(all.size() == 2);
  CHECK(all[1]["price_per_unit"] == 400);
  CHECK(all[1]["minimum_charge"] == 500);
  CHECK(all[1]["grace_seconds"] == 120);
  CHECK(all[1]["daily_cap"] == 3000);
  CHECK(all[1]["idle_price_per_unit"] == 100);
  REQUIRE(all[1]["plan_terms"].size() == 1);
  CHECK(all[1]["plan_terms"][0]["discount_percent"] == 10);
  CHECK(all[1]["plan_terms"][0]["included_minutes"] == 60);

  // Terms are removed only when asked, and the JSON carries the rate it started from.
  const auto trimmed = ctl({"rates", "replace", "--id", "2", "--daily-cap", "none",
                            "--drop-plan-term", "FULL", "--json"});
  require_ok(trimmed);
  const auto t = json::parse(trimmed.out);
  CHECK(t["daily_cap"].is_null());
  CHECK(t["plan_terms"].empty());
  CHECK(t["minimum_charge"] == 500);
  CHECK(t["before"]["daily_cap"] == 3000);
  CHECK(t["before"]["plan_terms"].size() == 1);

  // A target without any rate needs its unit and price.
  require_refused(ctl, {"rates", "set", "--coworking", "--price", "300"}, 2, "no rate in force");
  require_refused(ctl, {"rates", "set", "--machine", "laser1", "--drop-plan-term", "GOLD"}, 2,
                  "no terms for plan 'GOLD'");
  CHECK(count(audit_actions(ctl), "rate_set") == 2);
}

TEST_CASE("rates replace and withdraw a rate that has not started, audited", "[rates_amend]") {
  Ctl ctl;
  laser_rates(ctl, "2099-01-01");

  const auto replaced = ctl({"rates", "replace", "--id", "2", "--price", "450"});
  require_ok(replaced);
  CHECK_THAT(replaced.out, Catch::Contains("before: rate 2 from 2099-01-01 00:00:00: 400 per 15m"));
  CHECK_THAT(replaced.out, Catch::Contains("after:  rate 2 from 2099-01-01 00:00:00: 450 per 15m"));
  auto all = rates(ctl);
  REQUIRE(all.size() == 2);
  CHECK(all[1]["id"] == 2);
  CHECK(all[1]["price_per_unit"] == 450);

  // Moving its start moves the end of the rate before it.
  require_ok(ctl({"rates", "replace", "--id", "2", "--from", "2098-06-01"}));
  all = rates(ctl);
  CHECK(all[0]["effective_until"] == "2098-05-31T15:00:00.000Z");
  CHECK(all[1]["effective_from"] == "2098-05-31T15:00:00.000Z");
  CHECK(all[1]["price_per_unit"] == 450);

  // The rate in force has started: it can be neither replaced nor withdrawn.
  require_refused(ctl, {"rates", "replace", "--id", "1", "--price", "1"}, 1, "cannot be replaced");
  require_refused(ctl, {"rates", "withdraw", "--id", "1"}, 1, "cannot be withdrawn");
  require_refused(ctl, {"rates", "withdraw", "--id", "9"}, 1, "unknown rate 9");
  require_refused(ctl, {"rates", "replace", "--id", "2", "--from", "2020-01-01"}, 1,
                  "cannot move to 2020-01-01");
  require_refused(ctl, {"rates", "withdraw", "--id", "x"}, 2, "bad --id 'x'");

  const auto withdrawn = ctl({"rates", "withdraw", "--id", "2"});
  require_ok(withdrawn);
  CHECK_THAT(withdrawn.out, Catch::Contains("withdrew rate 2 for laser1 from 2098-06-01"));
  all = rates(ctl);
  REQUIRE(all.size() == 1);
  CHECK(all[0]["effective_until"].is_null());  // the rate before it stays in force

  const auto actions = audit_actions(ctl);
  CHECK(count(actions, "rate_replace") == 2);
  CHECK(count(actions, "rate_withdraw") == 1);
  require_ok(ctl({"audit", "verify"}));
}

TEST_CASE("a rate between two others is replaced or withdrawn without a gap", "[rates_amend]") {
  Ctl ctl;
  laser_rates(ctl, "2098-01-01");
  require_ok(
      ctl({"rates", "set", "--machine", "laser1", "--price", "500", "--from", "2099-01-01"}));
  require_ok(ctl({"rates", "replace", "--id", "2", "--price", "450", "--from", "2098-02-01"}));
  auto all = rates(ctl);
  REQUIRE(all.size() == 3);
  CHECK(all[0]["effective_until"] == "2098-01-31T15:00:00.000Z");
  CHECK(all[1]["id"] == 2);
  CHECK(all[1]["price_per_unit"] == 450);
  CHECK(all[1]["effective_until"] == "2098-12-31T15:00:00.000Z");  // still up to rate 3
  // It may not move past the rate after it.
  require_refused(ctl, {"rates", "replace", "--id", "2", "--from", "2099-02-01"}, 1,
                  "before the rate after it (2099-01-01");
  require_ok(ctl({"rates", "withdraw", "--id", "2"}));
  all = rates(ctl);
  REQUIRE(all.size() == 2);
  CHECK(all[0]["effective_until"] == "2098-12-31T15:00:00.000Z");  // rate 1 runs up to rate 3
  CHECK(all[1]["price_per_unit"] == 500);
}

TEST_CASE("contradictory rates are refused with their reason", "[rates_amend]") {
  Ctl ctl;
  seed(ctl);
  // The mill has no busy input: an idle price there could never apply.
  require_refused(ctl,
                  {"rates", "set", "--machine", "mill", "--unit", "15m", "--price", "300",
                   "--idle-price", "100"},
                  2, "idle price 100 on a machine without a busy input");
  require_refused(ctl,
                  {"rates", "set", "--machine", "laser1", "--unit", "15m", "--price", "300",
                   "--idle-price", "400"},
                  2, "idle price 400 is above the (busy) price 300");
  require_refused(ctl,
                  {"rates", "set", "--machine", "laser1", "--unit", "15m", "--price", "300",
                   "--minimum", "1000", "--daily-cap", "800"},
                  2, "minimum charge 1000 exceeds the daily cap 800");
  // A contradiction made by amending one term of an existing rate is refused the same way.
  require_ok(ctl({"rates", "set", "--machine", "laser1", "--unit", "15m", "--price", "300",
                  "--daily-cap", "3000"}));
  require_refused(ctl, {"rates", "set", "--machine", "laser1", "--minimum", "5000"}, 2,
                  "minimum charge 5000 exceeds the daily cap 3000");
  // A machine that has a busy input may have an idle price.
  require_ok(ctl({"rates", "set", "--machine", "laser1", "--idle-price", "100"}));
}

TEST_CASE("a rate change reaching into an issued month names the statements it would change",
          "[rates_amend]") {
  Ctl ctl;
  billed_november(ctl);
  // The morning of November 30 (a rehearsal on the simulated clock): a rate from today's date
  // reaches into issued November, where M0001 used the laser at 09:00. M0002's statement has no
  // laser line and would not change.
  const std::vector<std::string> today = {
      "rates",  "set",        "--machine",         "laser1",          "--price", "999",
      "--from", "2026-11-30", "--simulated-clock", "2026-11-30 08:00"};
  require_refused(ctl, today, 1,
                  "reaches into 2026-11, already issued: it would change the issued "
                  "statement(s) of M0001 (2026-11); ");
  const auto r = ctl(today);
  CHECK_THAT(r.err, Catch::Contains("it also starts in the past"));
  CHECK_THAT(r.err, !Catch::Contains("M0002"));
  // From now (08:00), too: the 09:00 session comes after it.
  require_refused(ctl,
                  {"rates", "set", "--machine", "laser1", "--price", "999", "--simulated-clock",
                   "2026-11-30 08:00"},
                  1, "would change the issued statement(s) of M0001 (2026-11)");
  // Coworking from the 20th: M0002 coworked on the 10th, so no statement would change; the rate
  // is refused only for starting in the past.
  const auto cowork = ctl({"rates", "set", "--coworking", "--price", "1", "--from", "2026-11-20",
                           "--simulated-clock", "2026-12-03 10:00"});
  CHECK(cowork.code == 1);
  CHECK_THAT(cowork.err, Catch::Contains("starts in the past"));
  CHECK_THAT(cowork.err, !Catch::Contains("issued"));
}

TEST_CASE("statements show says issued, provisional, or refuses a future month",
          "[rates_amend][statements]") {
  Ctl ctl;
  billed_november(ctl);
  const auto list = ctl({"statements", "list", "--month", "2026-11", "--json"});
  require_ok(list);
  const std::string sha = json::parse(list.out)[0]["sha256"];
  REQUIRE(sha.size() == 64);

  const auto issued = ctl({"statements", "show", "--member", "M0001", "--month", "2026-11",
                           "--simulated-clock", "2026-12-05 10:00"});
  require_ok(issued);
  CHECK_THAT(issued.out, Catch::Contains("issued on 2026-12-02 10:00:00 by " +
                                         labgate::test::os_user() + " (sha256 " + sha + ")"));
  // The end time keeps its seconds; a part without time is left out of the rule.
  CHECK_THAT(issued.out, Catch::Contains("09:40:30"));
  CHECK_THAT(issued.out, Catch::Contains("busy 40m30s = 3 x 15m units (rounded up) x 600 = 1800"));
  CHECK_THAT(issued.out, !Catch::Contains("0 x 15m"));

  // A day pass bought in the running month: a line of its own, not materials.
  require_ok(ctl({"prices", "set", "--code", "day-pass", "--name", "Day pass", "--price", "1000",
                  "--day-pass", "--simulated-clock", "2026-12-05 09:00"}));
  require_ok(ctl({"sell", "--member", "M0002", "--item", "day-pass", "--simulated-clock",
                  "2026-12-05 09:00"}));
  const auto running = ctl({"statements", "show", "--member", "M0002", "--month", "2026-12",
                            "--simulated-clock", "2026-12-05 10:00"});
  require_ok(running);
  CHECK_THAT(running.out, Catch::Contains("provisional: the month is still running"));
  CHECK_THAT(running.out, Catch::Contains("day_pass"));
  CHECK_THAT(running.out, Catch::Contains("materials 0  day passes 1000  total 1000 yen"));
  const auto as_json = ctl({"statements", "show", "--member", "M0002", "--month", "2026-12",
                            "--json", "--simulated-clock", "2026-12-05 10:00"});
  require_ok(as_json);
  const auto body = json::parse(as_json.out);
  CHECK(body["lines"][0]["type"] == "day_pass");
  CHECK(body["subtotals"]["day_passes"] == 1000);
  CHECK(body["subtotals"]["materials"] == 0);
  CHECK_THAT(as_json.err, Catch::Contains("provisional"));

  // A mistyped year is an error, not a zero bill.
  require_refused(ctl,
                  {"statements", "show", "--member", "M0001", "--month", "2027-12",
                   "--simulated-clock", "2026-12-05 10:00"},
                  2, "2027-12 has not started yet");
  require_refused(ctl,
                  {"statements", "export", "--month", "2027-12", "--out",
                   (ctl.dir().path() / "out").string(), "--simulated-clock", "2026-12-05 10:00"},
                  2, "has not started yet");
}

TEST_CASE("statements issue ends with a summary; exit 0 when every issuable member was issued",
          "[rates_amend][statements]") {
  Ctl ctl;
  seed(ctl);
  require_ok(ctl({"rates", "set", "--machine", "laser1", "--unit", "15m", "--price", "600",
                  "--simulated-clock", "2026-10-31 12:00"}));
  add_session(ctl, 1, 1, "laser1", jst(2026, 11, 3, 9), jst(2026, 11, 3, 10), 1, 3600);
  // M0002's session never ended: it cannot be billed yet.
  ctl.exec(
      "INSERT INTO sessions (id, uuid, member_id, machine_id, kind, started_at_ms, rate_id) "
      "VALUES (2, 'u2', 2, 'laser1', 'machine', " +
      std::to_string(jst(2026, 11, 20, 9)) + ", 1)");
  const std::vector<std::string> issue = {
      "statements", "issue", "--month", "2026-11", "--simulated-clock", "2026-12-02 10:00"};
  const auto first = ctl(issue);
  INFO(first.out << first.err);
  CHECK(first.code == 1);  // M0002 was refused
  CHECK_THAT(first.out, Catch::Contains("summary for 2026-11:"));
  CHECK_THAT(first.out, Catch::Contains("  issued (1): M0001\n"));
  CHECK_THAT(first.out, Catch::Contains("  already issued (0): -\n"));
  CHECK_THAT(first.out, Catch::Contains("  no usage (1): M0003\n"));
  CHECK_THAT(first.out, Catch::Contains("  refused (1): M0002\n"));
  CHECK_THAT(first.out, Catch::Contains("open session"));

  ctl.exec("UPDATE sessions SET ended_at_ms = " + std::to_string(jst(2026, 11, 20, 9, 30)) +
           " WHERE id = 2");
  const auto second = ctl(issue);
  INFO(second.out << second.err);
  CHECK(second.code == 0);
  CHECK_THAT(second.out, Catch::Contains("  issued (1): M0002\n"));
  CHECK_THAT(second.out, Catch::Contains("  already issued (1): M0001\n"));
  CHECK_THAT(second.out, Catch::Contains("  no usage (1): M0003\n"));
  CHECK_THAT(second.out, Catch::Contains("  refused (0): -\n"));

  auto as_json = issue;
  as_json.push_back("--json");
  const auto third = ctl(as_json);
  CHECK(third.code == 0);  // nothing left to issue is not a failure
  const auto j = json::parse(third.out);
  CHECK(j["issued"].empty());
  CHECK(j["already_issued"] == json::array({"M0001", "M0002"}));
  CHECK(j["no_usage"] == json::array({"M0003"}));
  CHECK(j["refused"].empty());
}

// ---- issue 15: rates of meeting rooms and lockers ----

namespace {

// A room (1200 yen an hour, 30-minute grid) and a locker (1500 a month) as labgated records them
// at start, with the config's rates as their first rates.
void rooms_and_lockers(const Ctl& ctl) {
  ctl.exec(
      "INSERT INTO rooms VALUES ('room-a', 'Room A', 'door-a', 4, 'mon-sun 08:00-22:00', 1, 1, "
      "30, 0, 60, 480, 60, 10, 15, 0, 1200, 1);"
      "INSERT INTO lockers VALUES ('L01', 'Locker 1', NULL, 1500, 1);"
      "INSERT INTO resource_rates (kind, resource_id, effective_from_ms, price, note, "
      "created_at_ms, created_by) VALUES ('room', 'room-a', 0, 1200, 'from the config', 0, "
      "'config'), ('locker', 'L01', 0, 1500, 'from the config', 0, 'config');");
}

}  // namespace

TEST_CASE("rates set --room / --locker: dated prices, listed, refused into an issued month",
          "[rates_amend][rooms]") {
  Ctl ctl;
  seed(ctl);
  rooms_and_lockers(ctl);
  const std::vector<std::string> nov = {"--simulated-clock", "2026-11-02 09:00"};
  auto add = std::vector<std::string>{
      "bookings", "add",     "--room",           "room-a", "--member",
      "M0001",    "--start", "2026-11-10T10:00", "--end",  "2026-11-10T11:00"};
  add.insert(add.end(), nov.begin(), nov.end());
  require_ok(ctl(add));
  add[7] = "2026-11-20T10:00";
  add[9] = "2026-11-20T11:00";
  require_ok(ctl(add));
  // M0001 comes to both (a booking nobody used would be settled as a no-show when issued).
  ctl.exec(
      "INSERT INTO access_events (uuid, at_ms, seq, door_id, member_id, kind, decision) VALUES "
      "('in-1', " +
      std::to_string(jst(2026, 11, 10, 10, 5)) +
      ", 900001, 'door-a', (SELECT id FROM members WHERE member_no = 'M0001'), 'tap', "
      "'granted'), ('in-2', " +
      std::to_string(jst(2026, 11, 20, 10, 5)) +
      ", 900002, 'door-a', (SELECT id FROM members WHERE member_no = 'M0001'), 'tap', "
      "'granted')");
  auto lend = std::vector<std::string>{"lockers", "lend",   "--locker",   "L01",     "--member",
                                       "M0002",   "--from", "2026-11-01", "--until", "2027-03-31"};
  lend.insert(lend.end(), nov.begin(), nov.end());
  require_ok(ctl(lend));
  // A dearer room from 2026-11-10 (the booking's own start) and a locker price from December.
  auto room = std::vector<std::string>{"rates", "set",    "--room",     "room-a", "--price",
                                       "1800",  "--from", "2026-11-10", "--note", "new tariff"};
  room.insert(room.end(), nov.begin(), nov.end());
  const auto set = ctl(room);
  require_ok(set);
  CHECK_THAT(set.out, Catch::Contains("rate 3 for room:room-a from 2026-11-10 00:00:00: 1800 per "
                                      "hour"));
  auto locker = std::vector<std::string>{"rates",   "set",  "--locker", "L01",
                                         "--price", "2000", "--from",   "2026-12-01"};
  locker.insert(locker.end(), nov.begin(), nov.end());
  require_ok(ctl(locker));
  // Listed after the machines' (none here), with their history.
  const auto all = rates(ctl);
  REQUIRE(all.size() == 4);
  CHECK(all[0]["target"] == "room:room-a");
  CHECK(all[0]["effective_until_ms"] == jst(2026, 11, 10, 0));
  CHECK(all[1]["price"] == 1800);
  CHECK(all[1]["unit"] == "hour");
  CHECK(all[1]["note"] == "new tariff");
  CHECK(all[3]["target"] == "locker:L01");
  CHECK(all[3]["price"] == 2000);
  const auto text = ctl({"rates", "list", "--target", "locker:L01", "--history"});
  require_ok(text);
  CHECK_THAT(text.out, Catch::Contains("locker:L01"));
  CHECK_THAT(text.out, Catch::Contains("always"));
  CHECK_THAT(text.out, Catch::Contains("month"));
  CHECK_THAT(text.out, !Catch::Contains("room:room-a"));
  // November billed: the booking at 1800 an hour (two 900 steps), the locker at 1500.
  require_ok(
      ctl({"statements", "issue", "--month", "2026-11", "--simulated-clock", "2026-12-02 10:00"}));
  // The built-in defaults: prices include the tax.
  const auto st =
      ctl({"statements", "show", "--member", "M0001", "--month", "2026-11", "--format", "json"});
  require_ok(st);
  CHECK(json::parse(st.out)["total"] == 3600);  // two hours at 1800
  const auto locker_bill =
      ctl({"statements", "show", "--member", "M0002", "--month", "2026-11", "--format", "json"});
  require_ok(locker_bill);
  CHECK(json::parse(locker_bill.out)["total"] == 1500);
  // A change reaching into issued November names the statement; bad input is refused plainly.
  const std::vector<std::string> dec = {"--simulated-clock", "2026-12-02 11:00"};
  auto into = std::vector<std::string>{"rates",   "set", "--room", "room-a",
                                       "--price", "1",   "--from", "2026-11-15"};
  into.insert(into.end(), dec.begin(), dec.end());
  require_refused(ctl, into, 1, "M0001 (2026-11)");
  // The locker's November is billed at 1500 from its first midnight: a rate from 11-01 (up to
  // December's own) would change M0002's November.
  into[3] = "L01";
  into[2] = "--locker";
  into[7] = "2026-11-01";
  require_refused(ctl, into, 1, "M0002 (2026-11)");
  require_refused(ctl, {"rates", "set", "--room", "room-a", "--unit", "15m", "--price", "1"}, 2,
                  "--unit is for machine and coworking rates");
  require_refused(ctl, {"rates", "set", "--locker", "L01"}, 2, "needs --price");
  require_refused(ctl, {"rates", "set", "--room", "room-z", "--price", "1"}, 1, "no room 'room-z'");
  const auto actions = audit_actions(ctl);
  CHECK(count(actions, "rate_set") == 2);
}

TEST_CASE("rates withdraw --room / --locker removes a coming rate, not one that started",
          "[rates_amend][rooms]") {
  Ctl ctl;
  seed(ctl);
  rooms_and_lockers(ctl);
  const std::vector<std::string> nov = {"--simulated-clock", "2026-11-02 09:00"};
  const auto at_nov = [&](std::vector<std::string> args) {
    args.insert(args.end(), nov.begin(), nov.end());
    return args;
  };
  require_ok(
      ctl(at_nov({"rates", "set", "--room", "room-a", "--price", "1800", "--from", "2026-12-01"})));
  require_ok(
      ctl(at_nov({"rates", "set", "--room", "room-a", "--price", "2000", "--from", "2027-01-01"})));
  // Rate 3 is the room's: named with the locker, it is not found and nothing changes.
  require_refused(ctl, at_nov({"rates", "withdraw", "--id", "3", "--locker", "L01"}), 1,
                  "no rate 3 for locker:L01");
  const auto out = ctl(at_nov({"rates", "withdraw", "--id", "3", "--room", "room-a"}));
  require_ok(out);
  CHECK_THAT(out.out, Catch::Contains("withdrew rate 3 for room:room-a from 2026-12-01"));
  // The rate before it runs on to the rate after it: no gap, no overlap.
  const auto all = rates(ctl);
  REQUIRE(all.size() == 3);
  std::vector<json> room;
  for (const auto& r : all)
    if (r["target"] == "room:room-a") room.push_back(r);
  REQUIRE(room.size() == 2);
  CHECK(room[0]["price"] == 1200);
  CHECK(room[0]["effective_until_ms"] == jst(2027, 1, 1, 0));
  CHECK(room[1]["price"] == 2000);
  CHECK(room[1]["effective_from_ms"] == jst(2027, 1, 1, 0));
  // The config's rate has been in force since always: it cannot be withdrawn.
  require_refused(ctl, at_nov({"rates", "withdraw", "--id", "1", "--room", "room-a"}), 1,
                  "cannot be withdrawn");
  require_refused(ctl, at_nov({"rates", "withdraw", "--id", "3", "--room", "room-a"}), 1,
                  "no rate 3 for room:room-a");
  require_refused(ctl, {"rates", "withdraw", "--id", "4", "--room", "room-a", "--locker", "L01"}, 2,
                  "excludes");
  CHECK(count(audit_actions(ctl), "rate_withdraw") == 1);
}
