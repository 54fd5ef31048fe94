// The billing data of the store: rates (effective dating, every refusal), accounts, the price
// list, sales and the review of sessions held because they lasted more than 24 h.
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "labgate/gateway/store/store.hpp"
#include "must.hpp"
#include "process.hpp"

using namespace labgate::gateway::store;
using labgate::testing::TempDir;

using labgate::testing::must;

namespace {

// 2026-04-01 00:00:00 UTC = 2026-04-01 09:00 in Tokyo.
constexpr std::int64_t kT0 = 1775001600000;
constexpr std::int64_t kHour = 3600 * 1000;
constexpr std::int64_t kDay = 24 * kHour;
// 2026-05-01 00:00 in Tokyo.
constexpr std::int64_t kMay1 = kT0 + 30 * kDay - 9 * kHour;

// A refusal of the expected kind whose message contains `words`.
template <typename T>
void refused(const Result<T>& r, ErrorKind kind, const std::string& words) {
  REQUIRE_FALSE(r.ok());
  INFO(r.error().message);
  CHECK(r.error().kind == kind);
  CHECK_THAT(r.error().message, Catch::Contains(words));
}

struct Fixture {
  TempDir dir;
  std::int64_t now = kT0;
  std::unique_ptr<Store> store;
  Member member;
  Member other;

  Fixture() {
    StoreOptions o;
    o.clock = [this] { return now; };
    store = must(Store::open(dir.file("labgate.db"), o));
    must(
        store->staff().add_plan({"FULL", "Full time", "mon-sun 00:00-24:00", true, true}, "staff"));
    must(
        store->staff().add_plan({"DROP", "Drop-in", "mon-fri 09:00-17:00", false, false}, "staff"));
    must(store->staff().add_member(
        {"M0001", "Hanako Yamada", "", std::string("FULL"), std::nullopt, std::nullopt}, "staff"));
    member = must(store->staff().approve_member("M0001", "staff"));
    must(store->staff().add_member(
        {"M0002", "Taro Sato", "", std::string("DROP"), std::nullopt, std::nullopt}, "staff"));
    other = must(store->staff().approve_member("M0002", "staff"));
    must(store->staff().add_machine(
        {"laser1", "Laser cutter 1", std::nullopt, "hold", 0, false, true}, "staff"));
    must(store->staff().add_machine({"mill", "CNC mill", std::nullopt, "tap", 0, false}, "staff"));
  }

  std::int64_t count(const std::string& table) {
    return must(store->database().query_int64("SELECT COUNT(*) FROM " + table));
  }

  // An issued statement, as the statements engineer's `statements issue` writes it.
  void issue_statement(std::int64_t member_id, const std::string& month) {
    must(store->database().execute_script(
        "INSERT OR IGNORE INTO statement_bodies (sha256, body) VALUES ('', '{}')"));
    auto stmt = must(store->database().prepare(
        "INSERT INTO statements (member_id, month, issued_at_ms, issued_by, total, sha256) "
        "VALUES (?1, ?2, ?3, 'staff', 0, '')"));
    stmt.bind(1, member_id).bind(2, month).bind(3, now);
    must(stmt.run());
  }

  Session session(const std::string& uuid, std::optional<std::string> machine, std::int64_t start,
                  std::optional<std::int64_t> end) {
    AccessEvent e;
    e.uuid = "open-" + uuid;
    e.at_ms = start;
    e.machine_id = machine;
    e.member_id = member.id;
    e.kind = "tap";
    e.decision = Decision::kGranted;
    e.reason = "ok";
    const auto kind = machine ? SessionKind::kMachine : SessionKind::kCoworking;
    auto w = must(store->events().open_session({uuid, member.id, machine, kind, start}, e,
                                               OutboxMessage{"t/session", "{}", false}));
    if (end) {
      e.uuid = "close-" + uuid;
      e.at_ms = *end;
      w = must(store->events().close_session({std::nullopt, w.session.id}, *end, "tap_off",
                                             std::nullopt, e,
                                             OutboxMessage{"t/session", "{}", false}));
    }
    return w.session;
  }

