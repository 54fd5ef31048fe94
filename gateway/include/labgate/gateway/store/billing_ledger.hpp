#pragma once
// The billing ledger: rates, accounts and their entries, the price list, sales, reviews of long
// sessions. Each write is one transaction with its audit row; the rules that keep an issued
// statement unchanged are enforced here, at write time.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/gateway/store/context.hpp"
#include "labgate/gateway/store/records.hpp"

namespace labgate::gateway::store {

class TapReads;
struct PackedBody;

/// One plan's terms in a NewRate.
struct NewRatePlanTerm {
  std::string plan_code;
  std::int64_t discount_percent{0};  ///< 0..100
  std::int64_t included_minutes{0};  ///< per local calendar month per target
};

/// Input of BillingLedger::set_rate. Money in integer yen, durations in seconds.
struct NewRate {
  SessionKind kind{SessionKind::kMachine};
  std::optional<std::string> machine_id;          ///< required for kMachine, absent for coworking
  std::optional<std::int64_t> effective_from_ms;  ///< default: now; never in the past
  std::int64_t unit_seconds{0};
  std::int64_t price_per_unit{0};
  std::optional<std::int64_t> idle_price_per_unit;  ///< machines with a busy input only
  std::int64_t minimum_charge{0};
  std::int64_t grace_seconds{0};  ///< < 24 h
  std::optional<std::int64_t> daily_cap;
  std::vector<NewRatePlanTerm> plan_terms;
  std::string note;
};

/// Input of BillingLedger::amend_rate and replace_rate: each term left absent is taken from the
/// rate it amends (idle price and daily cap: an inner nullopt removes them). Plan terms are
/// merged by plan: a given plan's terms replace that plan's, `drop_plans` removes plans, the
/// other plans keep their terms.
struct RateAmendment {
  SessionKind kind{SessionKind::kMachine};        ///< amend_rate: the target
  std::optional<std::string> machine_id;          ///< amend_rate: required for kMachine
  std::optional<std::int64_t> effective_from_ms;  ///< default: now (replace: the rate's start)
  std::optional<std::int64_t> unit_seconds;
  std::optional<std::int64_t> price_per_unit;
  std::optional<std::optional<std::int64_t>> idle_price_per_unit;
  std::optional<std::int64_t> minimum_charge;
  std::optional<std::int64_t> grace_seconds;
  std::optional<std::optional<std::int64_t>> daily_cap;
  std::vector<NewRatePlanTerm> plan_terms;
  std::vector<std::string> drop_plans;
  std::optional<std::string> note;
};

/// What a rate amendment changed: the rate it started from (none when the target had no rate)
/// and the complete new rate, plan terms included.
struct RateChange {
  std::optional<Rate> before;
  Rate after;
};

/// An issued statement a rate change would alter.
struct IssuedStatementRef {
  std::string member_no;
  std::string month;
};

/// Input of BillingLedger::upsert_price_item.
struct NewPriceItem {
  std::string code;
  std::string name;
  std::string unit{"pcs"};
  std::int64_t price{0};
  bool day_pass{false};
  /// "standard", "reduced" or "exempt"; absent: the item's class so far (standard when new).
  std::optional<std::string> tax_class;
};

/// A member as a statement names it.
struct BillingMember {
  std::int64_t id{0};
  std::string member_no;
  std::string name;
  std::optional<std::int64_t> plan_id;
  std::string plan_code;  ///< "" without a plan
};

/// One plan's terms of a rate, by plan id (what the statement engine resolves).
struct RatePlanTermRow {
  std::int64_t rate_id{0};
  std::int64_t plan_id{0};
  std::int64_t discount_percent{0};
  std::int64_t included_minutes{0};
};

/// A session as a statement bills it.
struct UsageSession {
  std::int64_t id{0};
  std::int64_t member_id{0};
  SessionKind kind{SessionKind::kMachine};
  std::optional<std::string> machine_id;
  std::int64_t started_at_ms{0};
  std::optional<std::int64_t> ended_at_ms;
  std::optional<std::int64_t> busy_seconds;
  std::optional<std::int64_t> rate_id;
};

/// A sale as a statement bills it, with its item's name and day-pass flag.
struct UsageSale {
  std::int64_t id{0};
  std::int64_t member_id{0};
  std::string item_code;
  std::string item_name;  ///< the code when the item is gone from the price list
  std::int64_t quantity{0};
  std::int64_t unit_price{0};
  std::int64_t at_ms{0};
  bool day_pass{false};
  std::string tax_class{"standard"};  ///< the item's class when it was sold
};

/// An issued statement as listed.
struct IssuedStatementRow {
  std::int64_t id{0};
  std::string member_no;
  std::string name;
  std::string month;
  std::int64_t issued_at_ms{0};
  std::string issued_by;
  std::int64_t total{0};
  std::string sha256;
};

/// A statement to record at issue.
struct NewStatement {
  std::int64_t member_id{0};
  std::string member_no;
  std::string month;
  std::int64_t issued_at_ms{0};
  Actor issued_by;
  std::int64_t total{0};
  std::string sha256;  ///< of its body, stored before with put_statement_body
};

/// Billing data kept by staff. Obtained from Store::ledger().
class BillingLedger : public Repository {
 public:
  /// A view over `context`; member and machine look-ups go through `reads`.
  BillingLedger(const StoreContext& context, TapReads& reads)
      : Repository(context), reads_(&reads) {}

