// parse_roster: the header, every kind of bad row, and that all problems are reported.
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "labgate/gateway/store/import.hpp"

namespace st = labgate::gateway::store;

namespace {

const std::string kHeader =
    "member_no,name,email,plan,valid_from,valid_until,status,credit_limit\n";

st::RosterLookup lookup() {
  st::RosterLookup l;
  l.plan_exists = [](std::string_view code) { return code == "fablab" || code == "coworking"; };
  l.member_exists = [](std::string_view no) { return no == "M0001"; };
  return l;
}

// The issues of a file made of the header and `rows`, as "line: reason".
std::vector<std::string> issues_of(const std::string& rows) {
  const auto r = st::parse_roster(kHeader + rows, lookup());
  std::vector<std::string> out;
  for (const auto& i : r.issues) out.push_back(std::to_string(i.line) + ": " + i.reason);
  return out;
}

}  // namespace

TEST_CASE("parse_roster: a good file", "[roster]") {
  const std::string file = kHeader +
                           "M0100,Hanako Yamada,hanako@example.jp,fablab,2026-04-01,2027-03-31,"
                           "active,50000\n"
                           "M0101,\"Kato, Sora\",,,,,,\n"
                           "M0102, Ren Ito ,ren@example.com,coworking,,2026-12-31,PENDING,0\n";
  const auto r = st::parse_roster(file, lookup());
  REQUIRE(r.issues.empty());
  CHECK(r.data_rows == 3);
  CHECK(r.sha256 == st::sha256_hex(file));
  REQUIRE(r.rows.size() == 3);
  const auto& a = r.rows[0];
  CHECK(a.line == 2);
  CHECK(a.member.member_no == "M0100");
  CHECK(a.member.name == "Hanako Yamada");
  CHECK(a.member.email == "hanako@example.jp");
  CHECK(a.member.plan_code == std::optional<std::string>("fablab"));
  CHECK(a.member.valid_from == std::optional<std::string>("2026-04-01"));
  CHECK(a.member.valid_until == std::optional<std::string>("2027-03-31"));
  CHECK(a.status == st::MemberStatus::kActive);
  CHECK(a.credit_limit == std::optional<std::int64_t>(50000));
  const auto& b = r.rows[1];
  CHECK(b.member.name == "Kato, Sora");
  CHECK(b.member.email.empty());
  CHECK_FALSE(b.member.plan_code);
  CHECK_FALSE(b.member.valid_from);
  CHECK(b.status == st::MemberStatus::kPending);
  CHECK_FALSE(b.credit_limit);
  const auto& c = r.rows[2];
  CHECK(c.member.name == "Ren Ito");
  CHECK(c.status == st::MemberStatus::kPending);
  CHECK(c.credit_limit == std::optional<std::int64_t>(0));
}

TEST_CASE("parse_roster: header columns in any order, any case; optional columns may be absent",
          "[roster]") {
  const auto r =
      st::parse_roster("\xEF\xBB\xBFName,Member No,EMAIL\r\nA B,M7,a@b.jp\r\n", lookup());
  REQUIRE(r.issues.empty());
  REQUIRE(r.rows.size() == 1);
  CHECK(r.rows[0].member.member_no == "M7");
  CHECK(r.rows[0].member.name == "A B");
  CHECK(r.rows[0].member.email == "a@b.jp");
  CHECK(r.rows[0].line == 2);
}

