// The database side: loading member-months, rate resolution, issuing with its refusals, the
// unbilled total at tap time.
#include "labgate/gateway/billing/statements.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <span>
#include <thread>

#include "billing_support.hpp"
#include "labgate/gateway/billing/render.hpp"
#include "labgate/gateway/store/statement_body.hpp"
#include "must.hpp"

using namespace labgate::test::billing;
namespace bl = labgate::gateway::billing;

using labgate::testing::must;

namespace {

// Two members on plan fablab (id 1) and one without a plan; a laser with two rates (the second
// from 2026-11-15), coworking at 400/h with 60 included minutes for fablab.
void seed(st::Database& db) {
  sql(db,
      "INSERT INTO plans (id, code, name, windows) VALUES (1, 'fablab', 'Fab lab', '24h');"
      "INSERT INTO members (id, member_no, name, status, plan_id, created_at) VALUES "
      " (1, 'M0001', 'Aiko Tanaka', 'active', 1, 0),"
      " (2, 'M0002', '佐藤 健二', 'active', 1, 0),"
      " (3, 'M0003', 'No Plan', 'active', NULL, 0);"
      "INSERT INTO machines (id, name, session_mode, created_at) VALUES "
      " ('laser', 'Laser', 'hold', 0), ('cnc', 'CNC', 'hold', 0);");
  const auto from1 = std::to_string(jst(2026, 1, 1));
  const auto from2 = std::to_string(nov(15, 0));
  sql(db,
      "INSERT INTO rates (id, kind, machine_id, effective_from_ms, effective_until_ms, "
      "unit_seconds, price_per_unit, minimum_charge, grace_seconds, created_at_ms, created_by) "
      "VALUES (1, 'machine', 'laser', " +
          from1 + ", " + from2 + ", 900, 300, 0, 60, 0, 't'),(2, 'machine', 'laser', " + from2 +
          ", NULL, 900, 600, 0, 60, 0, 't'),(3, 'coworking', NULL, " + from1 +
          ", NULL, 3600, 400, 0, 0, 0, 't');"
          "INSERT INTO rate_plan_terms (rate_id, plan_id, discount_percent, included_minutes) "
          "VALUES (1, 1, 10, 0), (2, 1, 10, 0), (3, 1, 0, 60);"
          "INSERT INTO price_list (code, name, price, day_pass) VALUES "
          " ('acrylic', 'Acrylic 3 mm', 800, 0), ('day-pass', 'Day pass', 1500, 1);");
}

}  // namespace