  /// Adds an effective-dated rate and ends the open-ended rate of the same target at its start,
  /// audited as rate_set. kInvalid: contradictory terms, the list of docs/BILLING.md (unit <= 0,
  /// a negative amount, minimum > daily cap, grace >= 24 h, discount outside 0..100, an idle
  /// price above the price, on coworking or on a machine without a busy input). kNotFound:
  /// unknown machine or plan. kConflict: reaches into an issued statement (named), starts in the
  /// past, or a rate of the target already starts at or after it.
  Result<Rate> set_rate(const NewRate& rate, const Actor& actor);
  /// `rates set`: a new rate from `effective_from_ms` (default now) whose absent terms are those
  /// of the rate in force then, plan terms included; audited as rate_set with both. kInvalid when
  /// the target has no rate and unit or price is missing; otherwise set_rate's checks.
  Result<RateChange> amend_rate(const RateAmendment& amendment, const Actor& actor);
  /// Replaces rate `rate_id`, which must not have started yet, by a rate with its terms amended
  /// (same id; its start may move between its neighbours'). Audited as rate_replace.
  /// kConflict: it has started, the new start is in the past or out of order, or either span
  /// reaches into an issued statement (the message names them); else set_rate's checks.
  Result<RateChange> replace_rate(std::int64_t rate_id, const RateAmendment& amendment,
                                  const Actor& actor);
  /// Withdraws rate `rate_id`, which must not have started yet: the rate before it stays in
  /// force instead. Audited as rate_withdraw. kConflict as for replace_rate. Returns the rate
  /// withdrawn.
  Result<Rate> withdraw_rate(std::int64_t rate_id, const Actor& actor);
  /// Issued statements a rate for `target` over [from_ms, until_ms) would change: those of
  /// members with a session on the target starting in that span in the statement's month.
  Result<std::vector<IssuedStatementRef>> statements_reached(SessionKind kind,
                                                             std::optional<std::string> machine_id,
                                                             std::int64_t from_ms,
                                                             std::optional<std::int64_t> until_ms);
  /// Rates by target then start, with plan terms. `target` is a machine id or "coworking";
  /// without include_history only rates still in force or starting later.
  Result<std::vector<Rate>> list_rates(std::optional<std::string> target = std::nullopt,
                                       bool include_history = false);
  /// One rate with its plan terms.
  Result<std::optional<Rate>> rate(std::int64_t rate_id);
  /// The rate in force for a target at `at_ms` (tap path: one indexed prepared statement; the
  /// plan terms are not loaded). machine_id must be given for kMachine and absent for coworking.
  Result<std::optional<Rate>> current_rate(SessionKind kind,
                                           std::optional<std::string_view> machine_id,
                                           std::int64_t at_ms);