  void chain_ok() {
    auto v = must(store->audit().verify_audit_chain());
    INFO(v.message);
    CHECK(v.ok);
  }
};

NewRate laser_rate(std::optional<std::int64_t> from = std::nullopt) {
  NewRate r;
  r.kind = SessionKind::kMachine;
  r.machine_id = "laser1";
  r.effective_from_ms = from;
  r.unit_seconds = 900;
  r.price_per_unit = 300;
  r.minimum_charge = 500;
  r.grace_seconds = 120;
  r.daily_cap = 3000;
  r.plan_terms = {{"FULL", 10, 60}};
  r.note = "spring prices";
  return r;
}

}  // namespace

TEST_CASE("a rate is stored with its plan terms and audited", "[billing_store]") {
  Fixture f;
  const auto audit_before = f.count("audit_log");
  auto r = must(f.store->ledger().set_rate(laser_rate(), "manager"));
  CHECK(r.kind == SessionKind::kMachine);
  CHECK(r.target() == "laser1");
  CHECK(r.effective_from_ms == kT0);  // default: now
  CHECK_FALSE(r.effective_until_ms);
  CHECK(r.unit_seconds == 900);
  CHECK(r.price_per_unit == 300);
  CHECK_FALSE(r.idle_price_per_unit);
  CHECK(r.minimum_charge == 500);
  CHECK(r.grace_seconds == 120);
  CHECK(r.daily_cap == std::optional<std::int64_t>(3000));
  CHECK(r.created_by == "manager");
  REQUIRE(r.plan_terms.size() == 1);
  CHECK(r.plan_terms[0].plan_code == "FULL");
  CHECK(r.plan_terms[0].discount_percent == 10);
  CHECK(r.plan_terms[0].included_minutes == 60);
  CHECK(f.count("rate_plan_terms") == 1);

  REQUIRE(f.count("audit_log") == audit_before + 1);
  const auto audit = must(f.store->audit().list_audit());
  CHECK(audit.back().action == "rate_set");
  CHECK(audit.back().subject == "laser1");
  CHECK(audit.back().actor == "manager");
  CHECK_THAT(audit.back().detail, Catch::Contains("\"price_per_unit\":300"));
  CHECK_THAT(audit.back().detail, Catch::Contains("\"plan\":\"FULL\""));
  f.chain_ok();

  SECTION("coworking rate alongside; list by target") {
    NewRate cw;
    cw.kind = SessionKind::kCoworking;
    cw.unit_seconds = 3600;
    cw.price_per_unit = 200;
    cw.daily_cap = 1000;
    must(f.store->ledger().set_rate(cw, "manager"));
    const auto all = must(f.store->ledger().list_rates());
    REQUIRE(all.size() == 2);
    CHECK(all[0].target() == "coworking");
    CHECK(all[1].target() == "laser1");
    CHECK(must(f.store->ledger().list_rates(std::string("coworking"))).size() == 1);
    CHECK(must(f.store->ledger().list_rates(std::string("laser1"))).size() == 1);
    CHECK(must(f.store->ledger().list_rates(std::string("mill"))).empty());
    const auto got =
        must(f.store->ledger().current_rate(SessionKind::kCoworking, std::nullopt, kT0));
    REQUIRE(got);
    CHECK(got->price_per_unit == 200);
  }
}

