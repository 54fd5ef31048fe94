// Golden test: the demo site's scripted day (config/demo-day.txt, 2026-11-24) billed with the
// demo rates below, compared byte for byte with tests/billing/golden/. Every amount in the golden
// files is checked by hand in tests/billing/golden/README.md.
// The statements are billed with the demo site's [billing] settings (config/demo-site.toml:
// inclusive prices, floor rounding, a registered issuer), so they are the demo month's invoices.
// Set LABGATE_UPDATE_GOLDEN=1 to rewrite the files (then check them by hand again).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "billing_support.hpp"
#include "labgate/gateway/billing/invoice.hpp"
#include "labgate/gateway/billing/render.hpp"
#include "labgate/gateway/billing/statements.hpp"
#include "labgate/gateway/config/site_config.hpp"

using namespace labgate::test::billing;
namespace bl = labgate::gateway::billing;

namespace {

std::string t(unsigned day, int h, int m) {
  return std::to_string(nov(day, h, m));
}

// The members, plans and machines of the demo day's "before opening" block, the demo rates, and
// the sessions the scripted day leaves in the database (ids in the order the daemon opens them).
void seed_demo_day(st::Database& db) {
  sql(db,
      "INSERT INTO plans (id, code, name, windows) VALUES"
      " (1, 'coworking-day', 'Coworking, staffed hours', 'mon-fri 08:30-17:15'),"
      " (2, 'fablab', 'Fab lab', 'mon-fri 08:30-17:15; sat 10:00-16:00'),"
      " (3, 'staff', 'Staff', '24h');"
      "INSERT INTO members (id, member_no, name, status, plan_id, created_at) VALUES"
      " (1, 'M0001', 'Aiko Tanaka', 'active', 2, 0), (2, 'M0002', 'Kenji Sato', 'active', 1, 0),"
      " (3, 'M0003', 'Yuki Suzuki', 'active', 2, 0),"
      " (4, 'M0004', 'Hiro Takahashi', 'suspended', 2, 0),"
      " (5, 'M0005', 'Mei Watanabe', 'active', 2, 0), (6, 'S0001', 'Ren Ito (staff)', 'active', 3, "
      "0);"
      "INSERT INTO machines (id, name, session_mode, created_at) VALUES"
      " ('laser', 'Laser cutter', 'hold', 0), ('printer-1', '3D printer 1', 'tap', 0),"
      " ('printer-2', '3D printer 2', 'tap', 0), ('cnc', 'CNC mill', 'hold', 0);");
  const std::string from = std::to_string(nov(1, 0));
  sql(db,
      "INSERT INTO rates (id, kind, machine_id, effective_from_ms, unit_seconds, price_per_unit,"
      " idle_price_per_unit, minimum_charge, grace_seconds, daily_cap, created_at_ms, created_by)"
      " VALUES"
      " (1, 'machine', 'laser', " +
          from +
          ", 900, 600, 200, 600, 60, 6000, 0, 'demo'),"
          " (2, 'machine', 'printer-1', " +
          from +
          ", 1800, 200, NULL, 0, 120, NULL, 0, 'demo'),"
          " (3, 'machine', 'printer-2', " +
          from +
          ", 1800, 200, NULL, 0, 120, NULL, 0, 'demo'),"
          " (4, 'machine', 'cnc', " +
          from +
          ", 900, 800, NULL, 800, 60, NULL, 0, 'demo'),"
          " (5, 'coworking', NULL, " +
          from +
          ", 3600, 300, NULL, 0, 0, 1500, 0, 'demo');"
          "INSERT INTO rate_plan_terms (rate_id, plan_id, discount_percent, included_minutes) "
          "VALUES"
          " (1, 2, 10, 0), (2, 2, 0, 60), (3, 2, 0, 60), (4, 2, 10, 0),"
          " (1, 3, 100, 0), (2, 3, 100, 0), (3, 3, 100, 0), (4, 3, 100, 0), (5, 3, 100, 0);"
          "INSERT INTO price_list (code, name, price, day_pass) VALUES"
          " ('acrylic-3mm', 'アクリル板 3mm (Acrylic sheet)', 450, 0),"
          " ('day-pass', 'Coworking day pass', 1000, 1);");
  // id, member, kind, machine, start, end, reason, busy seconds
  sql(db,
      "INSERT INTO sessions (id, uuid, member_id, kind, machine_id, started_at_ms, ended_at_ms,"
      " end_reason, measured_seconds, busy_seconds) VALUES"
      " (1, 'demo-1', 6, 'coworking', NULL, " +
          t(24, 8, 25) + ", " + t(24, 22, 0) +
          ", 'closing_time', 48900, NULL),"
          " (2, 'demo-2', 1, 'coworking', NULL, " +
          t(24, 8, 40) + ", " + t(24, 12, 0) +
          ", 'exit', 12000, NULL),"
          " (3, 'demo-3', 2, 'coworking', NULL, " +
          t(24, 8, 45) + ", " + t(24, 17, 30) +
          ", 'exit', 31500, NULL),"
          " (4, 'demo-4', 1, 'machine', 'laser', " +
          t(24, 9, 0) + ", " + t(24, 9, 40) +
          ", 'card_removed', 2400, 2400),"
          " (5, 'demo-5', 2, 'machine', 'printer-1', " +
          t(24, 10, 0) + ", " + t(24, 11, 30) +
          ", 'tap_off', 5400, 5400),"
          " (6, 'demo-6', 1, 'coworking', NULL, " +
          t(24, 13, 0) + ", " + t(24, 17, 30) +
          ", 'exit', 16200, NULL),"
          " (7, 'demo-7', 1, 'machine', 'printer-2', " +
          t(24, 14, 0) + ", " + t(24, 14, 30) + ", 'fire_alarm', 1800, 1800);");
  // Sold at the desk during the day (labgatectl sell).
  sql(db,
      "INSERT INTO sales (id, member_id, item_code, quantity, unit_price, at_ms, actor) VALUES"
      " (1, 2, 'day-pass', 1, 1000, " +
          t(24, 8, 50) +
          ", 'Ren Ito'),"
          " (2, 1, 'acrylic-3mm', 2, 450, " +
          t(24, 13, 10) + ", 'Ren Ito');");
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void compare_golden(const std::string& name, const std::string& actual) {
  const std::filesystem::path path = std::filesystem::path{LABGATE_GOLDEN_DIR} / name;
  if (const char* update = std::getenv("LABGATE_UPDATE_GOLDEN"); update && *update == '1') {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << actual;
  }
  INFO("golden file " << path);
  REQUIRE(std::filesystem::exists(path));
  CHECK(read_file(path) == actual);
}

template <typename T>
T must_ok(st::Result<T> r) {
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.ok());
  return std::move(r).value();
}

bl::TaxPolicy demo_tax() {
  auto tax = labgate::gateway::config::load_billing_config_string(
      labgate::gateway::config::embedded_demo_config(), "demo-site.toml");
  INFO((tax ? std::string() : labgate::gateway::config::to_string(tax.error())));
  REQUIRE(tax.has_value());
  return tax.value();
}

}  // namespace