  /// Sets a member's credit limit (>= 0 yen), creating the account row.
  Result<Account> set_credit_limit(std::string_view member_no, std::int64_t yen,
                                   const Actor& actor);
  /// Adds a top-up (yen > 0) to the member's balance.
  Result<AccountEntry> topup(std::string_view member_no, std::int64_t yen, std::string_view note,
                             const Actor& actor);
  /// Adds a signed correction (yen != 0) with its reason.
  Result<AccountEntry> adjust(std::string_view member_no, std::int64_t yen, std::string_view reason,
                              const Actor& actor);
  /// Balance, credit limit and every entry of a member's account.
  Result<Account> account(std::string_view member_no);
  /// Balance and credit limit by member id (tap path: one prepared statement).
  Result<AccountStanding> account_standing(std::int64_t member_id);

  /// Adds or changes a price-list item (and reactivates it). Past sales keep their price.
  Result<PriceItem> upsert_price_item(const NewPriceItem& item, const Actor& actor);
  /// Takes an item off sale. kConflict when already inactive.
  Result<PriceItem> deactivate_price_item(std::string_view code, const Actor& actor);
  /// The price list by code.
  Result<std::vector<PriceItem>> list_price_items(bool include_inactive = true);
  /// Sells `quantity` (> 0) of an active item at its current price, at `at_ms` (default now).
  /// kConflict when the item is inactive or that month's statement of the member is issued.
  Result<Sale> sell(std::string_view member_no, std::string_view item_code, std::int64_t quantity,
                    std::string_view note, const Actor& actor,
                    std::optional<std::int64_t> at_ms = std::nullopt);
  /// Sales by time, optionally of one member, with at_ms in [from_ms, to_ms).
  Result<std::vector<Sale>> list_sales(std::optional<std::string> member_no = std::nullopt,
                                       std::optional<std::int64_t> from_ms = std::nullopt,
                                       std::optional<std::int64_t> to_ms = std::nullopt);

  /// Closed sessions longer than 24 h (floor of whole seconds > 86400) with no review, by start.
  Result<std::vector<Session>> list_held_sessions();
  /// Decides what a held session bills: billed_seconds in 0 (waive) .. its real length.
  /// kConflict when the session is open, not over 24 h, already reviewed, or its month's
  /// statement of the member is issued.
  Result<SessionReview> review_session(std::int64_t session_id, std::int64_t billed_seconds,
                                       std::string_view note, const Actor& reviewer);
  /// The review of a session, if any.
  Result<std::optional<SessionReview>> session_review(std::int64_t session_id);

  // ---- statement data: static, on a given connection, because billing reads one month on two
  // connections at once (two threads) and issues inside its own transaction ----

