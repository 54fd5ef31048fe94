// Consumption tax: the rounding at every edge (table tests, checked by hand), the rate table,
// the per-statement-and-rate grouping, and the config refusals (field and reason).
#include "labgate/gateway/billing/tax.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>

#include "billing_support.hpp"
#include "labgate/gateway/billing/render.hpp"
#include "labgate/gateway/config/site_config.hpp"

using namespace labgate::test::billing;
namespace bl = labgate::gateway::billing;
namespace cfg = labgate::gateway::config;

namespace {

// An exact reference with a wider integer: the engine splits the amount instead, so this checks
// that split, not a copy of it. __extension__ keeps -Wpedantic quiet about the GCC type.
__extension__ typedef __int128 Wide;

std::int64_t reference_tax(std::int64_t amount, std::int64_t percent, bl::PriceMode prices,
                           bl::TaxRounding rounding) {
  const Wide den = prices == bl::PriceMode::kInclusive ? 100 + percent : 100;
  const Wide num = static_cast<Wide>(amount) * percent;
  Wide q = num / den;
  Wide r = num % den;
  if (r < 0) --q, r += den;  // floor for negative amounts
  if (rounding == bl::TaxRounding::kCeil && r != 0) ++q;
  if (rounding == bl::TaxRounding::kRound && 2 * r >= den) ++q;
  return static_cast<std::int64_t>(q);
}

struct Edge {
  std::int64_t amount;
  std::int64_t floor, round, ceil;
};

void check_edges(bl::PriceMode prices, std::int64_t percent, std::initializer_list<Edge> edges) {
  for (const auto& e : edges) {
    INFO(bl::to_string(prices) << " " << percent << "% of " << e.amount);
    CHECK(bl::tax_of(e.amount, percent, prices, bl::TaxRounding::kFloor) == e.floor);
    CHECK(bl::tax_of(e.amount, percent, prices, bl::TaxRounding::kRound) == e.round);
    CHECK(bl::tax_of(e.amount, percent, prices, bl::TaxRounding::kCeil) == e.ceil);
  }
}

bl::SaleItem sale(std::int64_t id, std::int64_t price, std::int64_t at, bl::TaxClass c,
                  std::int64_t quantity = 1) {
  return bl::SaleItem{id, "item-" + std::to_string(id), "item", quantity, price, at, false, c};
}

bl::Statement bill_with(const bl::TaxPolicy& tax, std::vector<bl::SessionUsage> sessions,
                        std::vector<bl::SaleItem> sales) {
  bl::StatementInput in;
  in.member_no = "M0001";
  in.name = "Aiko Tanaka";
  in.month = "2026-11";
  in.sessions = std::move(sessions);
  in.sales = std::move(sales);
  return bl::Engine{tokyo(), tax}.bill(in);
}

// The [billing] part of a config, as labgatectl loads it; "" when accepted, else the errors.
std::string billing_errors(const std::string& toml) {
  auto r = cfg::load_billing_config_string(toml, "site.toml");
  return r ? std::string() : cfg::to_string(r.error());
}

}  // namespace

// Every figure below is worked out by hand: inclusive 10 % is amount / 11, inclusive 8 % is
// amount * 2 / 27, exclusive is amount * r / 100.
TEST_CASE("tax: inclusive 10 % at every rounding edge", "[billing][tax]") {
  check_edges(bl::PriceMode::kInclusive, 10,
              {{0, 0, 0, 0},
               {1, 0, 0, 1},         // 0.09
               {5, 0, 0, 1},         // 0.45
               {6, 0, 1, 1},         // 0.55
               {9, 0, 1, 1},         // 0.82
               {10, 0, 1, 1},        // 0.91
               {11, 1, 1, 1},        // exact
               {99, 9, 9, 9},        // exact
               {100, 9, 9, 10},      // 9.09
               {101, 9, 9, 10},      // 9.18
               {109, 9, 10, 10},     // 9.91
               {110, 10, 10, 10},    // exact
               {111, 10, 10, 11}});  // 10.09
}