TEST_CASE("rates are effective-dated: a session keeps the rate it started under",
          "[billing_store]") {
  Fixture f;
  const auto old_rate = must(f.store->ledger().set_rate(laser_rate(), "manager"));
  CHECK_FALSE(must(f.store->ledger().current_rate(SessionKind::kMachine, "laser1", kT0 - 1)));
  CHECK_FALSE(must(f.store->ledger().current_rate(SessionKind::kMachine, "mill", kT0)));

  // A session opens under the old rate at 10:00 and is still running at noon.
  f.now = kT0 + kHour;
  const auto s = f.session("s1", std::string("laser1"), f.now, std::nullopt);
  const auto stamped =
      must(f.store->ledger().current_rate(SessionKind::kMachine, "laser1", s.started_at_ms));
  REQUIRE(stamped);
  CHECK(stamped->id == old_rate.id);

  // The manager raises the price from 11:00.
  const std::int64_t change = kT0 + 2 * kHour;
  auto next = laser_rate(change);
  next.price_per_unit = 400;
  const auto new_rate = must(f.store->ledger().set_rate(next, "manager"));
  f.now = kT0 + 3 * kHour;

  const auto superseded = must(f.store->ledger().rate(old_rate.id));
  REQUIRE(superseded);
  CHECK(superseded->effective_until_ms == std::optional<std::int64_t>(change));
  // The running session's start still maps to the old rate; the window boundary is exact.
  CHECK(
      must(f.store->ledger().current_rate(SessionKind::kMachine, "laser1", s.started_at_ms))->id ==
      old_rate.id);
  CHECK(must(f.store->ledger().current_rate(SessionKind::kMachine, "laser1", change - 1))->id ==
        old_rate.id);
  CHECK(must(f.store->ledger().current_rate(SessionKind::kMachine, "laser1", change))->id ==
        new_rate.id);
  CHECK(must(f.store->ledger().current_rate(SessionKind::kMachine, "laser1", f.now))
            ->price_per_unit == 400);

  // Only the rate in force and later ones are listed unless the history is asked for.
  const auto current = must(f.store->ledger().list_rates(std::string("laser1")));
  REQUIRE(current.size() == 1);
  CHECK(current[0].id == new_rate.id);
  const auto history = must(f.store->ledger().list_rates(std::string("laser1"), true));
  REQUIRE(history.size() == 2);
  CHECK(history[0].id == old_rate.id);
  CHECK(history[1].id == new_rate.id);

  SECTION("a future rate supersedes the one in force at its start, once") {
    const std::int64_t june = kMay1 + 31 * kDay;
    auto later = laser_rate(june);
    later.price_per_unit = 500;
    const auto june_rate = must(f.store->ledger().set_rate(later, "manager"));
    CHECK(must(f.store->ledger().rate(new_rate.id))->effective_until_ms ==
          std::optional<std::int64_t>(june));
    CHECK(must(f.store->ledger().current_rate(SessionKind::kMachine, "laser1", june + 1))->id ==
          june_rate.id);
    CHECK(must(f.store->ledger().list_rates(std::string("laser1"))).size() == 2);
  }
  f.chain_ok();
}

TEST_CASE("current_rate is one indexed query", "[billing_store]") {
  Fixture f;
  auto stmt = must(f.store->database().prepare(
      "EXPLAIN QUERY PLAN SELECT id FROM rates WHERE kind = 'machine' AND machine_id IS 'x' AND "
      "effective_from_ms <= 5 AND (effective_until_ms IS NULL OR effective_until_ms > 5) "
      "ORDER BY effective_from_ms DESC LIMIT 1"));
  std::string plan;
  while (must(stmt.step())) plan += stmt.column_text(3) + "\n";
  CHECK_THAT(plan, Catch::Contains("USING INDEX rates_target"));
  CHECK_THAT(plan, !Catch::Contains("TEMP B-TREE"));
}

