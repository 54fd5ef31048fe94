// The statements pages over real HTTP against a real labgate-console and labgated: preview,
// downloads byte-identical to labgatectl's, the zip export and the issue as background jobs with
// their progress page, a month refused while it has held sessions, issuing twice and from two
// browsers at once charging once, hostile names escaped, and desk staff refused everywhere.

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>

#include "console_site.hpp"
#include "must.hpp"

using namespace labgate::testing;

namespace {

// November 2026 in JST: M1 on the printer on the 20th (45 min) and the laser on the 21st (3 h);
// M9, whose name is markup, on the printer; rates from 2026-11-01. October: M2 has a 25-hour
// session, held for review.
void seed_month(ConsoleSite& site) {
  // A plain connection: the rows stand for what labgated recorded on those days.
  auto db = must(labgate::gateway::store::Database::open(site.daemon().db_path(), {}));
  for (const std::string& sql :
       {std::string("INSERT INTO members (member_no, name, status, created_at) VALUES"
                    " ('M9', '<script>alert(1)</script> & \"x\"', 'active', 0);"),
        std::string(
            "INSERT INTO rates (kind, machine_id, effective_from_ms, unit_seconds, price_per_unit,"
            " idle_price_per_unit, minimum_charge, grace_seconds, daily_cap, created_at_ms, "
            "created_by)"
            " VALUES ('machine', 'printer', 1793458800000, 900, 300, NULL, 0, 0, NULL, 0, 'test'),"
            " ('machine', 'laser', 1793458800000, 900, 600, NULL, 0, 0, NULL, 0, 'test');"),
        std::string(
            "INSERT INTO sessions (uuid, member_id, kind, machine_id, started_at_ms, ended_at_ms,"
            " end_reason, measured_seconds, busy_seconds) VALUES"
            " ('t-1', (SELECT id FROM members WHERE member_no = 'M1'), 'machine', 'printer',"
            "  1795136400000, 1795139100000, 'tap_off', 2700, NULL),"
            " ('t-2', (SELECT id FROM members WHERE member_no = 'M1'), 'machine', 'laser',"
            "  1795219200000, 1795230000000, 'card_removed', 10800, NULL),"
            " ('t-3', (SELECT id FROM members WHERE member_no = 'M9'), 'machine', 'printer',"
            "  1795136400000, 1795139100000, 'tap_off', 2700, NULL),"
            " ('t-4', (SELECT id FROM members WHERE member_no = 'M2'), 'machine', 'printer',"
            "  1791594000000, 1791684000000, 'tap_off', 90000, NULL);")}) {
    auto r = db->execute_script(sql);
    INFO(sql << ": " << (r ? std::string() : r.error().message));
    REQUIRE(r.ok());
  }
}

std::string attr(const std::string& body, const std::string& name) {
  const auto at = body.find(name + "=\"");
  if (at == std::string::npos) return {};
  const auto from = at + name.size() + 2;
  return body.substr(from, body.find('"', from) - from);
}

std::string location_of(const HttpReply& r) {
  return r.header("location");
}

std::int64_t count_rows(ConsoleSite& site, const std::string& sql) {
  auto s = site.daemon().open_store();
  auto stmt = must(s->database().prepare(sql));
  REQUIRE(must(stmt.step()));
  return stmt.column_int64(0);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("console statements: desk staff are refused every statements page", "[console]") {
  ConsoleSite site;
  seed_month(site);
  for (const auto* login : {"dina", "sam", "tara"}) {
    auto b = site.logged_in(login);
    CHECK(site.get(b, "/statements").status == 403);
    CHECK(site.get(b, "/statements?month=2026-11").status == 403);
    CHECK(site.get(b, "/statements/download?month=2026-11&member=M1&format=csv").status == 403);
    CHECK(site.post(b, "/statements/issue", "month=2026-11&confirm=1").status == 403);
    CHECK(site.post(b, "/statements/export", "month=2026-11").status == 403);
    CHECK_FALSE(has(site.get(b, "/").body, R"(href="/statements")"));
  }
  CHECK(count_rows(site, "SELECT count(*) FROM statements") == 0);
}

TEST_CASE("console statements: preview, downloads as labgatectl writes them, hostile names",
          "[console]") {
  ConsoleSite site;
  seed_month(site);
  auto mona = site.logged_in("mona");
  CHECK(has(site.get(mona, "/").body, R"(href="/statements")"));
  auto r = site.get(mona, "/statements?month=2026-11");
  REQUIRE(r.status == 200);
  // M1: printer 45 min = 3 x 300, laser 3 h = 12 x 600: 900 + 7200; M9 900.
  CHECK(attr(r.body, "data-members") == "2");
  CHECK(attr(r.body, "data-total") == "9000");
  CHECK(has(r.body, R"(<tr data-member="M1">)"));
  CHECK_FALSE(has(r.body, "<script>alert"));
  CHECK(has(r.body, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"));
  r = site.get(mona, "/statements?month=2026-11&member=M1");
  REQUIRE(r.status == 200);
  CHECK(attr(r.body, "data-total") == "8100");

  // The CSV and JSON are `statements show`'s output, the PDF and HTML `statements invoice`'s.
  const auto csv = site.get(mona, "/statements/download?month=2026-11&member=M1&format=csv");
  REQUIRE(csv.status == 200);
  const auto show = labgatectl(site.daemon(), {"statements", "show", "--member", "M1", "--month",
                                               "2026-11", "--format", "csv"});
  REQUIRE(show.exit_code == 0);
  CHECK(csv.body == show.out);
  CHECK(has(csv.header("content-disposition"), "statement-2026-11-M1.csv"));
  const auto js = site.get(mona, "/statements/download?month=2026-11&member=M1&format=json");
  const auto show_json = labgatectl(site.daemon(), {"statements", "show", "--member", "M1",
                                                    "--month", "2026-11", "--format", "json"});
  CHECK(js.body == show_json.out);
  const auto html = site.get(mona, "/statements/download?month=2026-11&member=M9&format=html");
  REQUIRE(html.status == 200);
  CHECK_FALSE(has(html.body, "<script>alert"));
  CHECK(has(html.body, "id=\"draft\""));  // November is not issued yet
  const auto pdf =
      site.get(mona, "/statements/download?month=2026-11&member=M1&format=pdf&lang=en");
  REQUIRE(pdf.status == 200);
  CHECK(pdf.header("content-type") == "application/pdf");
  const std::string out = site.daemon().db_path() + ".invoice.pdf";
  const auto ctl =
      labgatectl(site.daemon(), {"statements", "invoice", "--member", "M1", "--month", "2026-11",
                                 "--lang", "en", "--format", "pdf", "--out", out});
  REQUIRE(ctl.exit_code == 0);
  CHECK(slurp(out) == pdf.body);
  // The whole month: the summary CSV and every invoice in one PDF.
  const auto summary = site.get(mona, "/statements/download?month=2026-11&format=csv");
  CHECK(has(summary.body, "M1,"));
  CHECK(site.get(mona, "/statements/download?month=2026-11&format=pdf").status == 200);
  // Bad input: a clear refusal, not a file.
  CHECK(site.get(mona, "/statements/download?month=2026-13&member=M1&format=csv").status == 400);
  CHECK(site.get(mona, "/statements/download?month=2026-11&member=M1&format=exe").status == 400);
  CHECK(site.get(mona, "/statements/download?month=2026-11&member=NOPE&format=csv").status == 404);
}

TEST_CASE("console statements: export as a zip in the background", "[console]") {
  ConsoleSite site;
  seed_month(site);
  auto mona = site.logged_in("mona");
  auto r = site.post(mona, "/statements/export", "month=2026-11");
  REQUIRE(r.status == 303);
  const auto job = location_of(r);
  REQUIRE(job.starts_with("/statements/jobs/"));
  const auto done = wait_job(site, mona, job);
  REQUIRE(has(done, R"(data-stage="done")"));
  CHECK(has(done, "<progress"));
  const auto zip = site.get(mona, "/statements/files/statements-2026-11.zip");
  REQUIRE(zip.status == 200);
  CHECK(zip.body.starts_with("PK"));
  for (const auto* name :
       {"statement-2026-11-M1.csv", "statement-2026-11-M9.json", "summary-2026-11.csv",
        "invoice-2026-11-M1-ja.pdf", "invoice-2026-11-M9-ja.pdf"}) {
    CHECK(has(zip.body, name));
  }
  // One PDF per member, no longer the month's in one file.
  CHECK_FALSE(has(zip.body, "invoices-2026-11-ja.pdf"));
  // A month without usage fails as a job, and leaves no file behind.
  r = site.post(mona, "/statements/export", "month=2020-01");
  const auto failed = wait_job(site, mona, location_of(r));
  CHECK(has(failed, R"(data-stage="failed")"));
  CHECK(has(failed, "no usage in 2020-01"));
  CHECK(site.get(mona, "/statements/files/statements-2020-01.zip").status == 404);
  // Only export names are served.
  CHECK(site.get(mona, "/statements/files/..%2f..%2fetc%2fpasswd").status == 404);
}

TEST_CASE("console statements: issuing a month, refused while held, charged once", "[console]") {
  ConsoleSite site;
  seed_month(site);
  auto mona = site.logged_in("mona");
  // October has a 25-hour session: refused, naming the member; nothing written.
  auto r = site.post(mona, "/statements/issue", "month=2026-10");
  CHECK(r.status == 409);
  CHECK(has(r.body, "M2"));
  // A month that has not ended is refused too.
  r = site.post(mona, "/statements/issue", "month=2030-01");
  CHECK(r.status == 409);
  CHECK(count_rows(site, "SELECT count(*) FROM statements") == 0);

  // November: the confirmation names the members and the total before anything is written.
  site.daemon().cmd("clock set 2026-12-01 09:00");
  r = site.post(mona, "/statements/issue", "month=2026-11");
  REQUIRE(r.status == 200);
  CHECK(attr(r.body, "data-members") == "2");
  CHECK(attr(r.body, "data-total") == "9000");
  CHECK(count_rows(site, "SELECT count(*) FROM statements") == 0);

  // Two browsers confirm at once: one run, or a second that finds everything issued.
  auto other = site.logged_in("mona");
  const std::string form = "month=2026-11&confirm=1&expected=2&expected_total=9000";
  auto first =
      std::async(std::launch::async, [&] { return site.post(mona, "/statements/issue", form); });
  auto second =
      std::async(std::launch::async, [&] { return site.post(other, "/statements/issue", form); });
  const auto a = first.get();
  const auto b = second.get();
  REQUIRE(a.status == 303);
  REQUIRE(b.status == 303);
  const auto done_a = wait_job(site, mona, location_of(a));
  const auto done_b = wait_job(site, other, location_of(b));
  CHECK(has(done_a, R"(data-stage="done")"));
  CHECK(has(done_b, R"(data-stage="done")"));
  CHECK(count_rows(site, "SELECT count(*) FROM statements WHERE month = '2026-11'") == 2);
  CHECK(count_rows(site, "SELECT count(*) FROM account_entries WHERE kind = 'statement'") == 2);
  CHECK(count_rows(site, "SELECT -sum(amount) FROM account_entries WHERE kind = 'statement'") ==
        9000);
  CHECK(audited(site, me("mona"), "statement_issue", "M1"));
  // Issuing again: refused, everything is issued; still charged once.
  r = site.post(mona, "/statements/issue", "month=2026-11");
  CHECK(r.status == 409);
  r = site.post(mona, "/statements/issue", form);
  CHECK(has(wait_job(site, mona, location_of(r)), R"(data-already="2")"));
  CHECK(count_rows(site, "SELECT count(*) FROM account_entries WHERE kind = 'statement'") == 2);
  // The invoice is now issued: no draft mark, the issue date on it.
  const auto html = site.get(mona, "/statements/download?month=2026-11&member=M1&format=html");
  CHECK_FALSE(has(html.body, "id=\"draft\""));
  CHECK(has(html.body, "2026-12-01"));
}

// The reply of labgated to a month of 10,000 members lists every statement issued: over 1 MiB on
// one line. labgated used to close the connection instead of sending a line longer than its
// per-client byte bound, so the month was issued but the console was told nobody answered.
TEST_CASE("console statements: a month of 10,000 members is issued and reported", "[console]") {
  ConsoleSite site;
  {
    auto db = must(labgate::gateway::store::Database::open(site.daemon().db_path(), {}));
    std::string sql =
        "BEGIN; INSERT INTO price_list (code, name, price, day_pass) VALUES ('tea', 'Tea', 150, "
        "0);";
    for (int i = 1; i <= 10000; ++i) {
      sql +=
          "INSERT INTO members (id, member_no, name, status, created_at) VALUES (" +
          std::to_string(1000 + i) + ", 'L" + std::to_string(100000 + i) + "', 'Large " +
          std::to_string(i) +
          "', 'active', 0);"
          "INSERT INTO sales (member_id, item_code, quantity, unit_price, at_ms, actor) VALUES (" +
          std::to_string(1000 + i) + ", 'tea', 1, 150, 1795136400000, 'test');";
    }
    sql += "COMMIT;";
    must(db->execute_script(sql));
  }
  site.daemon().cmd("clock set 2026-12-01 09:00");
  auto mona = site.logged_in("mona");
  auto r = site.post(mona, "/statements/issue", "month=2026-11");
  REQUIRE(r.status == 200);
  CHECK(attr(r.body, "data-members") == "10000");
  r = site.post(mona, "/statements/issue",
                "month=2026-11&confirm=1&expected=10000&expected_total=1500000");
  const auto done = wait_job(site, mona, location_of(r));
  CHECK(has(done, R"(data-stage="done")"));
  CHECK(attr(done, "data-issued") == "10000");
  CHECK(attr(done, "data-total") == "1500000");
  CHECK(site.daemon().log().find("is not reading; closed") == std::string::npos);
}

// A rate change racing the issue from two browsers: labgated takes one change at a time, so
// either order can happen; whichever it is, one statement per member, charged once, and a rate
// reaching into November refused with its reason (past, or reaching an issued month). Then a
// change that lands between the confirmation and the issue: the issue is refused naming both
// totals, nothing is written, and the month issues at the new total once confirmed again.
TEST_CASE("console statements: a rate change racing an issue", "[console]") {
  ConsoleSite site;
  seed_month(site);
  site.daemon().cmd("clock set 2026-12-01 09:00");
  auto mona = site.logged_in("mona");
  auto other = site.logged_in("mona");
  auto r = site.post(mona, "/statements/issue", "month=2026-11");
  REQUIRE(r.status == 200);
  REQUIRE(attr(r.body, "data-total") == "9000");
  const std::string confirmed = "month=2026-11&confirm=1&expected=2&expected_total=9000";

  auto issuing = std::async(std::launch::async,
                            [&] { return site.post(mona, "/statements/issue", confirmed); });
  auto rating = std::async(std::launch::async, [&] {
    return site.post(other, "/rates/set",
                     "target=laser&unit_min=15&price=900&from=2026-11-15&confirm=1");
  });
  const auto issued = issuing.get();
  const auto rate = rating.get();
  REQUIRE(issued.status == 303);
  const auto done = wait_job(site, mona, location_of(issued));
  CHECK(has(done, R"(data-stage="done")"));
  CHECK(attr(done, "data-issued") == "2");
  CHECK(attr(done, "data-total") == "9000");
  CHECK(rate.status == 409);
  const bool past = has(rate.body, "starts in the past");
  const bool reaches = has(rate.body, "2026-11, already issued");
  CHECK((past || reaches));
  CHECK(count_rows(site, "SELECT count(*) FROM rates WHERE price_per_unit = 900") == 0);
  CHECK(count_rows(site, "SELECT count(*) FROM statements WHERE month = '2026-11'") == 2);
  CHECK(count_rows(site,
                   "SELECT count(*) FROM (SELECT member_id FROM statements GROUP BY member_id, "
                   "month HAVING count(*) > 1)") == 0);
  CHECK(count_rows(site, "SELECT count(*) FROM account_entries WHERE kind = 'statement'") == 2);
  CHECK(count_rows(site, "SELECT -sum(amount) FROM account_entries WHERE kind = 'statement'") ==
        9000);
  // After the issue, in this order for sure: refused because November is issued.
  r = site.post(other, "/rates/set",
                "target=laser&unit_min=15&price=900&from=2026-11-15&confirm=1");
  CHECK(r.status == 409);
  CHECK(has(r.body, "2026-11, already issued"));
}

TEST_CASE("console statements: the issue is what was confirmed, or nothing", "[console]") {
  ConsoleSite site;
  seed_month(site);
  site.daemon().cmd("clock set 2026-12-01 09:00");
  auto mona = site.logged_in("mona");
  auto r = site.post(mona, "/statements/issue", "month=2026-11");
  REQUIRE(r.status == 200);
  REQUIRE(attr(r.body, "data-total") == "9000");
  // The laser's price doubles after the page was shown (a plain connection: labgatectl on the
  // file, or any writer the ledger's rules do not see).
  {
    auto db = must(labgate::gateway::store::Database::open(site.daemon().db_path(), {}));
    must(db->execute_script("UPDATE rates SET price_per_unit = 1200 WHERE machine_id = 'laser'"));
  }
  r = site.post(mona, "/statements/issue",
                "month=2026-11&confirm=1&expected=2&expected_total=9000");
  REQUIRE(r.status == 303);
  auto done = wait_job(site, mona, location_of(r));
  CHECK(has(done, R"(data-stage="failed")"));
  CHECK(has(done, "changed since it was confirmed (2 members, 9000 yen)"));
  CHECK(count_rows(site, "SELECT count(*) FROM statements") == 0);
  CHECK(count_rows(site, "SELECT count(*) FROM account_entries") == 0);
  // A form without the confirmed figures is refused outright.
  CHECK(site.post(mona, "/statements/issue", "month=2026-11&confirm=1&expected=2").status == 400);
  // Confirmed again: the new total is what gets issued, once.
  r = site.post(mona, "/statements/issue", "month=2026-11");
  REQUIRE(r.status == 200);
  const auto total = attr(r.body, "data-total");
  CHECK(total != "9000");
  r = site.post(mona, "/statements/issue",
                "month=2026-11&confirm=1&expected=2&expected_total=" + total);
  done = wait_job(site, mona, location_of(r));
  CHECK(has(done, R"(data-stage="done")"));
  CHECK(attr(done, "data-total") == total);
  CHECK(count_rows(site, "SELECT count(*) FROM account_entries WHERE kind = 'statement'") == 2);
}