TEST_CASE("tax: inclusive 8 % at every rounding edge", "[billing][tax]") {
  check_edges(bl::PriceMode::kInclusive, 8,
              {{1, 0, 0, 1},      // 0.074
               {9, 0, 1, 1},      // 0.667
               {10, 0, 1, 1},     // 0.741
               {11, 0, 1, 1},     // 0.815
               {27, 2, 2, 2},     // exact
               {99, 7, 7, 8},     // 7.33
               {100, 7, 7, 8},    // 7.41
               {101, 7, 7, 8},    // 7.48
               {102, 7, 8, 8},    // 7.56
               {108, 8, 8, 8},    // exact
               {109, 8, 8, 9},    // 8.07
               {110, 8, 8, 9},    // 8.15
               {111, 8, 8, 9}});  // 8.22
}

TEST_CASE("tax: exclusive 10 % and 8 % at every rounding edge, halves round up", "[billing][tax]") {
  check_edges(bl::PriceMode::kExclusive, 10,
              {{1, 0, 0, 1},
               {4, 0, 0, 1},
               {5, 0, 1, 1},  // 0.5: half up
               {9, 0, 1, 1},
               {10, 1, 1, 1},
               {11, 1, 1, 2},
               {15, 1, 2, 2},  // 1.5
               {25, 2, 3, 3},  // 2.5
               {99, 9, 10, 10},
               {100, 10, 10, 10},
               {101, 10, 10, 11},
               {109, 10, 11, 11},
               {110, 11, 11, 11},
               {111, 11, 11, 12}});
  check_edges(bl::PriceMode::kExclusive, 8,
              {{1, 0, 0, 1},      // 0.08
               {6, 0, 0, 1},      // 0.48
               {7, 0, 1, 1},      // 0.56
               {9, 0, 1, 1},      // 0.72
               {10, 0, 1, 1},     // 0.8
               {11, 0, 1, 1},     // 0.88
               {99, 7, 8, 8},     // 7.92
               {100, 8, 8, 8},    // exact
               {101, 8, 8, 9},    // 8.08
               {109, 8, 9, 9},    // 8.72
               {110, 8, 9, 9},    // 8.8
               {111, 8, 9, 9}});  // 8.88
}