TEST_CASE("rate changes that are refused write nothing", "[billing_store]") {
  Fixture f;
  must(f.store->ledger().set_rate(laser_rate(), "manager"));
  f.issue_statement(f.other.id, "2026-03");
  f.now = kT0 + kHour;
  const auto rates_before = f.count("rates");
  const auto terms_before = f.count("rate_plan_terms");
  const auto audit_before = f.count("audit_log");

  struct Case {
    const char* name;
    std::function<void(NewRate&)> edit;
    ErrorKind kind;
    std::string words;
  };
  const std::vector<Case> cases = {
      {"starts in the past", [](NewRate& r) { r.effective_from_ms = kT0; }, ErrorKind::kConflict,
       "starts in the past"},
      {"minimum above the cap",
       [](NewRate& r) {
         r.minimum_charge = 1000;
         r.daily_cap = 800;
       },
       ErrorKind::kInvalid, "minimum charge 1000 exceeds the daily cap 800"},
      {"grace of a day", [](NewRate& r) { r.grace_seconds = 86400; }, ErrorKind::kInvalid,
       "shorter than 24 h"},
      {"zero unit", [](NewRate& r) { r.unit_seconds = 0; }, ErrorKind::kInvalid,
       "longer than 0 seconds"},
      {"negative unit", [](NewRate& r) { r.unit_seconds = -60; }, ErrorKind::kInvalid,
       "longer than 0 seconds"},
      {"negative price", [](NewRate& r) { r.price_per_unit = -1; }, ErrorKind::kInvalid,
       "negative"},
      {"discount over 100",
       [](NewRate& r) {
         r.plan_terms = {{"FULL", 101, 0}};
       },
       ErrorKind::kInvalid, "outside 0..100"},
      {"negative discount",
       [](NewRate& r) {
         r.plan_terms = {{"FULL", -5, 0}};
       },
       ErrorKind::kInvalid, "outside 0..100"},
      {"negative included minutes",
       [](NewRate& r) {
         r.plan_terms = {{"FULL", 0, -1}};
       },
       ErrorKind::kInvalid, "negative"},
      {"a plan twice",
       [](NewRate& r) {
         r.plan_terms = {{"FULL", 5, 0}, {"FULL", 10, 0}};
       },
       ErrorKind::kInvalid, "two sets of terms"},
      {"unknown plan",
       [](NewRate& r) {
         r.plan_terms = {{"GOLD", 5, 0}};
       },
       ErrorKind::kNotFound, "unknown plan 'GOLD'"},
      {"idle price without a price",
       [](NewRate& r) {
         r.price_per_unit = 0;
         r.idle_price_per_unit = 100;
       },
       ErrorKind::kInvalid, "without a (busy) price"},
      {"idle price on coworking",
       [](NewRate& r) {
         r.kind = SessionKind::kCoworking;
         r.machine_id.reset();
         r.idle_price_per_unit = 100;
       },
       ErrorKind::kInvalid, "not coworking"},
      {"machine rate without machine", [](NewRate& r) { r.machine_id.reset(); },
       ErrorKind::kInvalid, "needs a machine id"},
      {"unknown machine", [](NewRate& r) { r.machine_id = "lathe"; }, ErrorKind::kNotFound,
       "unknown machine 'lathe'"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto r = laser_rate(f.now + kHour);
      c.edit(r);
      refused(f.store->ledger().set_rate(r, "manager"), c.kind, c.words);
    }
  }

  SECTION("overlaps a rate that starts later") {
    must(f.store->ledger().set_rate(laser_rate(kMay1), "manager"));
    const auto with_later = f.count("rates");
    refused(f.store->ledger().set_rate(laser_rate(kMay1 - kDay), "manager"), ErrorKind::kConflict,
            "overlaps rate");
    refused(f.store->ledger().set_rate(laser_rate(kMay1), "manager"), ErrorKind::kConflict,
            "overlaps rate");
    CHECK(f.count("rates") == with_later);
    return;
  }
  SECTION("would change an issued statement") {
    // A statement already issued for May (a clock set back, an import): a rate from May 1 or
    // any later day would change what it says.
    // M0001 used the laser in May; M0002's May statement has no laser line, so no laser rate
    // can change it and it is not named.
    f.issue_statement(f.member.id, "2026-05");
    f.issue_statement(f.other.id, "2026-05");
    f.session("may-laser", "laser1", kMay1 + 10 * kHour, kMay1 + 11 * kHour);
    const auto r = f.store->ledger().set_rate(laser_rate(kMay1), "manager");
    refused(r, ErrorKind::kConflict,
            "rate for laser1 from 2026-05-01 reaches into 2026-05, already issued: it would "
            "change the issued statement(s) of M0001 (2026-05)");
    CHECK_THAT(r.error().message, !Catch::Contains("M0002"));
    // From April 20 it would reach into May as well; from June on it cannot touch May.
    refused(f.store->ledger().set_rate(laser_rate(kMay1 - 10 * kDay), "manager"),
            ErrorKind::kConflict, "M0001 (2026-05)");
    // The mill was not used in May: a rate for it changes no issued statement.
    auto mill = laser_rate(kMay1);
    mill.machine_id = "mill";
    must(f.store->ledger().set_rate(mill, "manager"));
    CHECK(f.count("rates") == rates_before + 1);
    must(f.store->ledger().set_rate(laser_rate(kMay1 + 31 * kDay), "manager"));
    return;
  }
  CHECK(f.count("rates") == rates_before);
  CHECK(f.count("rate_plan_terms") == terms_before);
  CHECK(f.count("audit_log") == audit_before);
  // The rate in force was not cut short by any refused change.
  CHECK_FALSE(must(f.store->ledger().current_rate(SessionKind::kMachine, "laser1", f.now))
                  ->effective_until_ms);
  f.chain_ok();
}

