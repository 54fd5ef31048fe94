// labgatectl report ward, run as a real process on the May 2026 dataset.

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "process.hpp"
#include "report_fixture.hpp"

namespace {

using labgate::test::ReportDb;

struct Run {
  int code{-1};
  std::string out;
  std::string err;
};

Run ctl(const ReportDb& db, std::vector<std::string> args) {
  std::vector<std::string> argv_s = {LABGATECTL_PATH, "--db", db.path().string()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  // The child gets its own USER (the audit actor) and site key; output is captured.
  const auto done = labgate::testing::run_command(argv_s, std::chrono::seconds(120), {});
  return Run{done.exit_code, done.out, done.err};
}

}  // namespace

TEST_CASE("labgatectl report ward --month writes every format and prints a summary",
          "[report][ctl]") {
  ReportDb db;
  fill_may_2026(db);
  const auto out = db.dir().path() / "reports";
  auto r = ctl(db, {"report", "ward", "--month", "2026-05", "--out", out.string()});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("Ward report 2026-05 (2026-05-01 .. 2026-05-31, Asia/Tokyo)") == 0);
  CHECK(r.out.find("laser") != std::string::npos);
  CHECK(r.out.find("3.50") != std::string::npos);
  CHECK(r.out.find("3 at 2026-05-20 10:30:00") != std::string::npos);
  CHECK(r.out.find("Written:") != std::string::npos);
  for (const char* name :
       {"ward-2026-05.json", "ward-2026-05.html", "ward-2026-05-summary.csv",
        "ward-2026-05-machines.csv", "ward-2026-05-daily.csv", "ward-2026-05-trainings.csv",
        "ward-2026-05-inspections.csv", "ward-2026-05-rooms.csv"}) {
    INFO(name);
    CHECK(std::filesystem::exists(out / name));
    CHECK(r.out.find((out / name).string()) != std::string::npos);
  }
  const auto json = nlohmann::json::parse(labgate::testing::read_file(out / "ward-2026-05.json"));
  CHECK(json["summary"]["unique_users"] == 7);
  CHECK(labgate::testing::read_file(out / "ward-2026-05-machines.csv").rfind("\xEF\xBB\xBF", 0) ==
        0);

  // Same database, same command: the same bytes.
  const auto again = db.dir().path() / "again";
  REQUIRE(ctl(db, {"report", "ward", "--month", "2026-05", "--out", again.string()}).code == 0);
  for (const auto& entry : std::filesystem::directory_iterator(out)) {
    CHECK(labgate::testing::read_file(entry.path()) ==
          labgate::testing::read_file(again / entry.path().filename()));
  }
}

