#include "labgate/gateway/billing/tax.hpp"

#include <algorithm>
#include <tuple>

namespace labgate::gateway::billing {

const char* to_string(TaxClass c) {
  switch (c) {
    case TaxClass::kReduced:
      return "reduced";
    case TaxClass::kExempt:
      return "exempt";
    case TaxClass::kStandard:
      break;
  }
  return "standard";
}

std::optional<TaxClass> parse_tax_class(std::string_view text) {
  if (text == "standard") return TaxClass::kStandard;
  if (text == "reduced") return TaxClass::kReduced;
  if (text == "exempt") return TaxClass::kExempt;
  return std::nullopt;
}

const char* to_string(PriceMode m) {
  return m == PriceMode::kExclusive ? "exclusive" : "inclusive";
}

std::optional<PriceMode> parse_price_mode(std::string_view text) {
  if (text == "inclusive") return PriceMode::kInclusive;
  if (text == "exclusive") return PriceMode::kExclusive;
  return std::nullopt;
}

const char* to_string(TaxRounding r) {
  switch (r) {
    case TaxRounding::kRound:
      return "round";
    case TaxRounding::kCeil:
      return "ceil";
    case TaxRounding::kFloor:
      break;
  }
  return "floor";
}

std::optional<TaxRounding> parse_tax_rounding(std::string_view text) {
  if (text == "floor") return TaxRounding::kFloor;
  if (text == "round") return TaxRounding::kRound;
  if (text == "ceil") return TaxRounding::kCeil;
  return std::nullopt;
}

std::vector<TaxRate> default_tax_rates() {
  // The rates since the reduced rate was introduced; earlier months predate labgate.
  return {{TaxClass::kStandard, 10, "2019-10-01"},
          {TaxClass::kReduced, 8, "2019-10-01"},
          {TaxClass::kExempt, 0, "2019-10-01"}};
}

std::optional<std::string> registration_number_error(std::string_view text) {
  if (text.empty()) return "is empty (leave the key out when the site is not registered)";
  if (text.front() != 'T') return "must start with a capital T";
  if (text.size() != 14) {
    return "must be T followed by 13 digits (got " + std::to_string(text.size() - 1) +
           " characters after the T)";
  }
  for (const char c : text.substr(1)) {
    if (c < '0' || c > '9') return "must be T followed by 13 digits (found a non-digit)";
  }
  return std::nullopt;
}

bool is_valid_date(std::string_view t) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-') return false;
  auto digits = [&](std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return -1;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  const int y = digits(0, 4), m = digits(5, 2), d = digits(8, 2);
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + ((m == 2 && leap) ? 1 : 0);
}

std::optional<std::int64_t> TaxPolicy::percent_on(TaxClass c, std::string_view date) const {
  std::optional<std::int64_t> out;
  std::string_view best;
  // ISO dates compare as text; the table is a handful of rows, so a scan beats an index.
  for (const auto& r : rates) {
    if (r.tax_class != c || r.from > date) continue;
    if (!out || r.from >= best) out = r.percent, best = r.from;
  }
  return out;
}

std::vector<TaxRate> merge_tax_rates(const std::vector<TaxRate>& overrides) {
  std::vector<TaxRate> out = default_tax_rates();
  for (const auto& o : overrides) {
    auto same = std::find_if(out.begin(), out.end(), [&](const TaxRate& r) {
      return r.tax_class == o.tax_class && r.from == o.from;
    });
    if (same != out.end()) {
      same->percent = o.percent;
    } else {
      out.push_back(o);
    }
  }
  std::sort(out.begin(), out.end(), [](const TaxRate& a, const TaxRate& b) {
    return std::tie(a.tax_class, a.from) < std::tie(b.tax_class, b.from);
  });
  return out;
}

std::int64_t tax_of(std::int64_t amount, std::int64_t percent, PriceMode prices,
                    TaxRounding rounding) {
  if (percent <= 0) return 0;
  const std::int64_t den = prices == PriceMode::kInclusive ? 100 + percent : 100;
  // amount = q * den + m splits off the whole part: q * percent is exact, and m * percent (m <
  // den <= 1100) cannot overflow, so no amount overflows and no floating point is needed.
  // Remainder in [0, den): the rounding below is written for a non-negative fraction, whatever
  // the sign of the amount.
  std::int64_t q = amount / den;
  std::int64_t m = amount % den;
  if (m < 0) --q, m += den;
  const std::int64_t num = m * percent;
  std::int64_t frac = num / den;  // num >= 0: this is the floor
  const std::int64_t rest = num % den;
  if (rounding == TaxRounding::kCeil && rest != 0) ++frac;
  if (rounding == TaxRounding::kRound && 2 * rest >= den) ++frac;
  return q * percent + frac;
}

}  // namespace labgate::gateway::billing