  /// Every rate (plan terms not loaded), by effective_from then id.
  static Result<std::vector<Rate>> all_rates(Database& db);
  /// Every plan term of every rate.
  static Result<std::vector<RatePlanTermRow>> all_plan_terms(Database& db);
  /// Sessions starting in [begin_ms, end_ms), of one member when given, by start then id.
  static Status scan_usage_sessions(Database& db, std::int64_t begin_ms, std::int64_t end_ms,
                                    std::optional<std::int64_t> member_id,
                                    const std::function<void(UsageSession&&)>& sink);
  /// Reviews of the sessions starting in [begin_ms, end_ms), of one member when given.
  static Status scan_usage_reviews(Database& db, std::int64_t begin_ms, std::int64_t end_ms,
                                   std::optional<std::int64_t> member_id,
                                   const std::function<void(SessionReview&&)>& sink);
  /// Sales in [begin_ms, end_ms), of one member when given, by time then id.
  static Status scan_usage_sales(Database& db, std::int64_t begin_ms, std::int64_t end_ms,
                                 std::optional<std::int64_t> member_id,
                                 const std::function<void(UsageSale&&)>& sink);
  /// A member with plan code, by number.
  static Result<std::optional<BillingMember>> billing_member(Database& db,
                                                             std::string_view member_no);
  /// A member with plan code, by id.
  static Result<std::optional<BillingMember>> billing_member(Database& db, std::int64_t member_id);
  /// Every member with plan code.
  static Status scan_billing_members(Database& db,
                                     const std::function<void(BillingMember&&)>& sink);
  /// Everything billing reads for the month [begin_ms, end_ms) besides the sessions themselves, as
  /// one string: rates and their plan terms, plans, the price list, members, reviews and the
  /// month's sales, plus the count of the month's sessions with an id above `max_session_id`.
  /// Issuing bills outside the write lock and compares two of these (one read with the billing,
  /// one under the lock): equal strings mean the bill still holds. Sessions themselves are left
  /// out on purpose: a closed session never changes, and an open one keeps its member from being
  /// issued anyway; only new sessions in the month could change a bill, and they are counted.
  static Result<std::string> month_inputs_digest(Database& db, std::int64_t begin_ms,
                                                 std::int64_t end_ms, std::int64_t max_session_id);
  /// The highest session id (0 without sessions).
  static Result<std::int64_t> max_session_id(Database& db);
  /// Ids of the members with a statement issued for `month`.
  static Result<std::vector<std::int64_t>> members_with_statement(Database& db,
                                                                  std::string_view month);
  /// Months ("YYYY-MM") with a statement issued for the member.
  static Result<std::vector<std::string>> issued_months(Database& db, std::int64_t member_id);
  /// The member's first session start or sale, whichever is earlier.
  static Result<std::optional<std::int64_t>> first_usage_ms(Database& db, std::int64_t member_id);
  /// Stores a packed statement body (BodyPacker) under its sha256 unless one is stored there
  /// already; `db` must be inside a transaction. True when it wrote the body.
  static Result<bool> put_statement_body(Database& db, const PackedBody& body);
  /// Drops the body stored under `sha256` unless a statement refers to it (one written by an
  /// issue that then failed); `db` must be inside a transaction. True when it dropped one.
  static Result<bool> drop_unreferenced_body(Database& db, std::string_view sha256);
  /// Writes an issued statement, its account entry (-total) and its audit row
  /// (statement_issue); `db` must be inside a transaction, and the body must be stored already
  /// (put_statement_body), else kConflict. Returns the statement id.
  static Result<std::int64_t> record_statement(Database& db, const NewStatement& statement);
  /// Issued statements (of one month when given), by month then member_no.
  static Result<std::vector<IssuedStatementRow>> list_statements(
      Database& db, const std::optional<std::string>& month);
  /// The body (the JSON) of a member's issued statement of `month`, if issued; kUnavailable when
  /// the stored bytes do not give back the JSON the statement's sha256 names.
  static Result<std::optional<std::string>> statement_body(Database& db, std::string_view member_no,
                                                           std::string_view month);

 private:
  // A top-up or adjustment: one account entry, audited as `action` with its reference under
  // `reference_key`.
  Result<AccountEntry> add_entry(std::string_view member_no, std::int64_t yen,
                                 std::string_view kind, std::string_view reference,
                                 std::string_view reference_key, std::string_view action,
                                 const Actor& actor);

  // set_rate inside the caller's transaction, audited as `action` with `before`; for
  // rate_replace, `before` is the rate removed for it (same id; its span is checked too).
  Result<Rate> write_rate(const NewRate& rate, const Actor& actor, std::string_view action,
                          const std::optional<Rate>& before);
  // Refuses a change over [from_ms, until_ms) of a target that would alter issued statements
  // (naming them), then one starting before `now`. `what` names the change in the message.
  Status check_reach(SessionKind kind, const std::optional<std::string>& machine_id,
                     std::int64_t from_ms, std::optional<std::int64_t> until_ms,
                     const std::string& what, std::int64_t now);
  // Deletes a rate that has not started and gives its span back to the rate before it.
  Status remove_future_rate(const Rate& rate);
  // The rate `rate_id` with plan terms, kNotFound when absent, kConflict when it has started.
  Result<Rate> future_rate(std::int64_t rate_id, std::string_view verb);

  TapReads* reads_;
};

}  // namespace labgate::gateway::store