TEST_CASE("golden: the demo day billed into November 2026 statements", "[billing][golden]") {
  DbFixture f;
  seed_demo_day(f.db());
  const auto tax = demo_tax();
  REQUIRE(tax.issuer.registration_number == "T1234567890123");
  const auto statements = must_ok(bl::month_statements(f.db(), "2026-11", tokyo(), tax));
  REQUIRE(statements.size() == 3);
  // The hand-checked figures (golden/README.md): inclusive prices, so the totals are the sums of
  // the lines, and the tax in them is floor(total * 10 / 110), once per statement.
  CHECK(statements[0].member_no == "M0001");
  CHECK(statements[0].total == 4020);
  REQUIRE(statements[0].taxes.size() == 1);
  CHECK(statements[0].taxes[0].percent == 10);
  CHECK(statements[0].taxes[0].taxable == 4020);
  CHECK(statements[0].taxes[0].tax == 365);
  CHECK(statements[1].member_no == "M0002");
  CHECK(statements[1].total == 1600);
  REQUIRE(statements[1].taxes.size() == 1);
  CHECK(statements[1].taxes[0].tax == 145);
  CHECK(statements[2].member_no == "S0001");
  CHECK(statements[2].total == 0);
  REQUIRE(statements[2].taxes.size() == 1);
  CHECK(statements[2].taxes[0].tax == 0);
  for (const auto& s : statements) {
    compare_golden("statement-2026-11-" + s.member_no + ".csv", bl::to_csv(s));
    compare_golden("statement-2026-11-" + s.member_no + ".json", bl::to_json(s) + "\n");
  }
  compare_golden("summary-2026-11.csv", bl::summary_csv(statements));
}