TEST_CASE("an idle price needs a machine with a busy input", "[billing_store]") {
  Fixture f;
  auto mill = laser_rate();
  mill.machine_id = "mill";
  mill.idle_price_per_unit = 100;
  refused(f.store->ledger().set_rate(mill, "manager"), ErrorKind::kInvalid,
          "idle price 100 on a machine without a busy input");
  // labgated records the busy input from its configuration; then the idle price is accepted.
  const auto m = must(f.store->staff().set_machine_busy_input("mill", true, "labgated"));
  CHECK(m.busy_input);
  refused(f.store->staff().set_machine_busy_input("mill", true, "labgated"), ErrorKind::kConflict,
          "already has a busy input");
  CHECK(must(f.store->ledger().set_rate(mill, "manager")).idle_price_per_unit ==
        std::optional<std::int64_t>(100));
  auto above = laser_rate(f.now + kDay);
  above.idle_price_per_unit = 301;
  refused(f.store->ledger().set_rate(above, "manager"), ErrorKind::kInvalid,
          "idle price 301 is above the (busy) price 300");
  const auto audit = must(f.store->database().query_int64(
      "SELECT COUNT(*) FROM audit_log WHERE action = 'machine.busy_input'"));
  CHECK(audit == 1);
  f.chain_ok();
}

TEST_CASE("rate edges that are accepted", "[billing_store]") {
  Fixture f;
  SECTION("minimum equal to the cap, grace just under a day, 0 and 100 percent") {
    auto r = laser_rate();
    r.minimum_charge = 800;
    r.daily_cap = 800;
    r.grace_seconds = 86399;
    r.plan_terms = {{"FULL", 100, 0}, {"DROP", 0, 0}};
    const auto got = must(f.store->ledger().set_rate(r, "manager"));
    REQUIRE(got.plan_terms.size() == 2);
    CHECK(got.plan_terms[0].plan_code == "DROP");
    CHECK(got.plan_terms[1].discount_percent == 100);
  }
  SECTION("busy and idle prices") {
    auto r = laser_rate();
    r.idle_price_per_unit = 100;
    CHECK(must(f.store->ledger().set_rate(r, "manager")).idle_price_per_unit ==
          std::optional<std::int64_t>(100));
  }
  SECTION("a free machine: price 0, no cap") {
    auto r = laser_rate();
    r.price_per_unit = 0;
    r.minimum_charge = 0;
    r.daily_cap.reset();
    CHECK(must(f.store->ledger().set_rate(r, "manager")).price_per_unit == 0);
  }
  f.chain_ok();
}

TEST_CASE("accounts: top-ups, adjustments, credit limit", "[billing_store]") {
  Fixture f;
  auto standing = must(f.store->ledger().account_standing(f.member.id));
  CHECK(standing.balance == 0);
  CHECK(standing.credit_limit == 0);
  CHECK(must(f.store->ledger().account("M0001")).entries.empty());

  const auto t = must(f.store->ledger().topup("M0001", 5000, "cash at reception", "clerk"));
  CHECK(t.amount == 5000);
  CHECK(t.kind == "topup");
  CHECK(t.reference == "cash at reception");
  f.now += kHour;
  must(f.store->ledger().adjust("M0001", -1200, "refund of a failed print", "manager"));
  must(f.store->ledger().adjust("M0001", 200, "goodwill", "manager"));
  auto acct = must(f.store->ledger().set_credit_limit("M0001", 10000, "manager"));
  CHECK(acct.credit_limit == 10000);
  CHECK(acct.balance == 4000);
  REQUIRE(acct.entries.size() == 3);
  CHECK(acct.entries[0].kind == "topup");
  CHECK(acct.entries[1].amount == -1200);
  CHECK(acct.entries[1].reference == "refund of a failed print");
  CHECK(acct.entries[2].actor == "manager");
  standing = must(f.store->ledger().account_standing(f.member.id));
  CHECK(standing.balance == 4000);
  CHECK(standing.credit_limit == 10000);
  CHECK(must(f.store->ledger().set_credit_limit("M0001", 0, "manager")).credit_limit == 0);
  // The other member's money is separate.
  CHECK(must(f.store->ledger().account_standing(f.other.id)).balance == 0);

  const auto audit = must(f.store->audit().list_audit());
  std::vector<std::string> actions;
  for (const auto& a : audit) {
    if (a.action.rfind("account.", 0) == 0) actions.push_back(a.action);
  }
  CHECK(actions == std::vector<std::string>{"account.topup", "account.adjust", "account.adjust",
                                            "account.credit_limit", "account.credit_limit"});

  const auto entries = f.count("account_entries");
  const auto audits = f.count("audit_log");
  refused(f.store->ledger().topup("M0001", 0, "", "clerk"), ErrorKind::kInvalid, "positive");
  refused(f.store->ledger().topup("M0001", -100, "", "clerk"), ErrorKind::kInvalid, "positive");
  refused(f.store->ledger().topup("M9999", 100, "", "clerk"), ErrorKind::kNotFound,
          "unknown member");
  refused(f.store->ledger().adjust("M0001", 0, "nothing", "clerk"), ErrorKind::kInvalid, "0 yen");
  refused(f.store->ledger().adjust("M0001", 100, "", "clerk"), ErrorKind::kInvalid, "reason");
  refused(f.store->ledger().set_credit_limit("M0001", -1, "manager"), ErrorKind::kInvalid,
          "negative");
  refused(f.store->ledger().set_credit_limit("M9999", 10, "manager"), ErrorKind::kNotFound,
          "unknown member");
  refused(f.store->ledger().account("M9999"), ErrorKind::kNotFound, "unknown member");
  CHECK(f.count("account_entries") == entries);
  CHECK(f.count("audit_log") == audits);
  f.chain_ok();
}

