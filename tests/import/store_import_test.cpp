// Store::import_members: one transaction, one audit row, all or nothing.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "labgate/gateway/store/import.hpp"
#include "process.hpp"

namespace st = labgate::gateway::store;

namespace {

using labgate::testing::TempDir;

// 2026-04-01 00:00:00 UTC.
constexpr std::int64_t kT0 = 1775001600000;

struct Fixture {
  TempDir dir;
  std::unique_ptr<st::Store> store;

  Fixture() {
    st::StoreOptions o;
    o.clock = [] { return kT0; };
    auto s = st::Store::open(dir.file("labgate.db"), o);
    INFO((s ? std::string() : s.error().message));
    REQUIRE(s.ok());
    store = std::move(*s);
    REQUIRE(store->staff()
                .add_plan({"fablab", "Fab lab", "mon-fri 08:30-17:15", false, false}, "setup")
                .ok());
  }

  std::int64_t count(const char* sql) {
    auto n = store->database().query_int64(sql);
    REQUIRE(n.ok());
    return *n;
  }
  std::int64_t members() { return count("SELECT count(*) FROM members"); }
  std::int64_t audits() { return count("SELECT count(*) FROM audit_log"); }
};

st::ImportMember row(std::int64_t line, std::string no, std::string name) {
  st::ImportMember m;
  m.line = line;
  m.member.member_no = std::move(no);
  m.member.name = std::move(name);
  return m;
}

std::vector<st::ImportMember> good_rows(int n) {
  std::vector<st::ImportMember> out;
  for (int k = 0; k < n; ++k) {
    // Appended, not `"R" + std::to_string(...)`: GCC 12 at -O3 reports a false -Wrestrict.
    std::string no = "R";
    no += std::to_string(1000 + k);
    std::string name = "Member ";
    name += std::to_string(k);
    auto m = row(k + 2, no, name);
    m.member.plan_code = "fablab";
    if (k % 2 == 0) m.status = st::MemberStatus::kActive;
    if (k % 3 == 0) m.credit_limit = 1000 * k;
    out.push_back(std::move(m));
  }
  return out;
}

st::ImportOptions options(bool dry_run = false) {
  return st::ImportOptions{"roster.csv", std::string(64, 'a'), dry_run};
}

}  // namespace

TEST_CASE("import_members: all rows in one transaction with one audit row", "[import]") {
  Fixture f;
  const auto audits_before = f.audits();
  auto r = f.store->staff().import_members(good_rows(100), options(), "clerk");
  REQUIRE(r.ok());
  CHECK(r->issues.empty());
  CHECK(r->committed);
  CHECK(r->imported == 100);
  CHECK(r->active == 50);
  CHECK(f.members() == 100);
  CHECK(f.count("SELECT count(*) FROM members WHERE status = 'active' AND approved_at = "
                "1775001600000") == 50);
  CHECK(f.count("SELECT count(*) FROM members WHERE status = 'pending' AND approved_at IS NULL") ==
        50);
  CHECK(f.count("SELECT count(*) FROM members m JOIN plans p ON p.id = m.plan_id WHERE p.code = "
                "'fablab'") == 100);
  CHECK(f.count("SELECT count(*) FROM accounts") == 34);
  CHECK(f.count("SELECT credit_limit FROM accounts a JOIN members m ON m.id = a.member_id "
                "WHERE m.member_no = 'R1099'") == 99000);

  CHECK(f.audits() == audits_before + 1);
  auto log = f.store->audit().list_audit();
  REQUIRE(log.ok());
  const auto& last = log->back();
  CHECK(last.action == "members_import");
  CHECK(last.actor == "clerk");
  CHECK(last.subject == "roster.csv");
  const auto detail = nlohmann::json::parse(last.detail);
  CHECK(detail["count"] == 100);
  CHECK(detail["sha256"] == std::string(64, 'a'));
  CHECK(detail["file"] == "roster.csv");
  auto verdict = f.store->audit().verify_audit_chain();
  REQUIRE(verdict.ok());
  CHECK(verdict->ok);

  // The members are ordinary members afterwards.
  auto m = f.store->taps().member_by_no("R1000");
  REQUIRE(m.ok());
  REQUIRE(m->has_value());
  CHECK((*m)->status == st::MemberStatus::kActive);
  CHECK((*m)->name == "Member 0");
}

