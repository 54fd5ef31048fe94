#pragma once
// Japanese consumption tax on statements (qualified-invoice system, 適格請求書等保存方式): the
// site's tax settings, the effective-dated rate table and the once-per-statement-and-rate
// rounding. Pure integer yen arithmetic, standard library only, so both the config parser and the
// billing engine use it without pulling in the store.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace labgate::gateway::billing {

/// What tax an item carries: standard (10 % since 2019-10-01), reduced (8 %) or exempt.
enum class TaxClass { kStandard, kReduced, kExempt };
/// "standard", "reduced", "exempt".
const char* to_string(TaxClass c);
/// The class named `text`; nullopt for anything else.
std::optional<TaxClass> parse_tax_class(std::string_view text);

/// Whether the site's prices (rates, price list) already include the tax.
enum class PriceMode { kInclusive, kExclusive };
/// "inclusive", "exclusive".
const char* to_string(PriceMode m);
std::optional<PriceMode> parse_price_mode(std::string_view text);

/// How the one tax amount per statement and rate loses its fraction of a yen.
enum class TaxRounding { kFloor, kRound, kCeil };
/// "floor", "round" (half up), "ceil".
const char* to_string(TaxRounding r);
std::optional<TaxRounding> parse_tax_rounding(std::string_view text);

/// One row of the rate table: `percent` applies to `tax_class` from local date `from` on.
struct TaxRate {
  TaxClass tax_class{TaxClass::kStandard};
  std::int64_t percent{0};
  std::string from;  ///< "YYYY-MM-DD"
};

/// The built-in rate table: standard 10 %, reduced 8 %, exempt 0 %, all from 2019-10-01.
std::vector<TaxRate> default_tax_rates();

/// Who issues the statements. Without a registration number a statement is not a qualified
/// invoice, and says so.
struct Issuer {
  std::string name;
  std::string address;
  std::string registration_number;  ///< "T" + 13 digits, or "" when not registered
};

/// Why `text` is not a qualified-invoice registration number ("T" followed by 13 digits), or
/// nullopt when it is one.
std::optional<std::string> registration_number_error(std::string_view text);
/// Whether `text` is a local date "YYYY-MM-DD" that exists.
bool is_valid_date(std::string_view text);

/// The site's tax settings (config [billing]). The defaults are those of a Japanese public
/// facility that is not (yet) registered: inclusive prices, floor rounding, the built-in table.
struct TaxPolicy {
  PriceMode prices{PriceMode::kInclusive};
  TaxRounding rounding{TaxRounding::kFloor};
  /// Sorted by class, then from; the built-in rows unless the config replaced or added some.
  std::vector<TaxRate> rates{default_tax_rates()};
  Issuer issuer;
  /// The class of machine and coworking time.
  TaxClass time_class{TaxClass::kStandard};

  /// The percent of `c` in force on local date `date` ("YYYY-MM-DD"); nullopt when the table has
  /// no row for it on or before that date.
  std::optional<std::int64_t> percent_on(TaxClass c, std::string_view date) const;
};

/// Merges `overrides` into the built-in table: a row with the class and date of a built-in row
/// replaces it, any other is added. Returns the table sorted by class then date.
std::vector<TaxRate> merge_tax_rates(const std::vector<TaxRate>& overrides);

/// The tax in `amount` yen (inclusive: amount * r / (100 + r); exclusive: amount * r / 100),
/// rounded once as `rounding` says. Exact for every int64 amount and 0 <= percent <= 100.
std::int64_t tax_of(std::int64_t amount, std::int64_t percent, PriceMode prices,
                    TaxRounding rounding);

}  // namespace labgate::gateway::billing