TEST_CASE("price list and sales", "[billing_store]") {
  Fixture f;
  auto acrylic = must(f.store->ledger().upsert_price_item(
      {"ACR3", "Acrylic 3 mm A4", "sheet", 450, false, std::nullopt}, "manager"));
  CHECK(acrylic.active);
  must(f.store->ledger().upsert_price_item(
      {"DAY", "Coworking day pass", "day", 1000, true, std::nullopt}, "manager"));

  const auto sale = must(f.store->ledger().sell("M0001", "ACR3", 3, "for the sign", "clerk"));
  CHECK(sale.unit_price == 450);
  CHECK(sale.quantity == 3);
  CHECK(sale.amount() == 1350);
  CHECK(sale.at_ms == kT0);
  CHECK(sale.member_no == "M0001");

  // A price change never changes a past sale.
  acrylic = must(f.store->ledger().upsert_price_item(
      {"ACR3", "Acrylic 3 mm A4", "sheet", 500, false, std::nullopt}, "manager"));
  CHECK(acrylic.price == 500);
  f.now += kHour;
  const auto later = must(f.store->ledger().sell("M0001", "ACR3", 1, "", "clerk"));
  CHECK(later.unit_price == 500);
  const auto pass = must(f.store->ledger().sell("M0002", "DAY", 1, "", "clerk", kT0 + 2 * kHour));
  CHECK(pass.at_ms == kT0 + 2 * kHour);

  auto sales = must(f.store->ledger().list_sales(std::string("M0001")));
  REQUIRE(sales.size() == 2);
  CHECK(sales[0].unit_price == 450);
  CHECK(sales[1].unit_price == 500);
  CHECK(must(f.store->ledger().list_sales()).size() == 3);
  CHECK(must(f.store->ledger().list_sales(std::nullopt, kT0 + kHour, kT0 + 2 * kHour)).size() == 1);

  auto items = must(f.store->ledger().list_price_items());
  REQUIRE(items.size() == 2);
  CHECK(items[0].code == "ACR3");
  CHECK(items[1].day_pass);

  const auto sales_before = f.count("sales");
  const auto audit_before = f.count("audit_log");
  SECTION("refusals write nothing") {
    refused(f.store->ledger().sell("M0001", "ACR3", 0, "", "clerk"), ErrorKind::kInvalid,
            "at least 1");
    refused(f.store->ledger().sell("M0001", "ACR3", -2, "", "clerk"), ErrorKind::kInvalid,
            "at least 1");
    refused(f.store->ledger().sell("M9999", "ACR3", 1, "", "clerk"), ErrorKind::kNotFound,
            "unknown member");
    refused(f.store->ledger().sell("M0001", "GOLD", 1, "", "clerk"), ErrorKind::kNotFound,
            "unknown price-list item 'GOLD'");
    refused(f.store->ledger().upsert_price_item({"X", "", "pcs", 10, false, std::nullopt}, "m"),
            ErrorKind::kInvalid, "name");
    refused(f.store->ledger().upsert_price_item({"X", "x", "pcs", -10, false, std::nullopt}, "m"),
            ErrorKind::kInvalid, "negative");
    refused(f.store->ledger().deactivate_price_item("GOLD", "m"), ErrorKind::kNotFound, "GOLD");
    CHECK(f.count("sales") == sales_before);
    CHECK(f.count("audit_log") == audit_before);
  }
  SECTION("an item's tax class is kept, copied into its sales and checked") {
    CHECK(acrylic.tax_class == "standard");
    auto tea = must(f.store->ledger().upsert_price_item(
        {"TEA", "Bottled tea", "pcs", 150, false, std::string("reduced")}, "manager"));
    CHECK(tea.tax_class == "reduced");
    // A price change that names no class keeps the item's class.
    tea = must(f.store->ledger().upsert_price_item(
        {"TEA", "Bottled tea", "pcs", 160, false, std::nullopt}, "manager"));
    CHECK(tea.tax_class == "reduced");
    const auto sold = must(f.store->ledger().sell("M0001", "TEA", 2, "", "clerk"));
    CHECK(sold.tax_class == "reduced");
    // The sale keeps its class when the item's class changes later, as it keeps its price.
    must(f.store->ledger().upsert_price_item(
        {"TEA", "Bottled tea", "pcs", 160, false, std::string("standard")}, "manager"));
    auto listed = must(f.store->ledger().list_sales(std::string("M0001")));
    REQUIRE(listed.size() == 3);
    CHECK(listed.back().tax_class == "reduced");
    const auto audit_rows = f.count("audit_log");
    refused(f.store->ledger().upsert_price_item(
                {"TEA", "Bottled tea", "pcs", 160, false, std::string("luxury")}, "manager"),
            ErrorKind::kInvalid,
            "tax class 'luxury' of item TEA is not standard, reduced or exempt");
    CHECK(f.count("audit_log") == audit_rows);
  }
  SECTION("an inactive item is not sold; setting it again reactivates it") {
    CHECK_FALSE(must(f.store->ledger().deactivate_price_item("ACR3", "manager")).active);
    refused(f.store->ledger().deactivate_price_item("ACR3", "manager"), ErrorKind::kConflict,
            "already inactive");
    refused(f.store->ledger().sell("M0001", "ACR3", 1, "", "clerk"), ErrorKind::kConflict,
            "no longer sold");
    CHECK(must(f.store->ledger().list_price_items(false)).size() == 1);
    CHECK(must(f.store->ledger().list_price_items(true)).size() == 2);
    CHECK(must(f.store->ledger().upsert_price_item(
                   {"ACR3", "Acrylic 3 mm A4", "sheet", 520, false, std::nullopt}, "m"))
              .active);
    CHECK(must(f.store->ledger().sell("M0001", "ACR3", 1, "", "clerk")).unit_price == 520);
  }
  SECTION("a sale dated in a month already issued is refused") {
    f.issue_statement(f.member.id, "2026-03");
    // 2026-03-31 23:30 in Tokyo belongs to March; 2026-04-01 00:00 Tokyo to April.
    refused(
        f.store->ledger().sell("M0001", "ACR3", 1, "", "clerk", kT0 - 9 * kHour - 30 * 60 * 1000),
        ErrorKind::kConflict, "2026-03 statement of M0001 is already issued");
    CHECK(
        must(f.store->ledger().sell("M0001", "ACR3", 1, "", "clerk", kT0 - 9 * kHour)).unit_price ==
        500);
    // Another member's March is still open.
    CHECK(
        must(f.store->ledger().sell("M0002", "ACR3", 1, "", "clerk", kT0 - 10 * kHour)).quantity ==
        1);
  }
  const auto audit = must(f.store->audit().list_audit());
  CHECK(std::count_if(audit.begin(), audit.end(),
                      [](const AuditEntry& a) { return a.action == "price.set"; }) >= 3);
  CHECK(std::count_if(audit.begin(), audit.end(),
                      [](const AuditEntry& a) { return a.action == "sale"; }) >= 3);
  f.chain_ok();
}