TEST_CASE("import_members: 99 good rows and 1 bad leave the database unchanged", "[import]") {
  Fixture f;
  REQUIRE(
      f.store->staff()
          .add_member({"M0001", "Existing", "", std::nullopt, std::nullopt, std::nullopt}, "clerk")
          .ok());
  const auto members_before = f.members();
  const auto audits_before = f.audits();

  SECTION("the bad row last: an unknown plan") {
    auto rows = good_rows(99);
    auto bad = row(101, "R9999", "Last");
    bad.member.plan_code = "GOLD";
    rows.push_back(bad);
    auto r = f.store->staff().import_members(rows, options(), "clerk");
    REQUIRE(r.ok());
    CHECK_FALSE(r->committed);
    REQUIRE(r->issues.size() == 1);
    CHECK(r->issues[0].line == 101);
    CHECK(r->issues[0].reason == "unknown plan 'GOLD'");
  }
  SECTION("the bad row first: a member already in the database") {
    auto rows = good_rows(99);
    rows.insert(rows.begin(), row(1, "M0001", "Again"));
    auto r = f.store->staff().import_members(rows, options(), "clerk");
    REQUIRE(r.ok());
    REQUIRE(r->issues.size() == 1);
    CHECK(r->issues[0].reason == "member_no 'M0001' is already in the database");
  }
  SECTION("a duplicate inside the rows") {
    auto rows = good_rows(99);
    rows.push_back(row(200, "R1050", "Twin"));
    auto r = f.store->staff().import_members(rows, options(), "clerk");
    REQUIRE(r.ok());
    REQUIRE(r->issues.size() == 1);
    CHECK(r->issues[0].line == 200);
    CHECK(r->issues[0].reason == "duplicate member_no 'R1050' (first on line 52)");
  }
  SECTION("every bad row is reported, by line") {
    auto rows = good_rows(99);
    auto a = row(300, "R9001", "");
    auto b = row(150, "R9002", "B");
    b.member.valid_from = "2026-04-01";
    b.member.valid_until = "2026-01-01";
    rows.push_back(a);
    rows.push_back(b);
    auto r = f.store->staff().import_members(rows, options(), "clerk");
    REQUIRE(r.ok());
    REQUIRE(r->issues.size() == 2);
    CHECK(r->issues[0].line == 150);
    CHECK(r->issues[1].line == 300);
    CHECK(r->issues[1].reason == "missing name");
  }
  CHECK(f.members() == members_before);
  CHECK(f.audits() == audits_before);
  CHECK(f.count("SELECT count(*) FROM accounts") == 0);
}

TEST_CASE("import_members: the check is repeated inside the transaction", "[import]") {
  Fixture f;
  // The file was checked while R1005 did not exist; someone added it before the write.
  const auto rows = good_rows(10);
  REQUIRE(
      f.store->staff()
          .add_member({"R1005", "Walk-in", "", std::nullopt, std::nullopt, std::nullopt}, "desk")
          .ok());
  const auto before = f.members();
  auto r = f.store->staff().import_members(rows, options(), "clerk");
  REQUIRE(r.ok());
  REQUIRE(r->issues.size() == 1);
  CHECK(r->issues[0].line == 7);
  CHECK(f.members() == before);
}

TEST_CASE("import_members: a dry run writes nothing", "[import]") {
  Fixture f;
  const auto audits_before = f.audits();
  auto r = f.store->staff().import_members(good_rows(20), options(true), "clerk");
  REQUIRE(r.ok());
  CHECK(r->issues.empty());
  CHECK(r->imported == 20);
  CHECK_FALSE(r->committed);
  CHECK(f.members() == 0);
  CHECK(f.audits() == audits_before);
  // And the real run afterwards still works.
  auto real = f.store->staff().import_members(good_rows(20), options(), "clerk");
  REQUIRE(real.ok());
  CHECK(real->committed);
  CHECK(f.members() == 20);
}

TEST_CASE("import_members: nothing to import is refused", "[import]") {
  Fixture f;
  auto r = f.store->staff().import_members({}, options(), "clerk");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == st::ErrorKind::kInvalid);
}

TEST_CASE("import: a Japanese roster round-trips byte for byte", "[import]") {
  Fixture f;
  const std::string file =
      "\xEF\xBB\xBF"
      "member_no,name,email,plan,valid_from,valid_until,status,credit_limit\r\n"
      "J0001,山田 花子,hanako@example.jp,fablab,2026-04-01,2027-03-31,active,30000\r\n"
      "J0002,\"佐藤, 太郎\",,,,,pending,\r\n"
      "J0003,髙橋 ﾊﾅｺ 𠮷野,,fablab,,,,\r\n"
      "J0004,\"「ラボ」\"\"工房\"\"\",lab@例え.jp,,,,,\r\n";
  st::RosterLookup lookup;
  lookup.plan_exists = [](std::string_view code) { return code == "fablab"; };
  const auto roster = st::parse_roster(file, lookup);
  REQUIRE(roster.issues.empty());
  REQUIRE(roster.rows.size() == 4);
  auto r =
      f.store->staff().import_members(roster.rows, {"名簿.csv", roster.sha256, false}, "clerk");
  REQUIRE(r.ok());
  REQUIRE(r->issues.empty());

  const std::vector<std::string> names = {"山田 花子", "佐藤, 太郎", "髙橋 ﾊﾅｺ 𠮷野",
                                          "「ラボ」\"工房\""};
  auto listed = f.store->staff().list_members();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 4);
  std::string again = "member_no,name,email\n";
  for (std::size_t k = 0; k < 4; ++k) {
    const auto& m = (*listed)[k];
    CHECK(m.member_no == "J000" + std::to_string(k + 1));
    CHECK(m.name == names[k]);
    std::string quoted = "\"";
    for (char c : m.name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    again += m.member_no + "," + quoted + "\",\"" + m.email + "\"\n";
  }
  CHECK((*listed)[3].email == "lab@例え.jp");
  // Written back out as CSV and read again: the same names.
  const auto back = st::parse_roster(again);
  REQUIRE(back.issues.empty());
  REQUIRE(back.rows.size() == 4);
  for (std::size_t k = 0; k < 4; ++k) CHECK(back.rows[k].member.name == names[k]);

  auto log = f.store->audit().list_audit();
  REQUIRE(log.ok());
  CHECK(log->back().subject == "名簿.csv");
  CHECK(nlohmann::json::parse(log->back().detail)["sha256"] == st::sha256_hex(file));
}
