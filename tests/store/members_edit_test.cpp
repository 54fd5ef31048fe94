// Member corrections through the real labgatectl: members edit (audited old -> new), a plan change
// mid-month billed per session under the plan it started under, members import --update with its
// dry run, the plan column of members list, busy seconds and rate of sessions list, and the plan
// history a schema-4 database gets when it is migrated.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ctl_harness.hpp"
#include "schema.hpp"

namespace {

using labgate::test::Ctl;
using labgate::test::require_ok;
using labgate::test::require_refused;
using labgate::test::Run;
using json = nlohmann::json;

// Milliseconds of a Tokyo wall-clock time (UTC+9, no daylight saving).
std::int64_t tokyo_ms(int y, unsigned m, unsigned d, int hour, int minute = 0) {
  using namespace std::chrono;
  const sys_days day{year{y} / month{m} / std::chrono::day{d}};
  return duration_cast<milliseconds>(day.time_since_epoch() + hours{hour - 9} + minutes{minute})
      .count();
}

void seed(const Ctl& ctl) {
  for (const auto* code : {"FULL", "PART"}) {
    require_ok(ctl({"--create", "plans", "add", "--code", code, "--name",
                    std::string(code) + " plan", "--windows", "mon-fri 08:30-17:15"}));
  }
  require_ok(ctl({"members", "add", "--no", "M0001", "--name", "Hanako Yamada", "--plan", "FULL"}));
  require_ok(ctl({"members", "approve", "--no", "M0001"}));
  require_ok(ctl({"members", "add", "--no", "M0002", "--name", "Taro Suzuki"}));
  require_ok(ctl({"machines", "add", "--id", "laser1", "--name", "Laser cutter 1"}));
}

json run_json(const Ctl& ctl, std::vector<std::string> args) {
  args.push_back("--json");
  const auto r = ctl(args);
  require_ok(r);
  return json::parse(r.out);
}

json member(const Ctl& ctl, const std::string& no) {
  for (const auto& m : run_json(ctl, {"members", "list"})) {
    if (m["member_no"] == no) return m;
  }
  FAIL("no member " << no);
  return {};
}

json last_audit(const Ctl& ctl, const std::string& action) {
  json found;
  for (const auto& row : run_json(ctl, {"audit", "list"})) {
    if (row["action"] == action) found = row;
  }
  REQUIRE(!found.is_null());
  return found;
}

json detail_of(const json& audit_row) {
  return audit_row["detail"].is_string() ? json::parse(audit_row["detail"].get<std::string>())
                                         : audit_row["detail"];
}

std::filesystem::path write_file(const Ctl& ctl, const std::string& name, const std::string& text) {
  const auto path = ctl.dir().path() / name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace

TEST_CASE("members edit changes each field and audits old and new values", "[members_edit]") {
  Ctl ctl;
  seed(ctl);
  const auto r =
      ctl({"members", "edit", "--no", "M0001", "--name", "Hanako Sato", "--email",
           "hanako@example.jp", "--valid-from", "2026-04-01", "--valid-until", "2027-03-31"});
  require_ok(r);
  CHECK_THAT(r.out, Catch::Contains("name: Hanako Yamada -> Hanako Sato"));
  CHECK_THAT(r.out, Catch::Contains("email: (none) -> hanako@example.jp"));
  CHECK_THAT(r.out, Catch::Contains("valid_until: (none) -> 2027-03-31"));
  const auto m = member(ctl, "M0001");
  CHECK(m["name"] == "Hanako Sato");
  CHECK(m["email"] == "hanako@example.jp");
  CHECK(m["valid_from"] == "2026-04-01");
  CHECK(m["valid_until"] == "2027-03-31");
  CHECK(m["status"] == "active");

  const auto detail = detail_of(last_audit(ctl, "member.edit"));
  CHECK(detail["name"]["from"] == "Hanako Yamada");
  CHECK(detail["name"]["to"] == "Hanako Sato");
  CHECK(detail["email"]["from"].is_null());
  CHECK(detail["email"]["to"] == "hanako@example.jp");
  CHECK(detail["valid_from"]["to"] == "2026-04-01");
  CHECK(!detail.contains("plan"));

  // "" removes an optional value.
  require_ok(ctl({"members", "edit", "--no", "M0001", "--email", "", "--valid-until", ""}));
  CHECK(member(ctl, "M0001")["email"] == "");
  CHECK(member(ctl, "M0001")["valid_until"].is_null());
  CHECK(detail_of(last_audit(ctl, "member.edit"))["email"]["from"] == "hanako@example.jp");

  // A plan change from today: the door sees the new plan at once, the history keeps both.
  const auto plan = run_json(ctl, {"members", "edit", "--no", "M0001", "--plan", "PART"});
  REQUIRE(plan["changes"].size() == 1);
  CHECK(plan["changes"][0]["from"] == "FULL");
  CHECK(plan["changes"][0]["to"] == "PART");
  CHECK(plan["plan_from"].is_string());
  CHECK(member(ctl, "M0001")["plan"] == "PART");
  const auto history = run_json(ctl, {"members", "plan-history", "--no", "M0001"});
  REQUIRE(history.size() == 2);
  CHECK(history[0]["plan"] == "FULL");
  CHECK(history[0]["effective_from"].is_null());
  CHECK(history[1]["plan"] == "PART");
  CHECK(history[1]["effective_from"] == plan["plan_from"]);
  // A second change from the same day corrects the first instead of stacking.
  require_ok(ctl({"members", "edit", "--no", "M0001", "--plan", ""}));
  const auto corrected = run_json(ctl, {"members", "plan-history", "--no", "M0001"});
  REQUIRE(corrected.size() == 2);
  CHECK(corrected[1]["plan"].is_null());
  CHECK(member(ctl, "M0001")["plan"].is_null());
  require_ok(ctl({"audit", "verify"}));

  SECTION("bad input and refusals change nothing") {
    const std::vector<std::string> edit = {"members", "edit", "--no", "M0002"};
    auto with = [&](std::vector<std::string> extra) {
      auto args = edit;
      args.insert(args.end(), extra.begin(), extra.end());
      return args;
    };
    require_refused(ctl, edit, 2, "nothing to change");
    require_refused(ctl, with({"--name", "Taro\nSuzuki"}), 2, "control character");
    require_refused(ctl,
                    with({"--name",
                          "Taro \xE2\x80\xAE"
                          "ikuzuS"}),
                    2, "bidirectional");
    require_refused(ctl, with({"--name", ""}), 2, "name must not be empty");
    require_refused(ctl, with({"--email", "taro@@example.jp"}), 2, "malformed e-mail");
    require_refused(ctl, with({"--valid-from", "2026-02-30"}), 2, "bad --valid-from date");
    require_refused(ctl, with({"--valid-from", "2027-01-01", "--valid-until", "2026-12-31"}), 2,
                    "before valid-from");
    require_refused(ctl, with({"--plan", "GOLD"}), 1, "unknown plan 'GOLD'");
    require_refused(ctl, with({"--plan", "FULL", "--from", "2999-01-01"}), 2, "after today");
    require_refused(ctl, with({"--from", "2026-01-01", "--name", "X"}), 2, "--from needs --plan");
    require_refused(ctl, with({"--name", "Taro Suzuki"}), 1, "nothing to change");
    require_refused(ctl, {"members", "edit", "--no", "M0404", "--name", "Nobody"}, 1,
                    "unknown member 'M0404'");
  }
}

TEST_CASE("a plan change mid-month bills each session under the plan it started under",
          "[members_edit][billing]") {
  Ctl ctl;
  seed(ctl);
  require_ok(ctl({"machines", "add", "--id", "laser2", "--name", "Laser cutter 2"}));
  // The rates were set before October: FULL members get 10 % off, PART members 50 %.
  for (const auto* machine : {"laser1", "laser2"}) {
    require_ok(ctl({"--simulated-clock", "2026-09-30 12:00", "rates", "set", "--machine", machine,
                    "--unit", "1h", "--price", "1000", "--plan-term", "FULL:10%:0", "--plan-term",
                    "PART:50%:0"}));
  }
  const auto session = [](int id, const char* machine, std::int64_t start, std::int64_t end) {
    return "(" + std::to_string(id) + ", 's" + std::to_string(id) + "', 1, '" + machine +
           "', 'machine', " + std::to_string(start) + ", " + std::to_string(end) + ", 'tap_off', " +
           std::to_string((end - start) / 1000) + ")";
  };
  const std::int64_t change = tokyo_ms(2026, 10, 15, 0);  // the plan change's local midnight
  ctl.exec(
      "INSERT INTO sessions (id, uuid, member_id, machine_id, kind, started_at_ms, ended_at_ms, "
      "end_reason, measured_seconds) VALUES " +
      session(1, "laser1", tokyo_ms(2026, 10, 5, 10), tokyo_ms(2026, 10, 5, 12)) + ", " +
      // Starts 1 ms before the change and runs two hours into it.
      session(2, "laser1", change - 1, tokyo_ms(2026, 10, 15, 2)) + ", " +
      // Starts at the change, to the millisecond.
      session(4, "laser2", change, tokyo_ms(2026, 10, 15, 1)) + ", " +
      session(3, "laser1", tokyo_ms(2026, 10, 20, 10), tokyo_ms(2026, 10, 20, 12)));
  const std::vector<std::string> show = {"statements", "show",    "--member", "M0001",
                                         "--month",    "2026-10", "--format", "json"};
  const auto amounts = [&] {
    const auto r = ctl(show);
    require_ok(r);
    const auto s = json::parse(r.out);
    std::vector<std::int64_t> out;
    for (const auto& l : s["lines"]) out.push_back(l["amount"].get<std::int64_t>());
    out.push_back(s["total"].get<std::int64_t>());
    return std::make_pair(out, s["plan"].get<std::string>());
  };
  CHECK(amounts().first == std::vector<std::int64_t>{1800, 1800, 900, 1800, 6300});

  // On 20 October staff record that she moved to PART on the 15th.
  const auto r = ctl({"--simulated-clock", "2026-10-20 09:00", "members", "edit", "--no", "M0001",
                      "--plan", "PART", "--from", "2026-10-15"});
  require_ok(r);
  CHECK_THAT(r.out, Catch::Contains("plan: FULL -> PART (from 2026-10-15)"));
  const auto [after, plan] = amounts();
  // Sessions 1 and 2 started under FULL (10 % off), sessions 4 and 3 under PART (50 % off).
  CHECK(after == std::vector<std::int64_t>{1800, 1800, 500, 1000, 5100});
  CHECK(plan == "PART");
  const auto detail = detail_of(last_audit(ctl, "member.edit"));
  CHECK(detail["plan"]["from"] == "FULL");
  CHECK(detail["plan"]["to"] == "PART");
  CHECK(detail["plan_from"] == "2026-10-15");

  // Nothing may start before the latest change...
  require_refused(ctl,
                  {"members", "edit", "--no", "M0001", "--plan", "FULL", "--from", "2026-10-10"}, 1,
                  "cannot start before that day");
  // ...nor reach into an issued month.
  require_ok(ctl({"statements", "issue", "--month", "2026-10", "--member", "M0001"}));
  require_refused(ctl,
                  {"members", "edit", "--no", "M0001", "--plan", "FULL", "--from", "2026-10-31"}, 1,
                  "reaches into member M0001's issued statement for 2026-10");
  require_ok(ctl({"members", "edit", "--no", "M0001", "--plan", "FULL", "--from", "2026-11-01"}));
  // The issued October still reads as issued; the history has three entries.
  CHECK(amounts().first == std::vector<std::int64_t>{1800, 1800, 500, 1000, 5100});
  CHECK(run_json(ctl, {"members", "plan-history", "--no", "M0001"}).size() == 3);
}

TEST_CASE("members import --update applies a roster, all or nothing, with a dry run",
          "[members_edit][import]") {
  Ctl ctl;
  seed(ctl);
  const auto roster = write_file(ctl, "roster.csv",
                                 "member_no,name,email,plan,valid_from,valid_until,status\n"
                                 "M0001,Hanako Yamada,hanako@example.jp,PART,,2027-03-31,active\n"
                                 "M0002,Taro Suzuki,,,,,\n");
  const auto before = ctl.snapshot();
  const auto dry =
      ctl({"members", "import", roster.string(), "--update", "--dry-run", "--from", "2026-11-01"});
  require_ok(dry);
  CHECK_THAT(dry.out, Catch::Contains("M0001:\n"));
  CHECK_THAT(dry.out, Catch::Contains("  email: (none) -> hanako@example.jp\n"));
  CHECK_THAT(dry.out, Catch::Contains("  plan: FULL -> PART (from 2026-11-01)\n"));
  CHECK_THAT(dry.out, Catch::Contains("  valid_until: (none) -> 2027-03-31\n"));
  CHECK_THAT(dry.out, !Catch::Contains("M0002"));
  CHECK_THAT(dry.out, Catch::Contains("would update 1 member"));
  CHECK_THAT(dry.out, Catch::Contains("1 unchanged"));
  CHECK(ctl.snapshot() == before);

  SECTION("applied") {
    const auto done =
        run_json(ctl, {"members", "import", roster.string(), "--update", "--from", "2026-11-01"});
    CHECK(done["updated"] == 1);
    CHECK(done["unchanged"] == 1);
    REQUIRE(done["changes"].size() == 1);
    CHECK(done["changes"][0]["changes"].size() == 3);
    const auto m = member(ctl, "M0001");
    CHECK(m["email"] == "hanako@example.jp");
    CHECK(m["plan"] == "PART");
    CHECK(m["valid_until"] == "2027-03-31");
    CHECK(member(ctl, "M0002")["name"] == "Taro Suzuki");
    const auto detail = detail_of(last_audit(ctl, "member.edit"));
    CHECK(detail["plan"]["to"] == "PART");
    CHECK(detail["source"] == "roster.csv");
    CHECK(detail_of(last_audit(ctl, "members_update"))["changed"] == 1);
    require_ok(ctl({"audit", "verify"}));
  }

  SECTION("one bad row refuses the whole file") {
    for (const auto& [text, why] : std::vector<std::pair<std::string, std::string>>{
             {"M0009,Nobody,,,,,\n", "unknown member 'M0009'"},
             {"M0002,Taro Suzuki,,,,,active\n", "status pending cannot change to active"},
             {"M0002,Taro Suzuki,,GOLD,,,\n", "unknown plan 'GOLD'"},
             {"M0002,Taro Suzuki,,,2027-01-01,2026-01-01,\n", "before valid_from"},
             {"M0001,Hanako Yamada,,,,,\n", "duplicate member_no 'M0001'"}}) {
      const auto bad = write_file(ctl, "bad.csv",
                                  "member_no,name,email,plan,valid_from,valid_until,status\n"
                                  "M0001,Hanako Sato,hanako@example.jp,PART,,2027-03-31,active\n" +
                                      text);
      const auto r = ctl({"members", "import", bad.string(), "--update"});
      INFO(text << r.err);
      CHECK(r.code == 1);
      CHECK_THAT(r.err, Catch::Contains(why));
      CHECK_THAT(r.err, Catch::Contains("nothing updated"));
      CHECK(ctl.snapshot() == before);
    }
  }

  SECTION("without --update existing members are still refused") {
    const auto r = ctl({"members", "import", roster.string()});
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("already in the database"));
    CHECK(ctl.snapshot() == before);
  }
}

TEST_CASE("members list shows the plan; sessions list shows busy seconds and the rate",
          "[members_edit][display]") {
  Ctl ctl;
  seed(ctl);
  const auto members = ctl({"members", "list"});
  require_ok(members);
  CHECK_THAT(members.out, Catch::Contains("PLAN"));
  CHECK_THAT(members.out, Catch::Matches("(.|\n)*M0001 +Hanako Yamada +active +FULL *\n(.|\n)*"));
  CHECK(member(ctl, "M0001")["plan"] == "FULL");
  CHECK(member(ctl, "M0002")["plan"].is_null());

  require_ok(ctl({"--simulated-clock", "2026-09-30 12:00", "rates", "set", "--machine", "laser1",
                  "--unit", "15m", "--price", "300", "--idle-price", "100"}));
  ctl.exec(
      "INSERT INTO sessions (id, uuid, member_id, machine_id, kind, started_at_ms, ended_at_ms, "
      "end_reason, measured_seconds, busy_seconds, rate_id) VALUES (7, 'x', 1, 'laser1', "
      "'machine', " +
      std::to_string(tokyo_ms(2026, 10, 5, 10)) + ", " + std::to_string(tokyo_ms(2026, 10, 5, 11)) +
      ", 'tap_off', 3600, 1234, 1)");
  const auto sessions = ctl({"sessions", "list"});
  require_ok(sessions);
  CHECK_THAT(sessions.out, Catch::Contains("BUSY"));
  CHECK_THAT(sessions.out, Catch::Contains("RATE"));
  CHECK_THAT(sessions.out, Catch::Matches("(.|\n)* 3600 +1234 +1 +tap_off(.|\n)*"));
  const auto rows = run_json(ctl, {"sessions", "list"});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["busy_seconds"] == 1234);
  CHECK(rows[0]["rate_id"] == 1);
}