TEST_CASE("tax: exempt is never taxed; huge amounts do not overflow", "[billing][tax]") {
  for (const auto prices : {bl::PriceMode::kInclusive, bl::PriceMode::kExclusive}) {
    for (const auto rounding :
         {bl::TaxRounding::kFloor, bl::TaxRounding::kRound, bl::TaxRounding::kCeil}) {
      for (const std::int64_t a : {0, 1, 9, 10, 11, 99, 100, 101, 109, 110, 111, 1'000'000}) {
        CHECK(bl::tax_of(a, 0, prices, rounding) == 0);
      }
      // Every amount up to 20,000 yen and a few huge ones agree with the 128-bit reference.
      for (std::int64_t a = -300; a <= 20'000; ++a) {
        for (const std::int64_t r : {8, 10}) {
          REQUIRE(bl::tax_of(a, r, prices, rounding) == reference_tax(a, r, prices, rounding));
        }
      }
      const std::int64_t max = std::numeric_limits<std::int64_t>::max();
      for (const std::int64_t a : {max, max - 1, max / 2, std::int64_t{9'007'199'254'740'993}}) {
        INFO(a);
        CHECK(bl::tax_of(a, 10, prices, rounding) == reference_tax(a, 10, prices, rounding));
        CHECK(bl::tax_of(a, 8, prices, rounding) == reference_tax(a, 8, prices, rounding));
      }
    }
  }
}

TEST_CASE("tax: the rate table is effective-dated and extendable", "[billing][tax]") {
  bl::TaxPolicy p;
  CHECK(p.percent_on(bl::TaxClass::kStandard, "2019-10-01") == 10);
  CHECK(p.percent_on(bl::TaxClass::kReduced, "2026-11-24") == 8);
  CHECK(p.percent_on(bl::TaxClass::kExempt, "2026-11-24") == 0);
  CHECK_FALSE(p.percent_on(bl::TaxClass::kStandard, "2019-09-30").has_value());
  // A future change is one more row; the day before keeps the old rate.
  p.rates = bl::merge_tax_rates(
      {{bl::TaxClass::kStandard, 12, "2026-11-15"}, {bl::TaxClass::kReduced, 6, "2019-10-01"}});
  CHECK(p.rates.size() == 4);
  CHECK(p.percent_on(bl::TaxClass::kStandard, "2026-11-14") == 10);
  CHECK(p.percent_on(bl::TaxClass::kStandard, "2026-11-15") == 12);
  CHECK(p.percent_on(bl::TaxClass::kReduced, "2026-11-24") == 6);  // replaced the built-in row
}

TEST_CASE("tax: rounded once per statement and rate, never per line", "[billing][tax]") {
  bl::TaxPolicy tax;
  // Three standard sales of 105 yen: per line floor(105 / 11) = 9 each, 27 in all; once on the
  // statement's 315 yen: floor(315 / 11) = 28.
  const auto st = bill_with(tax, {},
                            {sale(1, 105, nov(3, 10), bl::TaxClass::kStandard),
                             sale(2, 105, nov(4, 10), bl::TaxClass::kStandard),
                             sale(3, 105, nov(5, 10), bl::TaxClass::kStandard),
                             sale(4, 216, nov(5, 11), bl::TaxClass::kReduced),
                             sale(5, 500, nov(6, 11), bl::TaxClass::kExempt)});
  REQUIRE(st.taxes.size() == 3);
  CHECK(st.taxes[0].percent == 0);
  CHECK(st.taxes[0].classes == "exempt");
  CHECK(st.taxes[0].taxable == 500);
  CHECK(st.taxes[0].tax == 0);
  CHECK(st.taxes[1].percent == 8);
  CHECK(st.taxes[1].taxable == 216);
  CHECK(st.taxes[1].tax == 16);  // 216 * 8 / 108 exactly
  CHECK(st.taxes[2].percent == 10);
  CHECK(st.taxes[2].taxable == 315);
  CHECK(st.taxes[2].tax == 28);
  CHECK(st.tax_total == 44);
  CHECK(st.total == 315 + 216 + 500);  // inclusive: the tax is inside the prices
  CHECK(st.lines[0].tax_class == bl::TaxClass::kStandard);
  CHECK(st.lines[0].tax_percent == 10);

  tax.prices = bl::PriceMode::kExclusive;
  const auto ex = bill_with(tax, {},
                            {sale(1, 105, nov(3, 10), bl::TaxClass::kStandard),
                             sale(2, 105, nov(4, 10), bl::TaxClass::kStandard),
                             sale(3, 105, nov(5, 10), bl::TaxClass::kStandard),
                             sale(4, 216, nov(5, 11), bl::TaxClass::kReduced)});
  REQUIRE(ex.taxes.size() == 2);
  CHECK(ex.taxes[0].tax == 17);  // floor(216 * 0.08 = 17.28)
  CHECK(ex.taxes[1].tax == 31);  // floor(315 * 0.1 = 31.5); per line it would be 3 x 10 = 30
  CHECK(ex.taxes[1].total == 315 + 31);
  CHECK(ex.lines_total == 531);
  CHECK(ex.total == 531 + 48);
}

TEST_CASE("tax: each line is taxed at the rate in force on its date; time is standard",
          "[billing][tax]") {
  bl::TaxPolicy tax;
  tax.rates = bl::merge_tax_rates({{bl::TaxClass::kStandard, 12, "2026-11-15"}});
  // 47 minutes of laser on the 10th (1200 yen at 10 %) and on the 20th (1200 yen at 12 %).
  const auto st = bill_with(tax,
                            {session(1, "laser", nov(10, 10), 47 * 60'000, simple_rate()),
                             session(2, "laser", nov(20, 10), 47 * 60'000, simple_rate())},
                            {});
  REQUIRE(st.taxes.size() == 2);
  CHECK(st.taxes[0].percent == 10);
  CHECK(st.taxes[0].taxable == 1200);
  CHECK(st.taxes[0].tax == 109);  // 1200 / 11 = 109.09
  CHECK(st.taxes[1].percent == 12);
  CHECK(st.taxes[1].taxable == 1200);
  CHECK(st.taxes[1].tax == 128);  // 1200 * 12 / 112 = 128.57
  CHECK(st.taxes[0].classes == "standard");
  // Time can be configured as another class.
  tax.time_class = bl::TaxClass::kExempt;
  const auto exempt = bill_with(tax, {session(1, "laser", nov(10, 10), 60'000, simple_rate())}, {});
  REQUIRE(exempt.taxes.size() == 1);
  CHECK(exempt.lines[0].tax_class == bl::TaxClass::kExempt);
  CHECK(exempt.taxes[0].tax == 0);
}

TEST_CASE("tax: the statement names the issuer, or says it is not a qualified invoice",
          "[billing][tax]") {
  bl::TaxPolicy tax;
  const auto plain = bill_with(tax, {}, {sale(1, 1100, nov(3, 10), bl::TaxClass::kStandard)});
  CHECK_FALSE(bl::is_qualified_invoice(plain));
  const std::string csv = bl::to_csv(plain);
  CHECK(csv.find("\r\ninvoice_note,not a qualified invoice (適格請求書ではありません): the issuer "
                 "has no registration number\r\n") != std::string::npos);
  CHECK(
      csv.find("\r\ntax_classes,tax_percent,taxable,tax,total\r\nstandard,10,1100,100,1100\r\n") !=
      std::string::npos);
  CHECK(csv.find("\r\nprices,tax_rounding\r\ninclusive,floor\r\n") != std::string::npos);
  tax.issuer = {"Example Fab Lab", "1-2-3 Example-cho, Example-ku", "T1234567890123"};
  tax.rounding = bl::TaxRounding::kCeil;
  const auto invoice = bill_with(tax, {}, {sale(1, 1100, nov(3, 10), bl::TaxClass::kStandard)});
  CHECK(bl::is_qualified_invoice(invoice));
  const std::string json = bl::to_json(invoice);
  CHECK(json.find("\"tax_rounding\":\"ceil\",\"issuer\":{\"name\":\"Example Fab Lab\",\"address\":"
                  "\"1-2-3 Example-cho, Example-ku\",\"registration_number\":\"T1234567890123\"},"
                  "\"qualified_invoice\":true,\"invoice_note\":\"qualified invoice (適格請求書), "
                  "registration number T1234567890123\"") != std::string::npos);
  CHECK(json.find("\"taxes\":[{\"classes\":\"standard\",\"percent\":10,\"taxable\":1100,\"tax\":"
                  "100,\"total\":1100}],\"tax_total\":100,\"total\":1100") != std::string::npos);
}

TEST_CASE("tax config: defaults, accepted forms and refusals with field and reason",
          "[billing][tax][config]") {
  auto ok = cfg::load_billing_config_string("", "site.toml");
  REQUIRE(ok);
  CHECK(ok.value().prices == bl::PriceMode::kInclusive);
  CHECK(ok.value().rounding == bl::TaxRounding::kFloor);
  CHECK(ok.value().issuer.registration_number.empty());
  CHECK(ok.value().rates.size() == 3);

  auto full = cfg::load_billing_config_string(
      "[billing]\nprices = \"exclusive\"\ntax_rounding = \"round\"\nissuer_name = \"Lab\"\n"
      "registration_number = \"T0000000000001\"\n"
      "[[billing.tax_rates]]\nclass = \"standard\"\npercent = 12\nfrom = 2031-04-01\n"
      "[[billing.tax_rates]]\nclass = \"reduced\"\npercent = 8\nfrom = \"2019-10-01\"\n",
      "site.toml");
  REQUIRE(full);
  CHECK(full.value().prices == bl::PriceMode::kExclusive);
  CHECK(full.value().rounding == bl::TaxRounding::kRound);
  CHECK(full.value().issuer.name == "Lab");
  CHECK(full.value().rates.size() == 4);
  CHECK(full.value().percent_on(bl::TaxClass::kStandard, "2031-04-01") == 12);
  CHECK(full.value().percent_on(bl::TaxClass::kStandard, "2031-03-31") == 10);

  CHECK(billing_errors("[billing]\nregistration_number = \"1234567890123\"\n") ==
        "site.toml:2:23: billing.registration_number: '1234567890123' must start with a capital "
        "T\n");
  CHECK(billing_errors("[billing]\nregistration_number = \"T123456789012\"\n") ==
        "site.toml:2:23: billing.registration_number: 'T123456789012' must be T followed by 13 "
        "digits (got 12 characters after the T)\n");
  CHECK(billing_errors("[billing]\nregistration_number = \"T12345678901234\"\n")
            .find("(got 14 characters after the T)") != std::string::npos);
  CHECK(billing_errors("[billing]\nregistration_number = \"T12345678901X3\"\n")
            .find("found a non-digit") != std::string::npos);
  CHECK(billing_errors("[billing]\nprices = \"net\"\n")
            .find("billing.prices: unknown price mode 'net'") != std::string::npos);
  CHECK(billing_errors("[billing]\ntax_rounding = \"bankers\"\n")
            .find("billing.tax_rounding: unknown rounding 'bankers'") != std::string::npos);
  CHECK(billing_errors("[billing]\ntax_rate = 10\n").find("unknown key 'billing.tax_rate'") !=
        std::string::npos);
  const std::string row = "[billing]\n[[billing.tax_rates]]\n";
  CHECK(billing_errors(row + "class = \"luxury\"\npercent = 20\nfrom = 2030-01-01\n")
            .find("billing.tax_rates[0].class: unknown tax class 'luxury'") != std::string::npos);
  CHECK(
      billing_errors(row + "class = \"standard\"\npercent = 110\nfrom = 2030-01-01\n")
          .find("billing.tax_rates[0].percent: must be a whole percent from 0 to 100 (got 110)") !=
      std::string::npos);
  CHECK(billing_errors(row + "class = \"standard\"\npercent = -1\nfrom = 2030-01-01\n")
            .find("billing.tax_rates[0].percent: must be a whole percent") != std::string::npos);
  CHECK(billing_errors(row + "class = \"standard\"\npercent = 10.5\nfrom = 2030-01-01\n")
            .find("billing.tax_rates[0].percent: expected an integer") != std::string::npos);
  CHECK(billing_errors(row + "class = \"exempt\"\npercent = 5\nfrom = 2030-01-01\n")
            .find("an exempt class carries no tax") != std::string::npos);
  CHECK(billing_errors(row + "class = \"standard\"\npercent = 10\nfrom = \"2030-02-30\"\n")
            .find("billing.tax_rates[0].from: expected a date YYYY-MM-DD") != std::string::npos);
  CHECK(billing_errors(row + "class = \"standard\"\npercent = 10\n")
            .find("missing required key 'billing.tax_rates[0].from'") != std::string::npos);
  CHECK(billing_errors(row + "class = \"standard\"\npercent = 12\nfrom = 2030-01-01\n" +
                       "[[billing.tax_rates]]\nclass = \"standard\"\npercent = 15\n" +
                       "from = 2030-01-01\n")
            .find("billing.tax_rates[1].from: a second standard rate from 2030-01-01") !=
        std::string::npos);

  // The daemon's loader refuses the same, and the demo config loads with its issuer.
  std::string demo{cfg::embedded_demo_config()};
  auto loaded = cfg::load_config_string(demo, "demo-site.toml");
  REQUIRE(loaded);
  CHECK(loaded.value().billing.issuer.registration_number == "T1234567890123");
  const auto at = demo.find("registration_number = \"T1234567890123\"");
  REQUIRE(at != std::string::npos);
  demo.replace(at, 38, "registration_number = \"T-123\"");
  auto refused = cfg::load_config_string(demo, "demo-site.toml");
  REQUIRE_FALSE(refused);
  CHECK(cfg::to_string(refused.error())
            .find("billing.registration_number: 'T-123' must be T "
                  "followed by 13 digits") != std::string::npos);
}
