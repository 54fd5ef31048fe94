#pragma once
// Helpers shared by the store's translation units: error constructors, row readers and the
// Result plumbing. Private to gateway/src/store; the one place a record's columns are listed.

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "labgate/gateway/store/database.hpp"
#include "labgate/gateway/store/records.hpp"
#include "labgate/gateway/store/result.hpp"

// Propagates the Error of a Result-returning expression.
#define LABGATE_TRY(expr)            \
  do {                               \
    auto&& labgate_try_r_ = (expr);  \
    if (!labgate_try_r_) {           \
      return labgate_try_r_.error(); \
    }                                \
  } while (false)

namespace labgate::gateway::store::rows {

inline Error invalid(std::string message) {
  return Error{ErrorKind::kInvalid, 0, std::move(message)};
}

inline Error not_found(std::string message) {
  return Error{ErrorKind::kNotFound, 0, std::move(message)};
}

inline Error conflict(std::string message) {
  return Error{ErrorKind::kConflict, 0, std::move(message)};
}

inline Status require_text(std::string_view value, std::string_view what) {
  if (value.empty()) return invalid(fmt::format("{} must not be empty", what));
  return {};
}

// One pattern for every row type: kXCols lists its columns under the table alias the queries
// use, and read_x(s, at) reads them from column `at` on, so a join reads several records from
// one row.

/// Columns of a member (alias m).
inline constexpr std::string_view kMemberCols =
    "m.id, m.member_no, m.name, m.email, m.status, m.plan_id, m.valid_from, m.valid_until, "
    "m.created_at, m.approved_at, m.suspended_reason";
inline constexpr int kMemberColCount = 11;

inline Member read_member(const Statement& s, int c = 0) {
  Member m;
  m.id = s.column_int64(c + 0);
  m.member_no = s.column_text(c + 1);
  m.name = s.column_text(c + 2);
  m.email = s.column_text(c + 3);
  m.status = parse_member_status(s.column_text(c + 4)).value_or(MemberStatus::kPending);
  m.plan_id = s.column_opt_int64(c + 5);
  m.valid_from = s.column_opt_text(c + 6);
  m.valid_until = s.column_opt_text(c + 7);
  m.created_at_ms = s.column_int64(c + 8);
  m.approved_at_ms = s.column_opt_int64(c + 9);
  m.suspended_reason = s.column_opt_text(c + 10);
  return m;
}

/// Columns of a credential (alias c).
inline constexpr std::string_view kCredentialCols =
    "c.id, c.member_id, c.technology, c.id_hash, c.label, c.enrolled_at, c.revoked_at, "
    "c.revoked_reason, c.issued_key_version";
inline constexpr int kCredentialColCount = 9;

inline Credential read_credential(const Statement& s, int c = 0) {
  Credential r;
  r.id = s.column_int64(c + 0);
  r.member_id = s.column_int64(c + 1);
  r.technology = s.column_text(c + 2);
  r.id_hash = s.column_blob(c + 3);
  r.label = s.column_text(c + 4);
  r.enrolled_at_ms = s.column_int64(c + 5);
  r.revoked_at_ms = s.column_opt_int64(c + 6);
  r.revoked_reason = s.column_opt_text(c + 7);
  if (auto v = s.column_opt_int64(c + 8)) r.issued_key_version = static_cast<int>(*v);
  return r;
}

/// Columns of a plan (alias p).
inline constexpr std::string_view kPlanCols =
    "p.id, p.code, p.name, p.windows, p.holidays_allowed, p.closure_allowed";

inline Plan read_plan(const Statement& s, int c = 0) {
  Plan p;
  p.id = s.column_int64(c + 0);
  p.code = s.column_text(c + 1);
  p.name = s.column_text(c + 2);
  p.windows = s.column_text(c + 3);
  p.holidays_allowed = s.column_bool(c + 4);
  p.closure_allowed = s.column_bool(c + 5);
  return p;
}

/// A certification with its member's number and name.
inline constexpr std::string_view kCertSelect =
    "SELECT ce.id, ce.member_id, m.member_no, m.name, ce.type_code, ce.trainer, ce.granted_on, "
    "ce.expires_on, ce.revoked_at, ce.revoked_reason FROM certifications ce "
    "JOIN members m ON m.id = ce.member_id ";

inline Certification read_cert(const Statement& s, int c = 0) {
  Certification r;
  r.id = s.column_int64(c + 0);
  r.member_id = s.column_int64(c + 1);
  r.member_no = s.column_text(c + 2);
  r.member_name = s.column_text(c + 3);
  r.type_code = s.column_text(c + 4);
  r.trainer = s.column_text(c + 5);
  r.granted_on = s.column_text(c + 6);
  r.expires_on = s.column_opt_text(c + 7);
  r.revoked_at_ms = s.column_opt_int64(c + 8);
  r.revoked_reason = s.column_opt_text(c + 9);
  return r;
}

/// A machine with its latest inspection.
inline constexpr std::string_view kMachineSelect =
    "SELECT mc.id, mc.name, mc.certification_type, mc.session_mode, "
    "mc.inspection_interval_days, mc.locked_out, mc.lockout_reason, mc.needs_checkoff, "
    "mc.created_at, i.done_on, i.next_due FROM machines mc "
    "LEFT JOIN inspections i ON i.id = (SELECT i2.id FROM inspections i2 "
    "WHERE i2.machine_id = mc.id ORDER BY i2.done_on DESC, i2.id DESC LIMIT 1) ";

inline Machine read_machine(const Statement& s, int c = 0) {
  Machine m;
  m.id = s.column_text(c + 0);
  m.name = s.column_text(c + 1);
  m.certification_type = s.column_opt_text(c + 2);
  m.session_mode = s.column_text(c + 3);
  m.inspection_interval_days = s.column_int64(c + 4);
  m.locked_out = s.column_bool(c + 5);
  m.lockout_reason = s.column_opt_text(c + 6);
  m.needs_checkoff = s.column_bool(c + 7);
  m.created_at_ms = s.column_int64(c + 8);
  m.last_inspection_on = s.column_opt_text(c + 9);
  m.next_inspection_due = s.column_opt_text(c + 10);
  return m;
}

/// A session with its member's number, then its rate id and busy seconds.
inline constexpr std::string_view kSessionSelect =
    "SELECT s.id, s.uuid, s.member_id, s.machine_id, s.kind, s.started_at_ms, s.ended_at_ms, "
    "s.end_reason, s.measured_seconds, m.member_no, s.rate_id, s.busy_seconds FROM sessions s "
    "JOIN members m ON m.id = s.member_id ";

inline Session read_session(const Statement& s, int c = 0) {
  Session r;
  r.id = s.column_int64(c + 0);
  r.uuid = s.column_text(c + 1);
  r.member_id = s.column_int64(c + 2);
  r.machine_id = s.column_opt_text(c + 3);
  r.kind = s.column_text(c + 4) == "coworking" ? SessionKind::kCoworking : SessionKind::kMachine;
  r.started_at_ms = s.column_int64(c + 5);
  r.ended_at_ms = s.column_opt_int64(c + 6);
  r.end_reason = s.column_opt_text(c + 7);
  r.measured_seconds = s.column_opt_int64(c + 8);
  r.member_no = s.column_opt_text(c + 9);
  r.rate_id = s.column_opt_int64(c + 10);
  r.busy_seconds = s.column_opt_int64(c + 11);
  return r;
}

/// A rate without its plan terms.
inline constexpr std::string_view kRateSelect =
    "SELECT id, kind, machine_id, effective_from_ms, effective_until_ms, unit_seconds, "
    "price_per_unit, idle_price_per_unit, minimum_charge, grace_seconds, daily_cap, note, "
    "created_at_ms, created_by FROM rates ";

inline Rate read_rate(const Statement& s, int c = 0) {
  Rate r;
  r.id = s.column_int64(c + 0);
  r.kind = s.column_text(c + 1) == "coworking" ? SessionKind::kCoworking : SessionKind::kMachine;
  r.machine_id = s.column_opt_text(c + 2);
  r.effective_from_ms = s.column_int64(c + 3);
  r.effective_until_ms = s.column_opt_int64(c + 4);
  r.unit_seconds = s.column_int64(c + 5);
  r.price_per_unit = s.column_int64(c + 6);
  r.idle_price_per_unit = s.column_opt_int64(c + 7);
  r.minimum_charge = s.column_int64(c + 8);
  r.grace_seconds = s.column_int64(c + 9);
  r.daily_cap = s.column_opt_int64(c + 10);
  r.note = s.column_text(c + 11);
  r.created_at_ms = s.column_int64(c + 12);
  r.created_by = s.column_text(c + 13);
  return r;
}

// Reads one row through `read`: a lambda taking the statement, or one of the readers above
// (which start at column 0 when called this way).
template <typename Read>
auto read_row(const Statement& stmt, Read& read) {
  if constexpr (std::is_invocable_v<Read&, const Statement&>) {
    return read(stmt);
  } else {
    return read(stmt, 0);
  }
}

// Calls `on_row(statement)` for each row of a query (scans that stream rows to a caller).
template <typename OnRow>
Status for_each_row(Statement& stmt, OnRow&& on_row) {
  for (;;) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) return {};
    on_row(static_cast<const Statement&>(stmt));
  }
}

// Rows of a query into a vector, through `read`.
template <typename T, typename Read>
Result<std::vector<T>> collect(Statement& stmt, Read read) {
  std::vector<T> out;
  LABGATE_TRY(for_each_row(stmt, [&](const Statement& s) { out.push_back(read_row(s, read)); }));
  return out;
}

// First row of a query through `read`, or nullopt.
template <typename T, typename Read>
Result<std::optional<T>> first(Statement& stmt, Read read) {
  auto row = stmt.step();
  if (!row) return row.error();
  if (!*row) return std::optional<T>{};
  std::optional<T> out{read_row(stmt, read)};
  stmt.reset();
  return out;
}

// Ends an all-or-nothing file write (roster import or update): a dry run rolls `tx` back, else it
// commits and `out.committed` is set.
template <typename R>
Result<R> commit_unless_dry_run(Transaction& tx, bool dry_run, R out) {
  if (dry_run) {
    tx.rollback();
    return out;
  }
  LABGATE_TRY(tx.commit());
  out.committed = true;
  return out;
}

}  // namespace labgate::gateway::store::rows