TEST_CASE("a schema-4 database gets each member's current plan as its first history entry",
          "[members_edit][migration]") {
  Ctl ctl;
  std::ofstream{ctl.db()};  // SQLite takes an empty file for a new database
  std::string script;
  for (std::size_t v = 0; v < 4; ++v) {
    script += labgate::gateway::store::detail::kMigrations[v];
  }
  script +=
      "INSERT INTO plans (id, code, name, windows) VALUES (1, 'FULL', 'Full', 'mon-fri "
      "08:30-17:15');"
      "INSERT INTO members (member_no, name, plan_id, created_at, status) VALUES "
      "('M0001', 'Hanako Yamada', 1, 1000, 'active'), ('M0002', 'Taro Suzuki', NULL, 2000, "
      "'active');"
      "PRAGMA user_version = 4; PRAGMA application_id = 1279412052;";
  ctl.exec(script);

  const auto first = run_json(ctl, {"members", "plan-history", "--no", "M0001"});
  REQUIRE(first.size() == 1);
  CHECK(first[0]["plan"] == "FULL");
  CHECK(first[0]["effective_from"].is_null());
  const auto none = run_json(ctl, {"members", "plan-history", "--no", "M0002"});
  REQUIRE(none.size() == 1);
  CHECK(none[0]["plan"].is_null());
  // A member added after the migration gets the entry too.
  require_ok(ctl({"members", "add", "--no", "M0003", "--name", "Jiro", "--plan", "FULL"}));
  CHECK(run_json(ctl, {"members", "plan-history", "--no", "M0003"}).size() == 1);
}