TEST_CASE("parse_roster: header problems", "[roster]") {
  auto reasons = [](const std::string& file) {
    std::vector<std::string> out;
    for (const auto& i : st::parse_roster(file).issues) {
      out.push_back(std::to_string(i.line) + ": " + i.reason);
    }
    return out;
  };
  CHECK(reasons("member_no,name,phone\nM1,A,123\n") ==
        std::vector<std::string>{
            "1: unknown column 'phone' (known columns: member_no, name, email, plan, valid_from, "
            "valid_until, status, credit_limit)"});
  CHECK(reasons("member_no,name,NAME\n") ==
        std::vector<std::string>{"1: column 'name' appears twice"});
  CHECK(reasons("name,email\nA,a@b.jp\n") ==
        std::vector<std::string>{"1: missing column 'member_no'"});
  CHECK(reasons("member_no,,name\n") == std::vector<std::string>{"1: column 2 has no name"});
  CHECK(reasons("\n\nmember_no,name\n") ==
        std::vector<std::string>{"0: no member rows after the header"});
  CHECK(reasons("member_no,name\n\n,\n \n") ==
        std::vector<std::string>{"0: no member rows after the header"});
  CHECK(reasons("") == std::vector<std::string>{"0: the file is empty"});
  CHECK(reasons("\r\n\n") ==
        std::vector<std::string>{"0: the file has no header row (only blank lines)"});
  // An unreadable header line: its syntax error only, the next line is not taken as the header.
  const auto broken = reasons("member_no,na\"me\nM1,A\n");
  REQUIRE(broken.size() == 1);
  CHECK_THAT(broken[0], Catch::StartsWith("1: field 2: a quote inside an unquoted field"));
}

TEST_CASE("parse_roster: each kind of bad row", "[roster]") {
  struct Case {
    const char* name;
    std::string row;
    std::string issue;
  };
  const std::vector<Case> cases = {
      {"missing member_no", ",A,,,,,,\n", "2: missing member_no"},
      {"missing name", "M2,,,,,,,\n", "2: missing name"},
      {"blank name", "M2,   ,,,,,,\n", "2: missing name"},
      {"member_no with a space", "M 2,A,,,,,,\n",
       "2: bad member_no 'M 2': no spaces or control characters"},
      {"member_no in the database", "M0001,A,,,,,,\n",
       "2: member_no 'M0001' is already in the database"},
      {"unknown plan", "M2,A,,GOLD,,,,\n", "2: unknown plan 'GOLD'"},
      {"bad date", "M2,A,,,2026/04/01,,,\n",
       "2: bad valid_from date '2026/04/01': expected YYYY-MM-DD"},
      {"impossible date", "M2,A,,,,2026-02-30,,\n",
       "2: bad valid_until date '2026-02-30': expected YYYY-MM-DD"},
      {"until before from", "M2,A,,,2026-04-01,2026-03-31,,\n",
       "2: valid_until 2026-03-31 is before valid_from 2026-04-01"},
      {"email without @", "M2,A,hanako.example.jp,,,,,\n",
       "2: malformed email 'hanako.example.jp'"},
      {"email without domain dot", "M2,A,a@localhost,,,,,\n", "2: malformed email 'a@localhost'"},
      {"email with two @", "M2,A,a@b@c.jp,,,,,\n", "2: malformed email 'a@b@c.jp'"},
      {"email with a space", "M2,A,\"a b@c.jp\",,,,,\n", "2: malformed email 'a b@c.jp'"},
      {"email ending in a dot", "M2,A,a@c.jp.,,,,,\n", "2: malformed email 'a@c.jp.'"},
      {"bad status", "M2,A,,,,,suspended,\n",
       "2: bad status 'suspended': expected pending or active"},
      {"credit not a number", "M2,A,,,,,,5000.0\n",
       "2: bad credit_limit '5000.0': expected whole yen, e.g. 50000"},
      {"credit with a separator", "M2,A,,,,,,\"5,000\"\n",
       "2: bad credit_limit '5,000': expected whole yen, e.g. 50000"},
      {"negative credit", "M2,A,,,,,,-1\n",
       "2: credit_limit -1 is negative: expected 0 or more yen"},
      {"credit too large", "M2,A,,,,,,99999999999999999999\n",
       "2: credit_limit '99999999999999999999' is too large"},
      {"too many fields", "M2,A,,,,,,,\n", "2: expected 8 fields as in the header, found 9"},
      {"too few fields", "M2,A\n", "2: expected 8 fields as in the header, found 2"},
      {"name with a line break", "M2,\"A\nB\",,,,,,\n",
       "2: name: control character U+000A at character 2 (a line break); type it on one line"},
      {"name of 201 characters", "M2," + std::string(201, 'x') + ",,,,,,\n",
       "2: name: 201 characters long (at most 200)"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      CHECK(issues_of(c.row) == std::vector<std::string>{c.issue});
    }
  }
}

