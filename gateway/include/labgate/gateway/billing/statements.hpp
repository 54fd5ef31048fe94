#pragma once
// The database side of billing: loading member-months for the engine (one ordered query over the
// month for all members, or one indexed query for one member), issuing statements, listing them,
// and the unbilled total the daemon checks at tap time. Every row is read and written through the
// store's billing ledger (store::BillingLedger's statement data); this module holds no SQL.
// Errors come back as store::Result values, never as exceptions.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/gateway/billing/engine.hpp"
#include "labgate/gateway/store/database.hpp"
#include "labgate/gateway/store/result.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::billing {

namespace st = labgate::gateway::store;

/// A local calendar month as an instant range [begin_ms, end_ms).
struct MonthRange {
  std::string month;  ///< "YYYY-MM"
  std::int64_t begin_ms{0};
  std::int64_t end_ms{0};
};

/// The zone named `name` from the OS tz database; kInvalid when unknown.
st::Result<const date::time_zone*> find_zone(std::string_view name);
/// Parses "YYYY-MM" (kInvalid otherwise) into its range in `tz`.
st::Result<MonthRange> month_range(std::string_view month, const date::time_zone* tz);
/// The local month ("YYYY-MM") of an instant in `tz`.
std::string month_of(std::int64_t ms, const date::time_zone* tz);

/// The engine input of one member-month. kNotFound for an unknown member; a month without usage
/// gives an input without sessions or sales (its statement says "no usage in YYYY-MM").
st::Result<StatementInput> load_member_month(st::Database& db, std::string_view member_no,
                                             const MonthRange& month);
/// Calls `sink` once per member with any session or sale starting in the month, in member_no
/// order, after one ordered pass over the month's sessions on `db` (the calling thread reads;
/// two threads of its own build the members' inputs meanwhile). Returns the number of members.
st::Result<std::size_t> load_month(st::Database& db, const MonthRange& month,
                                   const std::function<void(StatementInput&&)>& sink);

/// The statement of one member-month (load + bill).
/// `tax` is the site's [billing] tax settings (config); the default is the built-in one.
st::Result<Statement> member_statement(st::Database& db, std::string_view member_no,
                                       std::string_view month, const date::time_zone* tz,
                                       const TaxPolicy& tax = TaxPolicy{});
/// The statements of every member with usage in the month, in member_no order. kNotFound with
/// "no usage in YYYY-MM" when nobody used anything.
st::Result<std::vector<Statement>> month_statements(st::Database& db, std::string_view month,
                                                    const date::time_zone* tz,
                                                    const TaxPolicy& tax = TaxPolicy{});

/// Where a member's statement of a month stands.
enum class StatementState {
  kProvisional,  ///< the month is still running: the statement may still change
  kUnissued,     ///< the month has ended; nobody issued the statement yet
  kIssued,       ///< frozen: issued_at/by and the sha256 of its body
};

/// A statement with where it stands (statements show).
struct StatementView {
  Statement statement;
  StatementState state{StatementState::kProvisional};
  std::optional<st::IssuedStatementRow> issued;  ///< when kIssued
  /// "issued on 2026-12-02 10:15:00 by Ren Ito (sha256 9f2c...)", "provisional: the month is
  /// still running", or "not issued yet: the month has ended".
  std::string standing;
};

/// kInvalid when `month` has not started yet at `now_ms` (a mistyped year): a future month has
/// no statement, not a zero one.
st::Status require_started(const MonthRange& month, std::int64_t now_ms, const date::time_zone* tz);

/// The statement of one member-month with where it stands at `now_ms`. kInvalid for a future
/// month, kNotFound for an unknown member.
st::Result<StatementView> view_statement(st::Database& db, std::string_view member_no,
                                         std::string_view month, std::int64_t now_ms,
                                         const date::time_zone* tz,
                                         const TaxPolicy& tax = TaxPolicy{});