TEST_CASE("loader: rates by effective date or stamp, plan terms, reviews, sales", "[billing][db]") {
  DbFixture f;
  auto& db = f.db();
  seed(db);
  insert_session(db, 1, 1, "laser", nov(10, 9), nov(10, 9, 30));        // rate 1: 2 units x 300
  insert_session(db, 2, 1, "laser", nov(20, 9), nov(20, 9, 30));        // rate 2: 2 x 600
  insert_session(db, 3, 1, "laser", nov(21, 9), nov(21, 9, 30), 0, 1);  // stamped rate 1
  insert_session(db, 4, 1, std::nullopt, nov(24, 9), nov(24, 12));      // coworking, day pass
  insert_session(db, 5, 1, "cnc", nov(24, 10), nov(24, 11));            // no rate
  insert_session(db, 6, 1, "laser", nov(2, 9), nov(4, 9));              // 48 h, reviewed
  insert_session(db, 7, 1, "laser", jst(2026, 10, 31, 23), jst(2026, 11, 1, 1));  // October
  insert_session(db, 8, 2, "laser", nov(11, 9), nov(11, 9, 15));
  sql(db,
      "INSERT INTO session_reviews (session_id, billed_seconds, reviewed_at_ms, reviewer) "
      "VALUES (6, 1800, 0, 'Ren Ito');"
      "INSERT INTO sales (id, member_id, item_code, quantity, unit_price, at_ms, actor) VALUES "
      " (1, 1, 'day-pass', 1, 1500, " +
          std::to_string(nov(24, 8)) + ", 'desk'), (2, 1, 'acrylic', 2, 700, " +
          std::to_string(nov(24, 13)) + ", 'desk');");

  const auto st = must(bl::member_statement(db, "M0001", "2026-11", tokyo()));
  REQUIRE(st.lines.size() == 8);
  CHECK(st.lines[0].session_ids == std::vector<std::int64_t>{6});  // Nov 2, reviewed: 30 min
  CHECK(st.lines[0].amount == 540);                                // 2 x 300 - 10%
  CHECK(st.lines[1].session_ids == std::vector<std::int64_t>{1});
  CHECK(st.lines[1].rate_id == 1);
  CHECK(st.lines[1].amount == 540);
  CHECK(st.lines[2].rate_id == 2);
  CHECK(st.lines[2].amount == 1080);  // 2 x 600 - 10%
  CHECK(st.lines[3].rate_id == 1);    // the stamp wins over the effective date
  CHECK(st.lines[4].type == bl::LineType::kDayPass);
  CHECK(st.lines[5].rule == "day pass");
  CHECK(st.lines[6].rule == "no rate");
  CHECK(st.lines[7].rule == "2 x 700 = 1400");  // the price at sale time, not the list's 800
  CHECK(st.subtotal_day_passes == 1500);
  CHECK(st.subtotal_materials == 1400);
  CHECK(st.subtotal_coworking == 0);
  CHECK(st.total == 540 + 540 + 1080 + 540 + 1500 + 1400);
  CHECK(st.plan == "fablab");

  // The whole month in one pass: members with usage only, by member_no.
  const auto all = must(bl::month_statements(db, "2026-11", tokyo()));
  REQUIRE(all.size() == 2);
  CHECK(all[0].member_no == "M0001");
  CHECK(bl::to_json(all[0]) == bl::to_json(st));
  CHECK(all[1].name == "佐藤 健二");
  CHECK(all[1].total == 270);  // 15 min at rate 1 (300) - 10%
  const auto oct = must(bl::member_statement(db, "M0001", "2026-10", tokyo()));
  REQUIRE(oct.lines.size() == 1);
  CHECK(oct.lines[0].session_ids == std::vector<std::int64_t>{7});
}

TEST_CASE("clear answers for bad months, unknown members and empty months", "[billing][db]") {
  DbFixture f;
  seed(f.db());
  auto bad = bl::member_statement(f.db(), "M0001", "2026-13", tokyo());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().kind == st::ErrorKind::kInvalid);
  CHECK(bad.error().message == "bad month '2026-13': expected YYYY-MM");
  for (const char* m : {"2026-1", "26-11-01", "2026/11", ""}) {
    CHECK_FALSE(bl::month_range(m, tokyo()).ok());
  }
  auto unknown = bl::member_statement(f.db(), "M9999", "2026-11", tokyo());
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().kind == st::ErrorKind::kNotFound);
  CHECK(unknown.error().message == "unknown member 'M9999'");
  const auto empty = must(bl::member_statement(f.db(), "M0001", "2031-05", tokyo()));
  CHECK(empty.note == "no usage in 2031-05");
  CHECK(bl::to_csv(empty).find("no usage in 2031-05") != std::string::npos);
  auto nobody = bl::month_statements(f.db(), "2031-05", tokyo());
  REQUIRE_FALSE(nobody.ok());
  CHECK(nobody.error().message == "no usage in 2031-05");
  CHECK_FALSE(bl::find_zone("Mars/Olympus").ok());
  const auto r = must(bl::month_range("2026-11", tokyo()));
  CHECK(r.begin_ms == nov(1, 0));
  CHECK(r.end_ms == jst(2026, 12, 1));
}