TEST_CASE("labgatectl report ward: fiscal year, formats and JSON output", "[report][ctl]") {
  ReportDb db;
  fill_may_2026(db);
  const auto out = db.dir().path() / "fy";
  auto r = ctl(db, {"--json", "report", "ward", "--fiscal-year", "2026", "--out", out.string(),
                    "--format", "csv"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["period"] == "FY2026");
  CHECK(j["files"].size() == 7);  // the six tables of a month, and months
  CHECK(std::filesystem::exists(out / "ward-FY2026-rooms.csv"));
  CHECK(std::filesystem::exists(out / "ward-FY2026-months.csv"));
  CHECK_FALSE(std::filesystem::exists(out / "ward-FY2026.json"));
}

TEST_CASE("labgatectl report ward: clear answers to bad input", "[report][ctl]") {
  ReportDb db;
  fill_may_2026(db);
  const auto out = (db.dir().path() / "bad").string();

  auto empty = ctl(db, {"report", "ward", "--month", "2026-08", "--out", out});
  REQUIRE(empty.code == 0);
  CHECK(empty.out.find("NOTE: No activity was recorded in 2026-08") != std::string::npos);
  CHECK(std::filesystem::exists(std::filesystem::path(out) / "ward-2026-08.html"));

  auto future = ctl(db, {"report", "ward", "--month", "2999-01", "--out", out});
  CHECK(future.code == 2);
  CHECK(future.err.find("2999-01 has not begun yet") != std::string::npos);

  auto before = ctl(db, {"report", "ward", "--month", "2026-03", "--out", out});
  CHECK(before.code == 1);
  CHECK(before.err.find("the database starts on 2026-04-01") != std::string::npos);

  auto bad_month = ctl(db, {"report", "ward", "--month", "2026-13", "--out", out});
  CHECK(bad_month.code == 2);
  CHECK(bad_month.err.find("bad month '2026-13'") != std::string::npos);

  auto both =
      ctl(db, {"report", "ward", "--month", "2026-05", "--fiscal-year", "2026", "--out", out});
  CHECK(both.code == 2);
  auto neither = ctl(db, {"report", "ward", "--out", out});
  CHECK(neither.code == 2);
  CHECK(neither.err.find("exactly one of --month") != std::string::npos);
  auto no_out = ctl(db, {"report", "ward", "--month", "2026-05"});
  CHECK(no_out.code == 2);
  auto bad_format =
      ctl(db, {"report", "ward", "--month", "2026-05", "--out", out, "--format", "pdf"});
  CHECK(bad_format.code == 2);
  CHECK(bad_format.err.find("bad format 'pdf'") != std::string::npos);
  // Nothing was written for the refused commands.
  CHECK_FALSE(std::filesystem::exists(std::filesystem::path(out) / "ward-2026-05.html"));
}

TEST_CASE("labgatectl report ward: names that would start a formula are neutralised in CSV",
          "[report][ctl][csv]") {
  ReportDb db;
  fill_may_2026(db);
  // Names are staff input: a machine named like an Excel formula and a training named with a
  // leading minus must reach the spreadsheet as text.
  db.exec(
      "UPDATE machines SET name = '@SUM(1+1)*cmd|'' /C calc''!A0' WHERE id = 'laser';"
      "UPDATE certification_types SET name = '-2+3,\"basic\"' WHERE code = 'printer';");
  const auto out = db.dir().path() / "csv";
  auto r = ctl(
      db, {"report", "ward", "--month", "2026-05", "--out", out.string(), "--format", "csv,html"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto machines = labgate::testing::read_file(out / "ward-2026-05-machines.csv");
  INFO(machines);
  CHECK(machines.rfind("\xEF\xBB\xBFmachine_id,name,sessions,hours,unique_users\r\n", 0) == 0);
  CHECK(machines.find("\r\nlaser,'@SUM(1+1)*cmd|' /C calc'!A0,") != std::string::npos);
  CHECK(machines.find(",@SUM") == std::string::npos);
  const auto trainings = labgate::testing::read_file(out / "ward-2026-05-trainings.csv");
  INFO(trainings);
  CHECK(trainings.find("\r\nprinter,\"'-2+3,\"\"basic\"\"\",") != std::string::npos);
  const auto inspections = labgate::testing::read_file(out / "ward-2026-05-inspections.csv");
  CHECK(inspections.find("\r\nlaser,'@SUM(1+1)*cmd|' /C calc'!A0,") != std::string::npos);
  // The HTML page is not a spreadsheet: the name is shown as entered (escaped for HTML).
  const auto html = labgate::testing::read_file(out / "ward-2026-05.html");
  CHECK(html.find("@SUM(1+1)*cmd|' /C calc'!A0") != std::string::npos);
}

TEST_CASE("labgatectl report ward writes only where asked", "[report][ctl][export]") {
  ReportDb db;
  fill_may_2026(db);
  const auto out = db.dir().path() / "reports";
  std::filesystem::create_directory(out);
  const auto victim = db.dir().path() / "victim.txt";
  std::ofstream(victim) << "precious";
  std::filesystem::create_symlink(victim, out / "ward-2026-05.json");
  auto r = ctl(db, {"report", "ward", "--month", "2026-05", "--out", out.string()});
  CHECK(r.code != 0);
  CHECK(r.err.find("symbolic link") != std::string::npos);
  CHECK(labgate::testing::read_file(victim) == "precious");

  std::filesystem::remove(out / "ward-2026-05.json");
  r = ctl(db, {"report", "ward", "--month", "2026-05", "--out", out.string()});
  REQUIRE(r.code == 0);
  struct stat st {};
  REQUIRE(::stat((out / "ward-2026-05.html").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
}