/// What a caller confirmed before issuing: the number of statements and their sum.
struct IssueExpectation {
  std::int64_t members{0};
  std::int64_t total{0};
};
/// What to issue: a month, one member or all members with usage, who issues it and when.
struct IssueRequest {
  std::string month;
  std::optional<std::string> member_no;
  st::Actor actor;  ///< who issues: a declared account is checked as for any change
  std::int64_t now_ms{0};
  /// All or nothing: refuse (kConflict, nothing written) when any member would be refused,
  /// instead of issuing the others (the console's "issue this month").
  bool whole_month{false};
  /// When set, refuse (kConflict, nothing written) unless exactly this many statements with
  /// this sum would be issued now: what a confirmation page showed is what gets issued, without
  /// billing the month again to check it.
  std::optional<IssueExpectation> expected{};
  /// The statement bodies are written before the final transaction, in transactions of about
  /// this many stored (compressed) bytes each, so that the write lock is never held for all of
  /// them at once.
  std::size_t body_batch_bytes{2u << 20};
  /// Called after each of those transactions has committed, before the next one begins (tests
  /// use it to show that other writers get the lock in between).
  std::function<void()> after_body_batch{};
};
/// Where an issue's time went, in ms (logged by labgated).
struct IssueTiming {
  std::int64_t bill_ms{0};           ///< reading, billing, rendering and storing the bodies
  std::int64_t load_ms{0};           ///< of bill_ms: reading the month on the snapshot
  std::int64_t load_cpu_ms{0};       ///< CPU time of that reading
  std::int64_t engine_ms{0};         ///< billing the members, summed over the threads
  std::int64_t render_ms{0};         ///< the JSON bodies, summed over the threads
  std::int64_t pack_ms{0};           ///< their sha256 and compression, summed over the threads
  std::int64_t json_mb{0};           ///< size of the JSON bodies, MiB
  std::int64_t workers_cpu_ms{0};    ///< CPU time of the billing threads (engine to pack)
  std::int64_t stored_mb{0};         ///< size of the compressed bodies written, MiB
  std::int64_t bodies_ms{0};         ///< writing them, in short transactions while billing goes on
  std::int64_t checkpoint_ms{0};     ///< copying them from the log into the file, before the lock
  int body_batches{0};               ///< how many such transactions
  std::int64_t body_lock_max_ms{0};  ///< the longest any of them held the write lock
  std::int64_t wait_ms{0};           ///< waiting for the write lock of the final transaction
  std::int64_t locked_ms{0};         ///< holding it: the re-check and the writes, up to the commit
  std::int64_t check_ms{0};          ///< of locked_ms: checking the inputs are unchanged
  std::int64_t commit_ms{0};         ///< of locked_ms: sealing the audit rows and committing
  int passes{1};  ///< billings made (more than one when the data changed meanwhile)
};
/// One statement written by issue_statements.
struct IssuedStatement {
  std::int64_t statement_id{0};
  std::string member_no;
  std::int64_t total{0};
  std::string sha256;  ///< hex of the body
};
/// A member issue_statements left alone, and why.
struct IssueRefusal {
  std::string member_no;
  std::string reason;
};
/// Outcome of issue_statements: every member falls in exactly one list.
struct IssueReport {
  std::vector<IssuedStatement> issued;
  std::vector<std::string> already_issued;  ///< member_no, issued by an earlier run
  std::vector<std::string> no_usage;        ///< member_no, nothing to bill in the month
  std::vector<IssueRefusal> refused;        ///< open or held sessions, a vanished member
  IssueTiming timing;                       ///< where the time went
  /// True when every member that could be issued was: nobody was refused.
  bool complete() const { return refused.empty(); }
};

/// Freezes a month: per member a statements row (total, sha256 of the body = to_json), an
/// account_entries row (kind statement, amount -total, reference the month) and an audit row
/// (action statement_issue), all in one transaction. The month is billed on a read snapshot
/// first; the bodies are then stored in short transactions of their own (statement_bodies, by
/// sha256); the final transaction only checks that the inputs are unchanged (else bills again, at
/// most three times, then kConflict) and writes the small rows, so the write lock is held
/// briefly. Bodies this run stored that no statement refers to at the end (a refusal, a failure,
/// an earlier pass) are dropped again before it returns. Refusals: the
/// month has not ended (error kConflict), no usage in the month (kNotFound). For one member, a
/// refusal (already issued, open or held sessions) is an error (kConflict) and nothing is written;
/// for all members, every member is reported as issued, already issued, without usage or refused
/// (with the reason), and the issuable ones are issued.
st::Result<IssueReport> issue_statements(st::Database& db, const IssueRequest& request,
                                         const date::time_zone* tz,
                                         const TaxPolicy& tax = TaxPolicy{});

/// A row of the statements table, as the billing ledger reads it.
using IssuedRow = st::IssuedStatementRow;
/// Issued statements (of one month when given), by month then member_no.
st::Result<std::vector<IssuedRow>> list_statements(st::Database& db,
                                                   const std::optional<std::string>& month);
/// The body of an issued statement (its JSON, as to_json rendered it), if any.
st::Result<std::optional<std::string>> issued_body(st::Database& db, std::string_view member_no,
                                                   std::string_view month);

/// What the member owes for closed sessions and sales in months with no issued statement for
/// them, up to the month of `now_ms`: the engine's totals with tax as `tax` says (held and open
/// sessions count 0). One
/// member, indexed queries only: meant for the tap path.
st::Result<std::int64_t> unbilled_total(st::Database& db, std::int64_t member_id,
                                        std::int64_t now_ms, const date::time_zone* tz,
                                        const TaxPolicy& tax = TaxPolicy{});

/// Lowercase hex SHA-256, the store's (statement digests).
using st::sha256_hex;

}  // namespace labgate::gateway::billing
