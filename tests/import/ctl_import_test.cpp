// labgatectl members import, run as a real process against a temporary database.
#include <sqlite3.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "ctl_harness.hpp"

namespace {

const std::string kHeader =
    "member_no,name,email,plan,valid_from,valid_until,status,credit_limit\n";

// The shared labgatectl harness on a database that knows the roster's plans.
class Ctl : public labgate::test::Ctl {
 public:
  Ctl() : labgate::test::Ctl("import-tester") {
    for (const char* plan : {"fablab", "coworking-day", "coworking-full"}) {
      const auto r = (*this)({"--create", "plans", "add", "--code", plan, "--name", plan,
                              "--windows", "mon-fri 08:30-17:15"});
      INFO(r.err);
      REQUIRE(r.code == 0);
    }
  }

  // Writes `bytes` to a file in the temp dir and returns its path.
  std::string write(const std::string& name, const std::string& bytes) const {
    const auto p = dir().file(name);
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }

  // The first column of the first row, read directly from the database as text.
  std::string text(const std::string& sql) const {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(this->db().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const auto* value = sqlite3_column_text(st, 0);
    std::string out(value != nullptr ? reinterpret_cast<const char*>(value) : "");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }
  std::int64_t count(const std::string& sql) const { return std::stoll(text(sql)); }
  std::int64_t members() const { return count("SELECT count(*) FROM members"); }
  std::int64_t audits() const { return count("SELECT count(*) FROM audit_log"); }
};

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    const auto nl = s.find('\n', start);
    out.push_back(s.substr(start, nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

std::string good_rows(int n, int first = 1) {
  std::string rows;
  for (int k = 0; k < n; ++k) {
    // Appended piece by piece: `"R" + std::to_string(...)` makes GCC 12 at -O3 report a false
    // -Wrestrict in the inlined insert at the front of the temporary.
    rows.append("R").append(std::to_string(5000 + first + k));
    rows.append(",Member ").append(std::to_string(k));
    rows.append(",m").append(std::to_string(k)).append("@example.jp,fablab,2026-04-01,2027-03-31,");
    rows.append(k % 2 == 0 ? "active" : "pending").append(",\n");
  }
  return rows;
}

}  // namespace

TEST_CASE("labgatectl members import: the sample roster imports cleanly", "[import-cli]") {
  Ctl ctl;
  const auto audits = ctl.audits();
  const auto r = ctl({"members", "import", ROSTER_SAMPLE_PATH});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  CHECK_THAT(r.out, Catch::StartsWith("imported 5 members from "));
  CHECK_THAT(r.out, Catch::Contains("(3 active, 2 pending)"));
  CHECK(ctl.members() == 5);
  CHECK(ctl.audits() == audits + 1);
  CHECK(ctl.text("SELECT name FROM members WHERE member_no = 'M1001'") == "山田 花子");
  CHECK(ctl.text("SELECT name FROM members WHERE member_no = 'M1004'") == "Studio \"Kumo\" (法人)");
  CHECK(ctl.count("SELECT a.credit_limit FROM accounts a JOIN members m ON m.id = a.member_id "
                  "WHERE m.member_no = 'M1004'") == 100000);
  CHECK(ctl.text("SELECT action || ' ' || actor || ' ' || subject FROM audit_log "
                 "ORDER BY id DESC LIMIT 1") ==
        "members_import " + labgate::test::os_user() + " roster.sample.csv");
  const auto verify = ctl({"audit", "verify"});
  CHECK(verify.code == 0);

  SECTION("the same file again is refused row by row and changes nothing") {
    const auto again = ctl({"members", "import", ROSTER_SAMPLE_PATH});
    CHECK(again.code == 1);
    const auto err = lines(again.err);
    REQUIRE(err.size() == 6);
    CHECK_THAT(err[0], Catch::EndsWith("roster.sample.csv:2: member_no 'M1001' is already in the "
                                       "database"));
    CHECK_THAT(err[4], Catch::EndsWith("roster.sample.csv:7: member_no 'M1005' is already in the "
                                       "database"));
    CHECK(err[5] == "labgatectl: nothing imported: 5 bad rows");
    CHECK(ctl.members() == 5);
    CHECK(ctl.audits() == audits + 1);
  }
}

TEST_CASE("labgatectl members import: 99 good rows and 1 bad import nothing", "[import-cli]") {
  Ctl ctl;
  const auto file = ctl.write(
      "roster.csv", kHeader + good_rows(99) + "R9999,Last One,,GOLD,2026-04-01,,active,\n");
  const auto before = ctl.members();
  const auto audits = ctl.audits();
  const auto r = ctl({"members", "import", file});
  CHECK(r.code == 1);
  CHECK(r.out.empty());
  CHECK(lines(r.err) == std::vector<std::string>{file + ":101: unknown plan 'GOLD'",
                                                 "labgatectl: nothing imported: 1 bad row"});
  CHECK(ctl.members() == before);
  CHECK(ctl.audits() == audits);

  // Fixed, the same file imports in full.
  const auto fixed = ctl.write(
      "roster.csv", kHeader + good_rows(99) + "R9999,Last One,,fablab,2026-04-01,,active,\n");
  const auto ok = ctl({"members", "import", fixed});
  INFO(ok.err);
  CHECK(ok.code == 0);
  CHECK_THAT(ok.out, Catch::StartsWith("imported 100 members from "));
  CHECK(ctl.members() == before + 100);
}

TEST_CASE("labgatectl members import: every bad row reported with its line", "[import-cli]") {
  Ctl ctl;
  const auto file =
      ctl.write("roster.csv", kHeader +
                                  "R1,Good,,fablab,,,,\n"
                                  "R2,\"Multi\nline address\",bad-email,,,,,\n"  // lines 3-4
                                  "\n"
                                  "R1,Twice,,,,,,\n"                      // 6
                                  "R3,Dates,,,2026-04-01,2026-03-01,,\n"  // 7
                                  "R4,Status,,,,,gold,\n"                 // 8
                                  "R5,Credit,,,,,,-100\n"                 // 9
                                  "R6,Short\n");                          // 10
  const auto r = ctl({"members", "import", file});
  CHECK(r.code == 1);
  CHECK(lines(r.err) == std::vector<std::string>{
                            file + ":3: name: control character U+000A at character 6 (a line "
                                   "break); type it on one line",
                            file + ":3: malformed email 'bad-email'",
                            file + ":6: duplicate member_no 'R1' (first on line 2)",
                            file + ":7: valid_until 2026-03-01 is before valid_from 2026-04-01",
                            file + ":8: bad status 'gold': expected pending or active",
                            file + ":9: credit_limit -100 is negative: expected 0 or more yen",
                            file + ":10: expected 8 fields as in the header, found 2",
                            "labgatectl: nothing imported: 6 bad rows",
                        });
  CHECK(ctl.members() == 0);
}

TEST_CASE("labgatectl members import --dry-run writes nothing", "[import-cli]") {
  Ctl ctl;
  const auto file = ctl.write("roster.csv", kHeader + good_rows(10));
  const auto audits = ctl.audits();
  const auto dry = ctl({"members", "import", file, "--dry-run"});
  INFO(dry.err);
  REQUIRE(dry.code == 0);
  CHECK_THAT(dry.out, Catch::StartsWith("would import 10 members from "));
  CHECK_THAT(dry.out, Catch::Contains("nothing written"));
  CHECK(ctl.members() == 0);
  CHECK(ctl.audits() == audits);

  const auto json = ctl({"members", "import", file, "--json"});
  REQUIRE(json.code == 0);
  CHECK_THAT(json.out, Catch::Contains("\"imported\": 10"));
  CHECK_THAT(json.out, Catch::Contains("\"active\": 5"));
  CHECK(ctl.members() == 10);
}

TEST_CASE("labgatectl members import: files that are not rosters", "[import-cli]") {
  Ctl ctl;
  const auto before = ctl.members();

  const auto missing = ctl({"members", "import", ctl.write("x", "") + ".nope"});
  CHECK(missing.code == 2);
  CHECK_THAT(missing.err, Catch::Contains("no such file"));

  const auto empty = ctl.write("empty.csv", "");
  const auto e = ctl({"members", "import", empty});
  CHECK(e.code == 1);
  CHECK(lines(e.err) ==
        std::vector<std::string>{empty + ": the file is empty", "labgatectl: nothing imported"});

  const auto header_only = ctl.write("header.csv", kHeader);
  const auto h = ctl({"members", "import", header_only});
  CHECK(h.code == 1);
  CHECK_THAT(h.err, Catch::Contains(header_only + ": no member rows after the header"));

  // "member_no,name\nM2,山田花子\n" saved by Excel as plain CSV, i.e. Shift_JIS.
  const auto sjis =
      ctl.write("sjis.csv", "member_no,name\r\nM2,\x8E\x52\x93\x63\x89\xD4\x8E\x71\r\n");
  const auto s = ctl({"members", "import", sjis});
  CHECK(s.code == 1);
  CHECK_THAT(s.err, Catch::Contains(sjis + ":2: not UTF-8: save as CSV UTF-8"));

  const auto unknown = ctl.write("unknown.csv", "member_no,name,phone\r\nM2,A,03\r\n");
  const auto u = ctl({"members", "import", unknown});
  CHECK(u.code == 1);
  CHECK_THAT(u.err, Catch::Contains(unknown + ":1: unknown column 'phone'"));

  const auto dir = ctl({"members", "import", std::filesystem::path(empty).parent_path().string()});
  CHECK(dir.code == 2);
  CHECK_THAT(dir.err, Catch::Contains("not a file"));

  CHECK(ctl.members() == before);
}