TEST_CASE("parse_roster: limits are inclusive", "[roster]") {
  // 200 characters of three-byte kanji: 600 bytes, still within the limit.
  std::string name;
  for (int k = 0; k < 200; ++k) name += "山";
  CHECK(issues_of("M2," + name + ",,,,,,\n").empty());
  CHECK(issues_of("M2," + name + "田,,,,,,\n") ==
        std::vector<std::string>{"2: name: 201 characters long (at most 200)"});
  CHECK(issues_of("M2,A,,,2026-04-01,2026-04-01,,\n").empty());
  CHECK(issues_of("M2,A,,,,,,0\n").empty());
}

TEST_CASE("parse_roster: every problem of the file, by line, and blank lines skipped", "[roster]") {
  const std::string rows =
      "M0200,Good One,,fablab,,,,\n"                   // 2
      "\n"                                             // 3 blank
      "M0201,\"Two\nLines\",,GOLD,,,,\n"               // 4-5: two problems in one row
      ",,,,,,,\n"                                      // 6 blank (Excel's empty row)
      "M0200,Dup,,,,,,\n"                              // 7 duplicate of line 2
      "M0202,Bad Date,x@y,,2026-13-01,,active,\n"      // 8 two problems
      "M0203,Fine,,coworking,2026-04-01,,active,10\n"  // 9
      "M0204,Too,,,,,,,,\n";                           // 10
  const auto r = st::parse_roster(kHeader + rows, lookup());
  std::vector<std::string> got;
  for (const auto& i : r.issues) got.push_back(std::to_string(i.line) + ": " + i.reason);
  CHECK(got == std::vector<std::string>{
                   "4: name: control character U+000A at character 4 (a line break); type it on "
                   "one line",
                   "4: unknown plan 'GOLD'",
                   "7: duplicate member_no 'M0200' (first on line 2)",
                   "8: malformed email 'x@y'",
                   "8: bad valid_from date '2026-13-01': expected YYYY-MM-DD",
                   "10: expected 8 fields as in the header, found 10",
               });
  CHECK(r.data_rows == 6);
  std::set<std::string> good;
  for (const auto& row : r.rows) good.insert(row.member.member_no);
  CHECK(good == std::set<std::string>{"M0200", "M0203"});
  CHECK(st::format_issue("roster.csv", r.issues.front()) ==
        "roster.csv:4: name: control character U+000A at character 4 (a line break); type it "
        "on one line");
  CHECK(st::format_issue("roster.csv", {0, "the file is empty"}) ==
        "roster.csv: the file is empty");
}

TEST_CASE("parse_roster: a CSV syntax error is one more bad row among the others", "[roster]") {
  const auto got = issues_of("M1,A,,,,,,\nM2,B\"x,,,,,,\nM3,C,,GOLD,,,,\n");
  REQUIRE(got.size() == 2);
  CHECK_THAT(got[0], Catch::StartsWith("3: field 2: a quote inside an unquoted field"));
  CHECK(got[1] == "4: unknown plan 'GOLD'");
}

TEST_CASE("parse_roster: Shift_JIS is refused with the UTF-8 advice", "[roster]") {
  const std::string sjis = kHeader + "M2,\x8E\x52\x93\x63\x89\xD4\x8E\x71,,,,,,\n";
  const auto r = st::parse_roster(sjis, lookup());
  REQUIRE(r.issues.size() == 1);
  CHECK(r.rows.empty());
  CHECK(st::format_issue("roster.csv", r.issues[0]) ==
        "roster.csv:2: not UTF-8: save as CSV UTF-8 (in Excel: Save As > \"CSV UTF-8 (Comma "
        "delimited)\")");
}

TEST_CASE("check_import_row: the typed checks the store repeats", "[roster]") {
  st::ImportMember row;
  row.line = 5;
  row.member.member_no = "M5";
  row.member.name = "A";
  CHECK(st::check_import_row(row).empty());
  row.status = st::MemberStatus::kSuspended;
  row.credit_limit = -5;
  row.member.plan_code = "";
  CHECK(st::check_import_row(row) ==
        std::vector<std::string>{"empty plan code",
                                 "status suspended cannot be imported: expected pending or active",
                                 "credit_limit -5 is negative: expected 0 or more yen"});
}
