#pragma once
// The billing engine: pure functions from a member-month's usage (sessions, sales, the rates they
// fall under) to statement lines and totals. No I/O, no clock, no floating point: money is
// integer yen. The rules are those of docs/BILLING.md, applied in this order per line: held/open,
// merge, grace, day pass, included minutes, units (busy/idle), minimum charge, plan discount,
// daily cap. Consumption tax comes last, once per statement and rate (billing/tax.hpp).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/gateway/billing/tax.hpp"

namespace date {
class time_zone;
}

namespace labgate::gateway::billing {

/// Sessions longer than this are held for staff review unless a review row says what to bill.
inline constexpr std::int64_t kReviewThresholdSeconds = 86400;
/// The target name of coworking time (machines use their machine id).
inline constexpr const char* kCoworkingTarget = "coworking";

/// One rate as it applies to one member: the rate row plus the member's plan terms for it.
struct RateTerms {
  std::int64_t id{0};
  std::int64_t unit_seconds{60};
  std::int64_t price_per_unit{0};
  /// Price per unit while the busy input was off; absent: the whole session at price_per_unit.
  std::optional<std::int64_t> idle_price_per_unit;
  std::int64_t minimum_charge{0};
  std::int64_t grace_seconds{0};
  /// Most a member pays for this target per local day; absent: no cap.
  std::optional<std::int64_t> daily_cap;
  /// Plan discount in percent (0..100) and minutes per month included free (plan terms).
  std::int64_t discount_percent{0};
  std::int64_t included_minutes{0};
};

/// A staff decision about a session longer than 24 h: bill `billed_seconds` (0 waives it).
struct Review {
  std::int64_t billed_seconds{0};
  std::string reviewer;
};

/// One session of the member in the month (coworking or machine time).
struct SessionUsage {
  std::int64_t id{0};
  /// Machine id, or kCoworkingTarget.
  std::string target;
  std::int64_t started_at_ms{0};
  /// Absent while the session is open (open sessions are listed, not billed).
  std::optional<std::int64_t> ended_at_ms;
  /// Seconds the machine's busy input was on; absent where the machine has none.
  std::optional<std::int64_t> busy_seconds;
  /// The rate the session started under; absent: no rate (the line costs 0).
  std::optional<RateTerms> rate;
  std::optional<Review> review;
};

/// One sale (material, pass) of the member in the month; unit_price was copied at sale time.
struct SaleItem {
  std::int64_t id{0};
  std::string item_code;
  std::string item_name;
  std::int64_t quantity{1};
  std::int64_t unit_price{0};
  std::int64_t at_ms{0};
  /// True when the item makes the local day of the sale free for coworking.
  bool day_pass{false};
  /// The item's tax class, copied at sale time.
  TaxClass tax_class{TaxClass::kStandard};
};

/// Everything the engine needs for one member-month. Sessions and sales may come in any order.
struct StatementInput {
  std::string member_no;
  std::string name;
  /// Plan code ("" when the member has none).
  std::string plan;
  /// "YYYY-MM", local.
  std::string month;
  std::vector<SessionUsage> sessions;
  std::vector<SaleItem> sales;
};

/// What a line bills. A day pass is a sale with a line type of its own: it buys time, not
/// material, so it has its own subtotal.
enum class LineType { kMachine, kCoworking, kSale, kDayPass };

/// Stable lowercase name: "machine", "coworking", "sale", "day_pass".
const char* to_string(LineType type);
/// True for the lines of a sale (materials and day passes).
inline bool is_sale(LineType type) {
  return type == LineType::kSale || type == LineType::kDayPass;
}

/// One line of a statement. Session lines may cover several merged sessions.
struct StatementLine {
  LineType type{LineType::kMachine};
  /// Local date of the start, "YYYY-MM-DD".
  std::string date;
  /// Machine id, "coworking", or the sold item's code.
  std::string target;
  std::vector<std::int64_t> session_ids;
  std::optional<std::int64_t> sale_id;
  /// Sold item's name and quantity (sale lines).
  std::string item;
  std::int64_t quantity{0};
  std::optional<std::int64_t> rate_id;
  std::int64_t start_ms{0};
  std::int64_t end_ms{0};
  /// Local ISO-8601 with offset, e.g. "2026-11-24T09:00:00+09:00".
  std::string start;
  std::string end;
  std::int64_t seconds{0};
  std::int64_t included_seconds_used{0};
  std::int64_t billable_seconds{0};
  std::int64_t unit_seconds{0};
  std::int64_t units{0};
  std::int64_t unit_price{0};
  /// Busy/idle split, present only when the rate has an idle price and the session a busy input.
  std::optional<std::int64_t> busy_seconds;
  std::optional<std::int64_t> busy_units;
  std::optional<std::int64_t> idle_units;
  std::optional<std::int64_t> idle_unit_price;
  std::int64_t gross{0};
  bool minimum_applied{false};
  std::int64_t discount{0};
  std::int64_t cap_reduction{0};
  std::int64_t amount{0};
  /// How the amount was reached, e.g. "47m -> 4 x 15m units (rounded up) x 300 = 1200".
  std::string rule;
  /// The line's tax class and the percent in force on its date (0 when the table has none).
  TaxClass tax_class{TaxClass::kStandard};
  std::int64_t tax_percent{0};
};

/// The lines of one tax rate on a statement: their total as priced and the tax, rounded once.
struct TaxSummary {
  std::int64_t percent{0};
  /// The classes billed at this percent, "+"-joined in table order ("standard", "exempt").
  std::string classes;
  /// Sum of the line amounts at this percent, as priced (with tax when prices are inclusive).
  std::int64_t taxable{0};
  /// The tax in (inclusive) or on (exclusive) `taxable`.
  std::int64_t tax{0};
  /// What the member pays for these lines: taxable, plus tax when prices are exclusive.
  std::int64_t total{0};
};

/// A session listed on the statement without being billed (held for review, or still open).
struct ExcludedSession {
  std::int64_t session_id{0};
  std::string target;
  std::string start;
  /// "" while open.
  std::string end;
  std::optional<std::int64_t> seconds;
  std::string explanation;
};

/// A member's statement for one month.
struct Statement {
  std::string member_no;
  std::string name;
  std::string plan;
  std::string month;
  std::string time_zone;
  /// Sorted by start, then session id, then sale id.
  std::vector<StatementLine> lines;
  std::vector<ExcludedSession> held_for_review;
  std::vector<ExcludedSession> open_sessions;
  std::int64_t subtotal_machine{0};
  std::int64_t subtotal_coworking{0};
  std::int64_t subtotal_materials{0};
  std::int64_t subtotal_day_passes{0};
  /// Per tax rate, ascending by percent (one entry per percent with lines).
  std::vector<TaxSummary> taxes;
  PriceMode prices{PriceMode::kInclusive};
  TaxRounding tax_rounding{TaxRounding::kFloor};
  Issuer issuer;
  /// Sum of the line amounts (the subtotals), before tax when prices are exclusive.
  std::int64_t lines_total{0};
  /// Sum of the taxes over the rates.
  std::int64_t tax_total{0};
  /// What the account is charged: lines_total, plus tax_total when prices are exclusive.
  std::int64_t total{0};
  /// "no usage in YYYY-MM" when the month has nothing at all, else "".
  std::string note;
};

/// Bills one member-month in the site time zone `tz` (not owned, must outlive the engine).
/// Not thread-safe (it caches the zone's current offset); use one Engine per thread.
class Engine {
 public:
  /// `tax` gives the rates, the rounding and the issuer printed on every statement.
  explicit Engine(const date::time_zone* tz, TaxPolicy tax = {});
  /// The statement for `input`. Deterministic: the same input gives the same statement.
  Statement bill(const StatementInput& input) const;
  /// Local "YYYY-MM-DD" of an instant.
  std::string local_date(std::int64_t ms) const;
  /// The site's tax settings this engine bills with.
  const TaxPolicy& tax() const { return tax_; }
  /// Local ISO-8601 with offset of an instant (second precision).
  std::string local_iso(std::int64_t ms) const;
  /// Days since 1970-01-01 of the local date of an instant.
  std::int64_t local_day(std::int64_t ms) const;

 private:
  std::int64_t offset_seconds(std::int64_t ms) const;
  void apply_tax(Statement& st) const;
  const date::time_zone* tz_;
  TaxPolicy tax_;
  mutable std::int64_t cache_begin_s_{0};
  mutable std::int64_t cache_end_s_{0};
  mutable std::int64_t cache_offset_s_{0};
};

/// "47m", "1h05m", "30s", "2h00m10s": a duration as people read it on a statement.
std::string format_duration(std::int64_t seconds);

}  // namespace labgate::gateway::billing