TEST_CASE("issue: refusals write nothing; success freezes the month with audit",
          "[billing][db][issue]") {
  DbFixture f;
  auto& db = f.db();
  seed(db);
  insert_session(db, 1, 1, "laser", nov(10, 9), nov(10, 9, 30));
  insert_session(db, 2, 2, "laser", nov(11, 9), nov(11, 9, 15));
  insert_session(db, 3, 2, "laser", nov(30, 23), std::nullopt);  // open
  insert_session(db, 4, 3, "cnc", nov(5, 9), nov(6, 10));        // 25 h: held
  auto count = [&](const char* table) {
    return must(db.query_int64(std::string{"SELECT count(*) FROM "} + table));
  };
  const auto audit_before = count("audit_log");

  bl::IssueRequest req{"2026-11", std::nullopt, "manager", nov(30, 12)};
  auto early = bl::issue_statements(db, req, tokyo());
  REQUIRE_FALSE(early.ok());
  CHECK(early.error().kind == st::ErrorKind::kConflict);
  CHECK(early.error().message.find("2026-11 has not ended yet") == 0);

  req.now_ms = jst(2026, 12, 1, 0, 0, 0);  // the first instant of December: November is over
  req.member_no = "M0002";
  auto open = bl::issue_statements(db, req, tokyo());
  REQUIRE_FALSE(open.ok());
  CHECK(open.error().message.find("open session") != std::string::npos);
  req.member_no = "M0003";
  auto held = bl::issue_statements(db, req, tokyo());
  REQUIRE_FALSE(held.ok());
  CHECK(held.error().message.find("held for review") != std::string::npos);
  req.member_no = "M9999";
  CHECK(bl::issue_statements(db, req, tokyo()).error().kind == st::ErrorKind::kNotFound);
  CHECK(count("statements") == 0);
  CHECK(count("statement_bodies") == 0);
  CHECK(count("account_entries") == 0);
  CHECK(count("audit_log") == audit_before);
  req.member_no.reset();
  req.month = "2020-05";
  CHECK(bl::issue_statements(db, req, tokyo()).error().message ==
        "no usage in 2020-05: nothing to issue");

  // All members: M0001 issued, the other two refused with their reasons.
  req.month = "2026-11";
  const auto report = must(bl::issue_statements(db, req, tokyo()));
  REQUIRE(report.issued.size() == 1);
  CHECK(report.issued[0].member_no == "M0001");
  CHECK(report.issued[0].total == 540);
  REQUIRE(report.refused.size() == 2);
  CHECK(report.refused[0].member_no == "M0002");
  CHECK(report.refused[1].member_no == "M0003");
  CHECK(count("statements") == 1);
  CHECK(must(db.query_int64("SELECT amount FROM account_entries WHERE member_id = 1 AND "
                            "kind = 'statement' AND reference = '2026-11'")) == -540);
  CHECK(count("audit_log") == audit_before + 1);
  const auto verdict = must(f.store->audit().verify_audit_chain());
  CHECK(verdict.ok);
  const auto body = must(bl::issued_body(db, "M0001", "2026-11"));
  REQUIRE(body.has_value());
  CHECK(bl::sha256_hex(*body) == report.issued[0].sha256);
  CHECK(nlohmann::json::parse(*body)["total"] == 540);
  const auto rows = must(bl::list_statements(db, std::string{"2026-11"}));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].issued_by == "manager");

  // Twice: refused for the one member, reported for all.
  req.member_no = "M0001";
  auto again = bl::issue_statements(db, req, tokyo());
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().message.find("already issued") != std::string::npos);
  req.member_no.reset();
  const auto rerun = must(bl::issue_statements(db, req, tokyo()));
  CHECK(rerun.issued.empty());
  // The issued member is reported as such, not as refused.
  CHECK(rerun.already_issued == std::vector<std::string>{"M0001"});
  CHECK(rerun.refused.size() == 2);
  CHECK(count("statements") == 1);
}

TEST_CASE("unbilled total: closed usage in months without an issued statement",
          "[billing][db][unbilled]") {
  DbFixture f;
  auto& db = f.db();
  seed(db);
  CHECK(must(bl::unbilled_total(db, 1, nov(30, 12), tokyo())) == 0);
  insert_session(db, 1, 1, "laser", jst(2026, 10, 10, 9), jst(2026, 10, 10, 9, 30));  // 540
  insert_session(db, 2, 1, "laser", nov(20, 9), nov(20, 9, 30));                      // 1080
  insert_session(db, 3, 1, "laser", nov(21, 9), std::nullopt);                        // open
  sql(db,
      "INSERT INTO sales (member_id, item_code, quantity, unit_price, at_ms, actor) VALUES "
      "(1, 'acrylic', 1, 800, " +
          std::to_string(nov(21, 10)) + ", 'desk')");
  CHECK(must(bl::unbilled_total(db, 1, nov(30, 12), tokyo())) == 540 + 1080 + 800);
  bl::IssueRequest req{"2026-10", std::string{"M0001"}, "manager", nov(1, 9)};
  REQUIRE(bl::issue_statements(db, req, tokyo()).ok());
  CHECK(must(bl::unbilled_total(db, 1, nov(30, 12), tokyo())) == 1080 + 800);
  CHECK(must(bl::unbilled_total(db, 2, nov(30, 12), tokyo())) == 0);
  CHECK(bl::unbilled_total(db, 99, nov(30, 12), tokyo()).error().kind == st::ErrorKind::kNotFound);
}