TEST_CASE("sessions over 24 h are held until reviewed", "[billing_store]") {
  Fixture f;
  const std::int64_t start = kT0 - 5 * kDay;
  // Exactly 24 h is billed normally; 24 h + 1 s is held; 24 h + 999 ms floors to 24 h.
  const auto day = f.session("day", std::string("laser1"), start, start + kDay);
  const auto held = f.session("held", std::string("mill"), start, start + kDay + 1000);
  const auto almost = f.session("almost", std::nullopt, start, start + kDay + 999);
  const auto open = f.session("open", std::string("laser1"), start + 2 * kDay, std::nullopt);
  const auto long_cw =
      f.session("cw", std::nullopt, start + 2 * kDay, start + 2 * kDay + 30 * kHour);

  auto listed = must(f.store->ledger().list_held_sessions());
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].id == held.id);
  CHECK(listed[0].member_no == std::optional<std::string>("M0001"));
  CHECK(listed[1].id == long_cw.id);

  const auto reviews = f.count("session_reviews");
  const auto audits = f.count("audit_log");
  refused(f.store->ledger().review_session(day.id, 0, "", "staff"), ErrorKind::kConflict,
          "only sessions over 24 h");
  refused(f.store->ledger().review_session(almost.id, 0, "", "staff"), ErrorKind::kConflict,
          "only sessions over 24 h");
  refused(f.store->ledger().review_session(open.id, 0, "", "staff"), ErrorKind::kConflict,
          "still open");
  refused(f.store->ledger().review_session(9999, 0, "", "staff"), ErrorKind::kNotFound,
          "unknown session");
  refused(f.store->ledger().review_session(held.id, 86402, "", "staff"), ErrorKind::kInvalid,
          "it lasted only 24h 00m 01s");
  refused(f.store->ledger().review_session(held.id, -1, "", "staff"), ErrorKind::kInvalid,
          "negative");
  refused(f.store->ledger().review_session(held.id, 10, "", ""), ErrorKind::kInvalid, "reviewer");
  CHECK(f.count("session_reviews") == reviews);
  CHECK(f.count("audit_log") == audits);

  // The whole length may be billed; 0 waives.
  const auto r = must(f.store->ledger().review_session(held.id, 86401, "really used", "staff"));
  CHECK(r.billed_seconds == 86401);
  CHECK(r.reviewer == "staff");
  CHECK(r.reviewed_at_ms == f.now);
  refused(f.store->ledger().review_session(held.id, 0, "", "staff"), ErrorKind::kConflict,
          "already reviewed by staff");
  const auto w =
      must(f.store->ledger().review_session(long_cw.id, 0, "forgot to badge out", "manager"));
  CHECK(w.billed_seconds == 0);
  CHECK(must(f.store->ledger().list_held_sessions()).empty());
  const auto stored = must(f.store->ledger().session_review(long_cw.id));
  REQUIRE(stored);
  CHECK(stored->note == "forgot to badge out");
  CHECK_FALSE(must(f.store->ledger().session_review(day.id)));
  const auto audit = must(f.store->audit().list_audit());
  CHECK(audit.back().action == "session.review");
  CHECK(audit.back().subject == std::to_string(long_cw.id));
  CHECK_THAT(audit.back().detail, Catch::Contains("\"waived\":true"));
  f.chain_ok();
}

TEST_CASE("a held session of an issued month can no longer be reviewed", "[billing_store]") {
  Fixture f;
  // Starts 2026-03-30 10:00 Tokyo, ends 26 h later: it belongs to March.
  const std::int64_t start = kT0 - 2 * kDay + kHour;
  const auto s = f.session("m", std::string("laser1"), start, start + 26 * kHour);
  f.issue_statement(f.other.id, "2026-03");
  must(f.store->ledger().review_session(s.id, 3600, "",
                                        "staff"));  // another member's March is issued

  const auto s2 =
      f.session("m2", std::string("laser1"), start + 27 * kHour, start + 27 * kHour + 25 * kHour);
  f.issue_statement(f.member.id, "2026-03");
  refused(f.store->ledger().review_session(s2.id, 3600, "", "staff"), ErrorKind::kConflict,
          "2026-03 statement of M0001 is already issued");
  CHECK_FALSE(must(f.store->ledger().session_review(s2.id)));
  f.chain_ok();
}
