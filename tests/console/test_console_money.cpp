// The money pages over real HTTP against a real labgated (docs/CONSOLE.md, "Money pages"):
// rates, price list, desk sales with a receipt, accounts, held sessions and the ward report. Each
// change is checked where it lands (the store, the audit log with the account as actor), each
// refusal by what did not change.
#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>

#include "console_site.hpp"
#include "labgate/gateway/report/ward_report.hpp"
#include "must.hpp"

namespace labgate::testing {

namespace {

namespace store = gateway::store;

std::vector<store::PriceItem> prices(ConsoleSite& site) {
  return must(site.daemon().open_store()->ledger().list_price_items(true));
}
std::vector<store::Rate> rates(ConsoleSite& site) {
  return must(site.daemon().open_store()->ledger().list_rates(std::nullopt, true));
}
store::Account account(ConsoleSite& site, const std::string& no) {
  return must(site.daemon().open_store()->ledger().account(no));
}
std::size_t sales(ConsoleSite& site) {
  return must(site.daemon().open_store()->ledger().list_sales()).size();
}

// A manager puts the acrylic sheet on the price list, through the confirmation step.
void add_acrylic(ConsoleSite& site, Browser& mona) {
  const std::string form = "code=ACR3&name=Acrylic+3mm&unit=sheet&price=1000&tax_class=standard";
  REQUIRE(site.post(mona, "/prices/set", form + "&confirm=1").status == 303);
}

// Sessions of October 2026 (Tokyo), written as the tap path would have: M1 on the laser twice,
// M2 coworking, and one 25-hour laser session of M1 that waits for a review.
void october_sessions(ConsoleSite& site) {
  auto s = site.daemon().open_store();
  // 2026-10-05 10:00 JST.
  const std::int64_t t0 = 1791162000000;
  const std::int64_t h = 3'600'000;
  const auto at = [&](std::int64_t ms) { return std::to_string(ms); };
  // In a transaction, whose commit seals the rows as the daemon's writes are sealed.
  auto tx = must(store::Transaction::begin(s->database()));
  must(s->database().execute_script(
      "INSERT INTO sessions (uuid, member_id, machine_id, kind, started_at_ms, ended_at_ms, "
      "end_reason, measured_seconds) VALUES "
      "('oct-1', (SELECT id FROM members WHERE member_no='M1'), 'laser', 'machine', " +
      at(t0) + ", " + at(t0 + 2 * h) + ", 'tap_off', 7200), " +
      "('oct-2', (SELECT id FROM members WHERE member_no='M1'), 'laser', 'machine', " +
      at(t0 + 24 * h) + ", " + at(t0 + 25 * h) + ", 'tap_off', 3600), " +
      "('oct-3', (SELECT id FROM members WHERE member_no='M2'), NULL, 'coworking', " +
      at(t0 + 3 * h) + ", " + at(t0 + 6 * h) + ", 'tap_off', 10800), " +
      "('oct-held', (SELECT id FROM members WHERE member_no='M1'), 'printer', 'machine', " +
      at(t0 + 48 * h) + ", " + at(t0 + 73 * h) + ", 'max_duration', 90000)"));
  must(tx.commit());
}

// Builds fiscal year `label` as its page's form does and waits for the job; returns the job's
// last page.
std::string build_year(ConsoleSite& site, Browser& b, const std::string& label) {
  const auto r = site.post(b, "/reports/ward/build", "period=" + label);
  REQUIRE(r.status == 303);
  const auto job = r.header("location");
  REQUIRE(job.starts_with("/reports/ward/jobs/"));
  return wait_job(site, b, job);
}

std::int64_t held_id(ConsoleSite& site) {
  const auto held = must(site.daemon().open_store()->ledger().list_held_sessions());
  REQUIRE(held.size() == 1);
  return held.front().id;
}

}  // namespace

TEST_CASE("console money: who may open which page", "[console]") {
  ConsoleSite site;
  auto dina = site.logged_in("dina");
  auto tara = site.logged_in("tara");
  auto sam = site.logged_in("sam");
  auto mona = site.logged_in("mona");
  for (const char* manager_page :
       {"/rates", "/prices", "/held", "/reports", "/reports/ward?period=2026-10"}) {
    INFO(manager_page);
    CHECK(site.get(dina, manager_page).status == 403);
    CHECK(site.get(sam, manager_page).status == 403);
    CHECK(site.get(tara, manager_page).status == 403);
  }
  for (const char* desk_page : {"/desk", "/accounts", "/desk?member_no=M1"}) {
    INFO(desk_page);
    CHECK(site.get(dina, desk_page).status == 200);
    CHECK(site.get(sam, desk_page).status == 200);
    CHECK(site.get(tara, desk_page).status == 403);
  }
  for (const char* page : {"/rates", "/prices", "/held", "/reports", "/desk", "/accounts"}) {
    INFO(page);
    CHECK(site.get(mona, page).status == 200);
  }
  // The navigation links only what the account may open.
  const auto desk_nav = site.get(dina, "/").body;
  CHECK(has(desk_nav, R"(href="/desk")"));
  CHECK_FALSE(has(desk_nav, R"(href="/rates")"));
  CHECK(has(site.get(mona, "/").body, R"(href="/rates")"));
  // Anonymous: the login page, never the data.
  Browser anon;
  CHECK(site.get(anon, "/rates").status == 303);
}

TEST_CASE("console money: price list, escaping, bad numbers and CSRF", "[console]") {
  ConsoleSite site;
  auto mona = site.logged_in("mona");
  auto dina = site.logged_in("dina");
  const auto before = prices(site).size();

  // Without the token nothing happens, even with confirm=1.
  auto r = site.post(mona, "/prices/set", "code=X1&name=x&price=1&confirm=1", false);
  CHECK(r.status == 403);
  CHECK(prices(site).size() == before);
  // Desk staff may not change the price list.
  site.get(dina, "/desk");
  CHECK(site.post(dina, "/prices/set", "code=X1&name=x&price=1&confirm=1").status == 403);
  CHECK(prices(site).size() == before);

  // Bad numbers: refused with the field and the reason, nothing sent to labgated.
  site.get(mona, "/prices");
  for (const char* price : {"abc", "-5", "1.5", "12yen", "", "100000001"}) {
    INFO(price);
    r = site.post(mona, "/prices/set", "code=X1&name=x&price=" + form_escape(price) + "&confirm=1");
    CHECK(r.status == 400);
    CHECK(has(r.body, R"(id="error" data-field="price")"));
    CHECK(has(r.body, "以下の整数（円）"));  // the reason, in the page's language
  }
  r = site.post(mona, "/prices/set", "code=X1&name=x&price=5&tax_class=zero&confirm=1");
  CHECK(r.status == 400);
  CHECK(has(r.body, R"(data-field="tax_class")"));
  CHECK(prices(site).size() == before);

  // The first POST only asks; the second, confirmed, sets the price.
  const std::string hostile = "<script>alert(1)</script>";
  r = site.post(mona, "/prices/set",
                "code=EVIL&name=" + form_escape(hostile) + "&unit=pcs&price=250");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(id="confirm-form")"));
  CHECK_FALSE(has(r.body, hostile));
  CHECK(prices(site).size() == before);
  r = site.post(mona, "/prices/set",
                "code=EVIL&name=" + form_escape(hostile) + "&unit=pcs&price=250&confirm=1");
  CHECK(r.status == 303);
  REQUIRE(prices(site).size() == before + 1);
  CHECK(audited(site, me("mona"), "price.set", "EVIL"));
  // The name shows escaped everywhere it appears.
  for (const char* page : {"/prices", "/desk?member_no=M1"}) {
    INFO(page);
    const auto body = site.get(mona, page).body;
    CHECK(has(body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    CHECK_FALSE(has(body, hostile));
  }

  // Deactivating, confirmed.
  r = site.post(mona, "/prices/deactivate", "code=EVIL");
  CHECK(has(r.body, R"(id="confirm-form")"));
  CHECK(site.post(mona, "/prices/deactivate", "code=EVIL&confirm=1").status == 303);
  CHECK(audited(site, me("mona"), "price.deactivate", "EVIL"));
  for (const auto& p : prices(site)) {
    if (p.code == "EVIL") CHECK_FALSE(p.active);
  }
  // A second time labgated refuses, and the page says why.
  r = site.post(mona, "/prices/deactivate", "code=EVIL&confirm=1");
  CHECK(r.status == 409);
  CHECK(has(r.body, "already inactive"));
}

TEST_CASE("console money: rates with history, refusals with the field", "[console]") {
  ConsoleSite site;
  auto mona = site.logged_in("mona");
  auto dina = site.logged_in("dina");
  site.get(mona, "/rates");
  const auto before = rates(site).size();

  // Desk staff: refused, and no rate.
  CHECK(
      site.post(dina, "/rates/set", "target=laser&unit_min=15&price=300&from=2030-04-01&confirm=1")
          .status == 403);
  CHECK(site.post(mona, "/rates/set",
                  "target=laser&unit_min=15&price=300&from=2030-04-01&confirm=1", false)
            .status == 403);
  // Bad input names its field.
  const std::vector<std::pair<std::string, std::string>> bad{
      {"unit_min=0&price=300&from=2030-04-01", "unit_min"},
      {"unit_min=15&price=3e2&from=2030-04-01", "price"},
      {"unit_min=15&price=300&from=2030-02-30", "from"},
      {"unit_min=15&price=300&from=tomorrow", "from"},
      {"unit_min=15&price=300&grace_min=1440&from=2030-04-01", "grace_min"},
      {"unit_min=15&price=300&daily_cap=lots&from=2030-04-01", "daily_cap"}};
  for (const auto& [form, field] : bad) {
    INFO(form);
    const auto r = site.post(mona, "/rates/set", "target=laser&" + form + "&confirm=1");
    CHECK(r.status == 400);
    CHECK(has(r.body, "data-field=\"" + field + "\""));
  }
  CHECK(rates(site).size() == before);

  // Set: asks first, then sets; the page lists it as coming, with its history.
  auto r = site.post(mona, "/rates/set", "target=laser&unit_min=15&price=300&from=2030-04-01");
  CHECK(has(r.body, R"(id="confirm-form")"));
  CHECK(rates(site).size() == before);
  r = site.post(mona, "/rates/set",
                "target=laser&unit_min=15&price=300&from=2030-04-01&note=spring&confirm=1");
  REQUIRE(r.status == 303);
  auto all = rates(site);
  REQUIRE(all.size() == before + 1);
  const auto found = std::find_if(all.begin(), all.end(), [](const store::Rate& x) {
    return x.target() == "laser" && x.price_per_unit == 300;
  });
  REQUIRE(found != all.end());
  // A copy: `all` is read again below, which would leave an iterator into it dangling.
  const store::Rate set_rate = *found;
  const auto* set = &set_rate;
  CHECK(set->unit_seconds == 900);
  CHECK(audited(site, me("mona"), "rate_set", "laser"));
  const auto page = site.get(mona, "/rates").body;
  CHECK(has(page, "<tr data-rate=\"" + std::to_string(set->id) +
                      R"(" data-target="laser" data-state="coming">)"));

  // An earlier rate reaching over the coming one: labgated refuses, the page says why, at "from".
  r = site.post(mona, "/rates/set", "target=laser&unit_min=15&price=200&from=2030-01-01&confirm=1");
  CHECK(r.status == 409);
  CHECK(has(r.body, R"(id="error" data-field="from")"));
  CHECK(has(r.body, "overlaps"));
  CHECK(rates(site).size() == before + 1);

  // Correct the coming rate, then withdraw it.
  const std::string base = "/rates/" + std::to_string(set->id);
  CHECK(site.post(mona, base + "/replace", "price=abc&confirm=1").status == 400);
  REQUIRE(site.post(mona, base + "/replace", "price=350&confirm=1").status == 303);
  all = rates(site);
  CHECK(std::any_of(all.begin(), all.end(), [&](const store::Rate& x) {
    return x.target() == "laser" && x.price_per_unit == 350 &&
           x.effective_from_ms == set->effective_from_ms;
  }));
  CHECK(audited(site, me("mona"), "rate_replace", "laser"));
  r = site.post(mona, base + "/withdraw", "");
  CHECK(has(r.body, R"(id="confirm-form")"));
  all = rates(site);
  const auto coming = std::find_if(all.begin(), all.end(),
                                   [](const store::Rate& x) { return x.price_per_unit == 350; });
  REQUIRE(coming != all.end());
  REQUIRE(
      site.post(mona, "/rates/" + std::to_string(coming->id) + "/withdraw", "confirm=1").status ==
      303);
  CHECK(rates(site).size() == before);
  CHECK(audited(site, me("mona"), "rate_withdraw", "laser"));

  // A rate reaching into an issued month: refused, with the month, at "from". (The statement is
  // written straight into the store: a month ahead cannot be issued, and the rule is the same.)
  {
    auto s = site.daemon().open_store();
    auto tx = must(store::Transaction::begin(s->database()));
    // 2031-05-10 10:00 JST: M1 on the laser in May 2031, whose statement is issued.
    must(s->database().execute_script(
        "INSERT INTO sessions (uuid, member_id, machine_id, kind, started_at_ms, ended_at_ms, "
        "end_reason, measured_seconds) VALUES ('may-2031', (SELECT id FROM members WHERE "
        "member_no='M1'), 'laser', 'machine', 1936141200000, 1936144800000, 'tap_off', 3600); "
        "INSERT INTO statement_bodies (sha256, body) VALUES ('', '{}'); "
        "INSERT INTO statements (member_id, month, issued_at_ms, issued_by, total, sha256) "
        "VALUES ((SELECT id FROM members WHERE member_no='M1'), '2031-05', 0, 'test', 0, '')"));
    must(tx.commit());
  }
  r = site.post(mona, "/rates/set", "target=laser&unit_min=15&price=500&from=2031-05-01&confirm=1");
  CHECK(r.status == 409);
  CHECK(has(r.body, R"(id="error" data-field="from")"));
  CHECK(has(r.body, "reaches into 2031-05, already issued"));
  CHECK(rates(site).size() == before);
}

TEST_CASE("console money: a desk sale with its receipt, and bad quantities", "[console]") {
  ConsoleSite site;
  auto mona = site.logged_in("mona");
  add_acrylic(site, mona);
  auto dina = site.logged_in("dina");
  auto tara = site.logged_in("tara");

  auto r = site.get(dina, "/desk?q=M1");
  CHECK(has(r.body, R"(href="/desk?member_no=M1")"));
  r = site.get(dina, "/desk?member_no=M1");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(<option value="ACR3">)"));
  CHECK(site.get(dina, "/desk?member_no=NOPE").status == 404);

  const auto before = sales(site);
  for (const char* qty : {"0", "-1", "1.5", "two", "", "10001"}) {
    INFO(qty);
    r = site.post(dina, "/desk/sell",
                  "member_no=M1&item=ACR3&quantity=" + form_escape(qty) + "&confirm=1");
    CHECK(r.status == 400);
    CHECK(has(r.body, R"(id="error" data-field="quantity")"));
  }
  r = site.post(dina, "/desk/sell", "member_no=M1&item=NOPE&quantity=1&confirm=1");
  CHECK(has(r.body, R"(data-field="item")"));
  r = site.post(dina, "/desk/sell", "member_no=M99&item=ACR3&quantity=1&confirm=1");
  CHECK(has(r.body, R"(data-field="member_no")"));
  CHECK(site.post(tara, "/desk/sell", "member_no=M1&item=ACR3&quantity=1&confirm=1").status == 403);
  CHECK(
      site.post(dina, "/desk/sell", "member_no=M1&item=ACR3&quantity=1&confirm=1", false).status ==
      403);
  CHECK(sales(site) == before);

  r = site.post(dina, "/desk/sell", "member_no=M1&item=ACR3&quantity=2");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(<strong id="confirm-total">2,000 )"));
  CHECK(sales(site) == before);
  r = site.post(dina, "/desk/sell", "member_no=M1&item=ACR3&quantity=2&confirm=1");
  REQUIRE(r.status == 303);
  CHECK(sales(site) == before + 1);
  const auto receipt = r.header("location");
  CHECK(receipt.rfind("/desk/receipts/", 0) == 0);
  CHECK(audited(site, me("dina"), "sale", "M1"));
  r = site.get(dina, receipt);
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(<td id="receipt-qty">2</td>)"));
  CHECK(has(r.body, R"(<td id="receipt-total">2,000 )"));
  CHECK(has(r.body, "Acrylic 3mm"));
  CHECK(site.get(dina, "/desk/receipts/999999?member_no=M1").status == 404);
}

TEST_CASE("console money: accounts, top-ups and credit limits", "[console]") {
  ConsoleSite site;
  auto dina = site.logged_in("dina");
  auto mona = site.logged_in("mona");
  auto r = site.get(dina, "/accounts?member_no=M1");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(id="account-topup")"));
  CHECK_FALSE(has(r.body, R"(id="account-credit")"));  // the manager's

  const auto balance = account(site, "M1").balance;
  for (const char* amount : {"0", "-100", "abc", "1,000", ""}) {
    INFO(amount);
    r = site.post(dina, "/accounts/topup",
                  "member_no=M1&amount=" + form_escape(amount) + "&confirm=1");
    CHECK(r.status == 400);
    CHECK(has(r.body, R"(id="error" data-field="amount")"));
  }
  CHECK(account(site, "M1").balance == balance);
  r = site.post(dina, "/accounts/topup", "member_no=M1&amount=5000&note=cash");
  CHECK(has(r.body, R"(<strong id="confirm-amount">5,000 )"));
  CHECK(account(site, "M1").balance == balance);
  REQUIRE(
      site.post(dina, "/accounts/topup", "member_no=M1&amount=5000&note=cash&confirm=1").status ==
      303);
  CHECK(account(site, "M1").balance == balance + 5000);
  CHECK(audited(site, me("dina"), "account.topup", "M1"));
  CHECK(
      has(site.get(dina, "/accounts?member_no=M1").body, "<td id=\"account-balance\">5,000</td>"));

  // The credit limit is the manager's.
  CHECK(site.post(dina, "/accounts/credit-limit", "member_no=M1&credit_limit=3000&confirm=1")
            .status == 403);
  CHECK(account(site, "M1").credit_limit == 0);
  site.get(mona, "/accounts?member_no=M1");
  r = site.post(mona, "/accounts/credit-limit", "member_no=M1&credit_limit=-1&confirm=1");
  CHECK(has(r.body, R"(data-field="credit_limit")"));
  REQUIRE(site.post(mona, "/accounts/credit-limit", "member_no=M1&credit_limit=3000&confirm=1")
              .status == 303);
  CHECK(account(site, "M1").credit_limit == 3000);
  CHECK(audited(site, me("mona"), "account.credit_limit", "M1"));
}

TEST_CASE("console money: held sessions are reviewed, billed or waived", "[console]") {
  ConsoleSite site;
  october_sessions(site);
  auto mona = site.logged_in("mona");
  const auto id = held_id(site);
  auto r = site.get(mona, "/held");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, "<tr data-session=\"" + std::to_string(id) + "\">"));
  const std::string bill = "/held/" + std::to_string(id) + "/bill";
  for (const char* minutes : {"0", "abc", "-5", "10081"}) {
    INFO(minutes);
    r = site.post(mona, bill, std::string("minutes=") + minutes + "&confirm=1");
    CHECK(r.status == 400);
    CHECK(has(r.body, R"(id="error" data-field="minutes")"));
  }
  auto dina = site.logged_in("dina");
  CHECK(site.post(dina, bill, "minutes=60&confirm=1").status == 403);
  CHECK(held_id(site) == id);
  r = site.post(mona, bill, "minutes=180&note=forgot+to+tap+off");
  CHECK(has(r.body, R"(<strong id="confirm-minutes">180</strong>)"));
  CHECK(held_id(site) == id);
  REQUIRE(site.post(mona, bill, "minutes=180&note=forgot+to+tap+off&confirm=1").status == 303);
  const auto review = must(site.daemon().open_store()->ledger().session_review(id));
  REQUIRE(review);
  CHECK(review->billed_seconds == 180 * 60);
  CHECK(review->reviewer == "mona");
  CHECK(audited(site, me("mona"), "session.review", std::to_string(id)));
  CHECK(must(site.daemon().open_store()->ledger().list_held_sessions()).empty());
  // Reviewed once: a waive now is refused by labgated, and the page says why.
  r = site.post(mona, "/held/" + std::to_string(id) + "/waive", "confirm=1");
  CHECK(r.status == 409);
  CHECK(has(r.body, "already reviewed"));
}

TEST_CASE("console money: the ward report on screen and its files as labgatectl writes them",
          "[console]") {
  ConsoleSite site;
  october_sessions(site);
  auto mona = site.logged_in("mona");
  auto r = site.get(mona, "/reports/ward?period=2026-10");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(<tr data-machine="laser"><td>laser</td><td>2</td><td>3.00</td>)"));
  CHECK(has(r.body, R"(id="chart-daily")"));
  CHECK(has(r.body, R"(<script src="/static/uPlot.iife.min.js"></script>)"));
  // M2's coworking 13:00-16:00 on one day of 31: each of those hours 1/31 on average.
  CHECK(has(r.body, "<tr><td>13:00</td><td>0.03</td></tr>"));
  CHECK(has(r.body, "<tr><td>12:00</td><td>0.00</td></tr>"));
  // The fiscal year holding it, once built: twelve months, October in its row (both machines:
  // 3 + 25 h).
  CHECK(has(build_year(site, mona, "FY2026"), R"(data-stage="done")"));
  r = site.get(mona, "/reports/ward?period=FY2026");
  REQUIRE(r.status == 200);
  CHECK(has(r.body,
            R"(<tr data-month="2026-10"><td>2026-10</td><td>3</td><td>28.00</td><td>3.00</td>)"));
  CHECK(has(r.body, R"(<tr data-month="2027-03">)"));
  for (const char* bad : {"2026-13", "FY20x", "<b>", ""}) {
    INFO(bad);
    r = site.get(mona, std::string("/reports/ward?period=") + form_escape(bad));
    CHECK(r.status == 400);
    CHECK(has(r.body, R"(data-field="period")"));
    CHECK_FALSE(has(r.body, "<b>"));
  }

  TempDir out("labgate-ward");
  const auto ctl = labgatectl(
      site.daemon(), {"report", "ward", "--month", "2026-10", "--out", out.path().string()});
  REQUIRE(ctl.exit_code == 0);
  std::size_t compared = 0;
  for (const auto& f : std::filesystem::directory_iterator(out.path())) {
    const auto name = f.path().filename().string();
    INFO(name);
    r = site.get(mona, "/reports/ward/file?period=2026-10&name=" + form_escape(name));
    REQUIRE(r.status == 200);
    CHECK(has(r.header("content-disposition"), "attachment; filename=\"" + name + "\""));
    CHECK(r.body == read_file(f.path()));
    ++compared;
  }
  CHECK(compared >= 7);  // json, html and five or more CSV tables
  CHECK(site.get(mona, "/reports/ward/file?period=2026-10&name=..%2Fetc%2Fpasswd").status == 404);
  auto dina = site.logged_in("dina");
  CHECK(site.get(dina, "/reports/ward/file?period=2026-10&name=ward-2026-10.json").status == 403);
}

TEST_CASE("console money: the ward report as a PDF, the same bytes every time", "[console]") {
  ConsoleSite site;
  october_sessions(site);
  auto mona = site.logged_in("mona");
  const auto page = site.get(mona, "/reports/ward?period=2026-10");
  REQUIRE(page.status == 200);
  CHECK(has(page.body, "name=ward-2026-10.pdf"));
  const std::string url = "/reports/ward/file?period=2026-10&name=ward-2026-10.pdf";
  const auto first = site.get(mona, url);
  REQUIRE(first.status == 200);
  CHECK(has(first.header("content-type"), "application/pdf"));
  CHECK(has(first.header("content-disposition"), "attachment; filename=\"ward-2026-10.pdf\""));
  REQUIRE(first.body.size() > 1000);
  CHECK(first.body.starts_with("%PDF-"));
  CHECK(has(first.body.substr(first.body.size() - 1024), "%%EOF"));
  // Rendered again from the same data: byte for byte the same file.
  const auto second = site.get(mona, url);
  REQUIRE(second.status == 200);
  CHECK(second.body == first.body);
  // Another period's data gives another document.
  REQUIRE(has(build_year(site, mona, "FY2026"), R"(data-stage="done")"));
  const auto year = site.get(mona, "/reports/ward/file?period=FY2026&name=ward-FY2026.pdf");
  REQUIRE(year.status == 200);
  CHECK(year.body.starts_with("%PDF-"));
  CHECK(year.body != first.body);
  auto dina = site.logged_in("dina");
  CHECK(site.get(dina, url).status == 403);
}

TEST_CASE("console money: a fiscal year of the ward report is built by one background job",
          "[console]") {
  namespace rp = gateway::report;
  ConsoleSite site;
  october_sessions(site);
  auto mona = site.logged_in("mona");
  // Nothing built yet: the year's page offers the build (a POST), its files wait for it.
  auto r = site.get(mona, "/reports/ward?period=FY2026");
  REQUIRE(r.status == 200);
  CHECK(has(r.body, R"(id="report-not-built" data-period="FY2026")"));
  CHECK(has(r.body, R"(<form method="post" action="/reports/ward/build")"));
  CHECK_FALSE(has(r.body, R"(id="report-months")"));
  CHECK(site.get(mona, "/reports/ward/file?period=FY2026&name=ward-FY2026.json").status == 409);
  // A form from elsewhere (no CSRF token) starts nothing.
  CHECK(site.post(mona, "/reports/ward/build", "period=FY2026", false).status == 403);
  // Only a fiscal year is built in the background; a month shows at once.
  CHECK(site.post(mona, "/reports/ward/build", "period=2026-10").status == 400);

  // Two clicks: the second joins the build the first started. The job renders the PDF with
  // weasyprint, which alone takes far longer than the two requests apart.
  const auto first = site.post(mona, "/reports/ward/build", "period=FY2026");
  const auto second = site.post(mona, "/reports/ward/build", "period=fy2026");
  REQUIRE(first.status == 303);
  REQUIRE(second.status == 303);
  const auto job = first.header("location");
  REQUIRE(job.starts_with("/reports/ward/jobs/"));
  CHECK(second.header("location") == job);
  const auto running = site.get(mona, job);
  REQUIRE(running.status == 200);
  CHECK(has(running.body, R"(<progress id="job-progress")"));
  // The page reloads itself (no script needed) exactly while the job runs.
  CHECK(has(running.body, R"(<meta http-equiv="refresh")") ==
        has(running.body, R"(data-stage="running")"));
  const auto done = wait_job(site, mona, job);
  CHECK(has(done, R"(data-stage="done")"));
  CHECK(has(done, R"(<a href="/reports/ward?period=FY2026" id="job-report">)"));
  CHECK_FALSE(has(done, R"(<meta http-equiv="refresh")"));
  const auto log = site.console_log();
  const std::string started = "builds the ward report FY2026";
  CHECK(log.find(started) != std::string::npos);
  CHECK(log.find(started, log.find(started) + 1) == std::string::npos);

  // The result: the year as the synchronous builder gives it, as of the instant of the click.
  r = site.get(mona, "/reports/ward?period=FY2026");
  REQUIRE(r.status == 200);
  CHECK(has(r.body,
            R"(<tr data-month="2026-10"><td>2026-10</td><td>3</td><td>28.00</td><td>3.00</td>)"));
  const std::regex as_of_re(R"re(id="report-built" data-as-of-ms="(\d+)")re");
  std::smatch m;
  REQUIRE(std::regex_search(r.body, m, as_of_re));
  rp::ReportOptions options;
  options.as_of_ms = std::stoll(m[1].str());
  const auto period = must(rp::fiscal_year_period(2026, "Asia/Tokyo"));
  auto s = site.daemon().open_store();
  auto expected = must(rp::build_ward_report(*s, period, options));
  if (const auto head = must(s->seal_head())) {
    expected.notes.push_back("Audit record checkpoint (labgatectl audit verify --checkpoint): " +
                             gateway::store::seal::format_checkpoint(*head));
  }
  std::vector<std::pair<std::string, std::string>> files{
      {"ward-FY2026.json", rp::render_json(expected)},
      {"ward-FY2026.html", rp::render_html(expected)}};
  for (auto& csv : rp::render_csv(expected)) {
    files.emplace_back("ward-FY2026-" + csv.suffix + ".csv", std::move(csv.content));
  }
  CHECK(files.size() >= 8);  // json, html and six CSV tables with the months
  for (const auto& [name, bytes] : files) {
    INFO(name);
    const auto f = site.get(mona, "/reports/ward/file?period=FY2026&name=" + name);
    REQUIRE(f.status == 200);
    CHECK(has(f.header("content-disposition"), "attachment; filename=\"" + name + "\""));
    CHECK(f.body == bytes);
  }
  const auto pdf = site.get(mona, "/reports/ward/file?period=FY2026&name=ward-FY2026.pdf");
  REQUIRE(pdf.status == 200);
  CHECK(pdf.body.starts_with("%PDF-"));
  CHECK(site.get(mona, "/reports/ward/file?period=FY2026&name=ward-FY2025.json").status == 404);

  // A click once it is done starts a new build, as of its own instant.
  const auto again = site.post(mona, "/reports/ward/build", "period=FY2026");
  REQUIRE(again.status == 303);
  CHECK(again.header("location") != job);
  CHECK(has(wait_job(site, mona, again.header("location")), R"(data-stage="done")"));

  // Desk staff may neither build, nor watch, nor read the year.
  auto dina = site.logged_in("dina");
  CHECK(site.post(dina, "/reports/ward/build", "period=FY2026").status == 403);
  CHECK(site.get(dina, job).status == 403);
  CHECK(site.get(dina, "/reports/ward?period=FY2026").status == 403);
  CHECK(site.get(dina, "/reports/ward/file?period=FY2026&name=ward-FY2026.json").status == 403);
  CHECK_FALSE(has(site.console_log(), "dina builds the ward report"));
}

}  // namespace labgate::testing