namespace {

// A second connection to the fixture's file, as labgated's change worker has beside the loop's.
std::unique_ptr<st::Store> second_store(DbFixture& f) {
  st::StoreOptions o;
  st::SiteKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i + 1);
  o.site_key = key;
  o.clock = [&f] { return f.now; };
  // Long enough to wait out the other writer below on a loaded machine.
  o.database.busy_timeout = std::chrono::seconds(20);
  return must(st::Store::open(f.dir.path() / "labgate.db", o));
}

// Issues November on `issuer` while `other` holds the write lock with `change` uncommitted,
// committing it a moment after the issue has started: the issue's bill is made on the data
// before the change and its write waits for the lock.
st::Result<bl::IssueReport> issue_racing(st::Database& other, st::Database& issuer,
                                         const bl::IssueRequest& req, const std::string& change) {
  sql(other, "BEGIN IMMEDIATE; " + change);
  auto issuing =
      std::async(std::launch::async, [&] { return bl::issue_statements(issuer, req, tokyo()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  sql(other, "COMMIT");
  return issuing.get();
}

}  // namespace

TEST_CASE("issue: a rate change landing between the bill and the write is billed, not lost",
          "[billing][db][issue]") {
  DbFixture f;
  auto& db = f.db();
  seed(db);
  insert_session(db, 1, 1, "laser", nov(20, 9), nov(20, 9, 30));  // rate 2: 2 x 600 - 10%
  insert_session(db, 2, 2, "laser", nov(21, 9), nov(21, 9, 15));  // rate 2: 1 x 600 - 10%
  const auto issuer = second_store(f);
  const bl::IssueRequest req{"2026-11", std::nullopt, "manager", jst(2026, 12, 1, 9)};
  // Written straight into the table: the ledger refuses a rate starting in the past, but any
  // writer of billing data (a review, a member's plan, labgatectl on the file) can land there.
  const auto report = must(issue_racing(db, issuer->database(), req,
                                        "UPDATE rates SET price_per_unit = 1000 WHERE id = 2;"));
  // The first bill saw 600 a unit; the check under the lock saw the change and billed again.
  CHECK(report.timing.passes == 2);
  REQUIRE(report.issued.size() == 2);
  CHECK(report.issued[0].total == 1800);  // 2 x 1000 - 10%
  CHECK(report.issued[1].total == 900);
  CHECK(must(db.query_int64("SELECT count(*) FROM statements WHERE month = '2026-11'")) == 2);
  // The bodies the first pass stored for the old price are dropped; the second pass's stay.
  CHECK(must(db.query_int64("SELECT count(*) FROM statement_bodies")) == 2);
  CHECK(must(db.query_int64("SELECT -sum(amount) FROM account_entries WHERE kind = "
                            "'statement'")) == 2700);
  const auto body = must(bl::issued_body(db, "M0001", "2026-11"));
  REQUIRE(body.has_value());
  CHECK(nlohmann::json::parse(*body)["total"] == 1800);
}

TEST_CASE("issue: what was confirmed is issued, or nothing; the whole month or nothing",
          "[billing][db][issue]") {
  DbFixture f;
  auto& db = f.db();
  seed(db);
  insert_session(db, 1, 1, "laser", nov(20, 9), nov(20, 9, 30));  // 1080
  insert_session(db, 2, 2, "laser", nov(21, 9), nov(21, 9, 15));  // 540
  const auto issuer = second_store(f);
  bl::IssueRequest req{"2026-11", std::nullopt, "manager", jst(2026, 12, 1, 9)};
  req.whole_month = true;
  req.expected = bl::IssueExpectation{2, 1620};
  auto count = [&](const char* sql_text) { return must(db.query_int64(sql_text)); };

  // The confirmation said 1620 yen; a rate change raced in and the month now comes to 2700:
  // refused with both figures, nothing written.
  auto raced = issue_racing(db, issuer->database(), req,
                            "UPDATE rates SET price_per_unit = 1000 WHERE id = 2;");
  REQUIRE_FALSE(raced.ok());
  CHECK(raced.error().kind == st::ErrorKind::kConflict);
  CHECK(raced.error().message.find("changed since it was confirmed (2 members, 1620 yen)") !=
        std::string::npos);
  CHECK(raced.error().message.find("2 members, 2700 yen") != std::string::npos);
  CHECK(count("SELECT count(*) FROM statements") == 0);
  CHECK(count("SELECT count(*) FROM statement_bodies") == 0);
  CHECK(count("SELECT count(*) FROM account_entries") == 0);

  // A held session: the whole month is refused, naming the member and why.
  insert_session(db, 3, 3, "cnc", nov(5, 9), nov(6, 10));  // 25 h
  req.expected = bl::IssueExpectation{2, 2700};
  auto held = bl::issue_statements(db, req, tokyo());
  REQUIRE_FALSE(held.ok());
  CHECK(held.error().message.find("M0003: 1 session(s) longer than 24 h held") !=
        std::string::npos);
  CHECK(count("SELECT count(*) FROM statements") == 0);

  // Without the whole-month rule the same request issues the two that can be, once.
  req.whole_month = false;
  const auto report = must(bl::issue_statements(db, req, tokyo()));
  CHECK(report.issued.size() == 2);
  CHECK(report.refused.size() == 1);
  // Confirmed again by another browser after that: nothing left to write, reported, not refused.
  const auto again = must(bl::issue_statements(db, req, tokyo()));
  CHECK(again.issued.empty());
  CHECK(again.already_issued == std::vector<std::string>{"M0001", "M0002"});
  CHECK(count("SELECT count(*) FROM statements") == 2);
  CHECK(count("SELECT -sum(amount) FROM account_entries WHERE kind = 'statement'") == 2700);
}

TEST_CASE(
    "issue: bodies go in short transactions of their own; other writers get the lock "
    "between them",
    "[billing][db][issue]") {
  DbFixture f;
  auto& db = f.db();
  seed(db);
  insert_session(db, 1, 1, "laser", nov(20, 9), nov(20, 9, 30));
  insert_session(db, 2, 2, "laser", nov(21, 9), nov(21, 9, 15));
  insert_session(db, 3, 3, std::nullopt, nov(22, 9), nov(22, 11));
  const auto issuer = second_store(f);
  // A tap's journal write, on its own connection: it must get the write lock at once (no busy
  // wait at all) between two batches of bodies.
  st::DatabaseOptions tap_options;
  tap_options.busy_timeout = std::chrono::milliseconds(0);
  auto tap = must(st::Database::open(f.dir.path() / "labgate.db", tap_options));
  bl::IssueRequest req{"2026-11", std::nullopt, "manager", jst(2026, 12, 1, 9)};
  req.body_batch_bytes = 1;  // one body per transaction
  int batches = 0;
  std::vector<std::int64_t> bodies_seen;
  req.after_body_batch = [&] {
    ++batches;
    must(tap->execute_script("BEGIN IMMEDIATE"));
    bodies_seen.push_back(must(tap->query_int64("SELECT count(*) FROM statement_bodies")));
    bodies_seen.push_back(must(tap->query_int64("SELECT count(*) FROM statements")));
    must(tap->execute_script("COMMIT"));
  };
  const auto report = must(bl::issue_statements(issuer->database(), req, tokyo()));
  REQUIRE(report.issued.size() == 3);
  CHECK(batches == 3);
  CHECK(report.timing.body_batches == 3);
  // The bodies are committed one by one before any statement refers to them.
  CHECK(bodies_seen == std::vector<std::int64_t>{1, 0, 2, 0, 3, 0});
  // Each statement's body is stored once, under its digest, byte for byte what the engine
  // renders for the member now.
  CHECK(must(db.query_int64("SELECT count(*) FROM statement_bodies")) == 3);
  CHECK(must(db.query_int64("SELECT count(*) FROM statements s JOIN statement_bodies b ON "
                            "b.sha256 = s.sha256")) == 3);
  for (const auto& i : report.issued) {
    const auto body = must(bl::issued_body(db, i.member_no, "2026-11"));
    REQUIRE(body.has_value());
    CHECK(*body == bl::to_json(must(bl::member_statement(db, i.member_no, "2026-11", tokyo()))));
    CHECK(bl::sha256_hex(*body) == i.sha256);
  }
}

TEST_CASE("issue: a refusal after the bodies were stored leaves none behind",
          "[billing][db][issue]") {
  DbFixture f;
  auto& db = f.db();
  seed(db);
  insert_session(db, 1, 1, "laser", nov(20, 9), nov(20, 9, 30));  // 1080
  insert_session(db, 2, 2, "laser", nov(21, 9), nov(21, 9, 15));  // 540
  auto count = [&](const char* table) {
    return must(db.query_int64(std::string{"SELECT count(*) FROM "} + table));
  };
  bl::IssueRequest req{"2026-11", std::nullopt, "manager", jst(2026, 12, 1, 9)};
  req.body_batch_bytes = 1;
  int batches = 0;
  req.after_body_batch = [&] { ++batches; };
  // What the confirmation showed differs from the month: refused under the final lock, after
  // both bodies were stored.
  req.expected = bl::IssueExpectation{2, 1000};
  auto refused = bl::issue_statements(db, req, tokyo());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("changed since it was confirmed") != std::string::npos);
  CHECK(batches == 2);
  CHECK(count("statement_bodies") == 0);
  CHECK(count("statements") == 0);
  CHECK(count("account_entries") == 0);

  // Issued for M0001 alone, then the month refused again: M0001's body, referenced, stays; the
  // one stored for M0002 by the refused run goes.
  req.expected.reset();
  req.member_no = "M0001";
  const auto one = must(bl::issue_statements(db, req, tokyo()));
  REQUIRE(one.issued.size() == 1);
  req.member_no.reset();
  req.expected = bl::IssueExpectation{1, 1};
  REQUIRE_FALSE(bl::issue_statements(db, req, tokyo()).ok());
  CHECK(count("statements") == 1);
  CHECK(must(db.query_int64("SELECT count(*) FROM statement_bodies WHERE sha256 = '" +
                            one.issued[0].sha256 + "'")) == 1);
  CHECK(count("statement_bodies") == 1);
}

TEST_CASE(
    "statement bodies: a statement needs its body; a referenced body is never changed or "
    "dropped",
    "[billing][db][issue]") {
  DbFixture f;
  auto& db = f.db();
  seed(db);
  insert_session(db, 1, 1, "laser", nov(20, 9), nov(20, 9, 30));
  bl::IssueRequest req{"2026-11", std::nullopt, "manager", jst(2026, 12, 1, 9)};
  const auto report = must(bl::issue_statements(db, req, tokyo()));
  REQUIRE(report.issued.size() == 1);
  const std::string sha = report.issued[0].sha256;
  CHECK_FALSE(db.execute_script("UPDATE statement_bodies SET body = '{}'").ok());
  CHECK_FALSE(db.execute_script("DELETE FROM statement_bodies").ok());
  CHECK_FALSE(must(st::BillingLedger::drop_unreferenced_body(db, sha)));
  CHECK_FALSE(db.execute_script("INSERT INTO statements (member_id, month, issued_at_ms, "
                                "issued_by, total, sha256) VALUES (2, '2026-11', 0, 'x', 0, "
                                "'no-such-body')")
                  .ok());
  CHECK(must(db.query_int64("SELECT count(*) FROM statement_bodies")) == 1);
  const auto body = must(bl::issued_body(db, "M0001", "2026-11"));
  REQUIRE(body.has_value());
  CHECK(bl::sha256_hex(*body) == sha);
}

TEST_CASE(
    "statement bodies: stored as zstd, read back byte for byte; damaged bytes are an error, "
    "never another statement",
    "[billing][db][issue]") {
  DbFixture f;
  auto& db = f.db();
  seed(db);
  for (int day = 1; day <= 28; ++day) {
    insert_session(db, day, 1, "laser", nov(day, 9), nov(day, 9, 30));
  }
  bl::IssueRequest req{"2026-11", std::nullopt, "manager", jst(2026, 12, 1, 9)};
  const auto report = must(bl::issue_statements(db, req, tokyo()));
  REQUIRE(report.issued.size() == 1);
  const std::string json = bl::to_json(must(bl::member_statement(db, "M0001", "2026-11", tokyo())));
  // Stored compressed: 28 lines repeating their keys shrink to well under half.
  CHECK(must(db.query_int64("SELECT count(*) FROM statement_bodies WHERE encoding = 'zstd' AND "
                            "typeof(body) = 'blob'")) == 1);
  const auto stored = must(db.query_int64("SELECT length(body) FROM statement_bodies"));
  CHECK(stored * 2 < static_cast<std::int64_t>(json.size()));
  CHECK(must(bl::issued_body(db, "M0001", "2026-11")) == json);

  // Damage the stored bytes behind the triggers' back, as a failing disk would.
  sql(db,
      "DROP TRIGGER statement_bodies_immutable;"
      "UPDATE statement_bodies SET body = substr(body, 1, length(body) / 2)");
  auto cut = bl::issued_body(db, "M0001", "2026-11");
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().kind == st::ErrorKind::kUnavailable);
  CHECK(cut.error().message.find("statement of M0001 for 2026-11: a stored statement body is "
                                 "damaged") == 0);
  // A valid frame of other JSON: its digest gives it away.
  st::BodyPacker packer;
  const auto other = must(packer.pack(R"({"total":0})"));
  auto swap = must(db.prepare("UPDATE statement_bodies SET body = ?1"));
  swap.bind(
      1, std::span{reinterpret_cast<const std::uint8_t*>(other.bytes.data()), other.bytes.size()});
  must(swap.run());
  auto swapped = bl::issued_body(db, "M0001", "2026-11");
  REQUIRE_FALSE(swapped.ok());
  CHECK(swapped.error().message.find("its sha256 differs from the statement's") !=
        std::string::npos);
}