TEST_CASE("golden: the same month with exclusive prices and other roundings", "[billing][golden]") {
  DbFixture f;
  seed_demo_day(f.db());
  auto tax = demo_tax();
  tax.prices = bl::PriceMode::kExclusive;
  // Exclusive: the tax is added. M0001 4020 -> 402 (exact), M0002 1600 -> 160.
  auto ex = must_ok(bl::month_statements(f.db(), "2026-11", tokyo(), tax));
  CHECK(ex[0].total == 4020 + 402);
  CHECK(ex[1].total == 1600 + 160);
  CHECK(ex[2].total == 0);
  // Inclusive, rounded half up: 4020 * 10 / 110 = 365.45 -> 365; 1600 * 10 / 110 = 145.45 -> 145;
  // ceil: 366 and 146. The totals do not move: the tax is inside them.
  tax.prices = bl::PriceMode::kInclusive;
  tax.rounding = bl::TaxRounding::kRound;
  auto rounded = must_ok(bl::month_statements(f.db(), "2026-11", tokyo(), tax));
  CHECK(rounded[0].taxes[0].tax == 365);
  CHECK(rounded[1].taxes[0].tax == 145);
  tax.rounding = bl::TaxRounding::kCeil;
  auto ceiled = must_ok(bl::month_statements(f.db(), "2026-11", tokyo(), tax));
  CHECK(ceiled[0].taxes[0].tax == 366);
  CHECK(ceiled[1].taxes[0].tax == 146);
  CHECK(ceiled[0].total == 4020);
}

// The printable invoices of the demo month (golden/README.md, "The invoice"): November issued on
// 2026-12-01 at 10:00, then each member's invoice in Japanese and English, byte for byte.
TEST_CASE("golden: the demo month's printable invoices", "[billing][golden][invoice]") {
  DbFixture f;
  seed_demo_day(f.db());
  const auto tax = demo_tax();
  const std::int64_t issued_at = jst(2026, 12, 1, 10, 0, 0);
  // Before issuing, the invoice says it is a draft and not an invoice.
  const auto draft = must_ok(bl::invoice_document(f.db(), "M0001", "2026-11", issued_at, tokyo(),
                                                  tax, bl::InvoiceLang::kEn));
  CHECK(draft.find("id=\"draft\"") != std::string::npos);
  bl::IssueRequest req{"2026-11", std::nullopt, "manager", issued_at};
  const auto report = must_ok(bl::issue_statements(f.db(), req, tokyo(), tax));
  REQUIRE(report.issued.size() == 3);
  for (const auto* member : {"M0001", "M0002", "S0001"}) {
    for (const auto lang : {bl::InvoiceLang::kJa, bl::InvoiceLang::kEn}) {
      const auto html =
          must_ok(bl::invoice_document(f.db(), member, "2026-11", issued_at, tokyo(), tax, lang));
      CHECK(html.find("id=\"draft\"") == std::string::npos);
      CHECK(html.find("T1234567890123") != std::string::npos);
      compare_golden(std::string("invoice-2026-11-") + member + "-" + bl::to_string(lang) + ".html",
                     html);
    }
  }
  // The month in one document: the three sheets, in member order, each as above.
  const auto all = must_ok(
      bl::invoice_document(f.db(), "", "2026-11", issued_at, tokyo(), tax, bl::InvoiceLang::kJa));
  const auto m1 = all.find("id=\"invoice-M0001\"");
  const auto m2 = all.find("id=\"invoice-M0002\"");
  const auto s1 = all.find("id=\"invoice-S0001\"");
  CHECK((m1 < m2 && m2 < s1 && s1 != std::string::npos));
}