TEST_CASE("statement bodies: packing and unpacking", "[billing][issue]") {
  st::BodyPacker packer;
  std::string json = R"({"member_no":"M0001","lines":[)";
  for (int i = 0; i < 100; ++i) json += R"({"type":"machine","amount":540},)";
  json += "{}]}";
  const auto packed = must(packer.pack(json));
  CHECK(packed.sha256 == bl::sha256_hex(json));
  CHECK(packed.bytes.size() < json.size() / 4);
  CHECK(must(st::unpack_body("zstd", packed.bytes, packed.sha256)) == json);
  // Bodies stored before compression came in read as they are, checked all the same.
  CHECK(must(st::unpack_body("identity", json, packed.sha256)) == json);
  CHECK(st::unpack_body("identity", json + " ", packed.sha256).error().kind ==
        st::ErrorKind::kUnavailable);
  CHECK(st::unpack_body("gzip", packed.bytes, packed.sha256).error().kind ==
        st::ErrorKind::kInvalid);
  CHECK(st::unpack_body("zstd", "not a frame", packed.sha256).error().kind ==
        st::ErrorKind::kUnavailable);
  // A frame header claiming 3.75 GiB is refused before anything is allocated for it: the magic,
  // then a single-segment descriptor with a 4-byte content size, 0xf0000000.
  std::string huge = packed.bytes.substr(0, 4);
  huge += std::string("\xa0\x00\x00\x00\xf0", 5);
  const auto refused = st::unpack_body("zstd", huge, packed.sha256);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("claims 4026531840 bytes") != std::string::npos);
  // The same input packs to the same bytes: a re-issued body is found by its digest.
  CHECK(must(packer.pack(json)).bytes == packed.bytes);
}
