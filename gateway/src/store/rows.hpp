#pragma once
// Helpers shared by the store's translation units: error constructors, row readers and the
// Result plumbing. Private to gateway/src/store.

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>
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

inline Member read_member_at(const Statement& s, int c) {
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

/// A member whose columns start at 0.
inline Member read_member(const Statement& s) {
  return read_member_at(s, 0);
}

inline Credential read_credential_at(const Statement& s, int c) {
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

/// A credential whose columns start at 0.
inline Credential read_credential(const Statement& s) {
  return read_credential_at(s, 0);
}

inline constexpr std::string_view kCertSelect =
    "SELECT ce.id, ce.member_id, m.member_no, m.name, ce.type_code, ce.trainer, ce.granted_on, "
    "ce.expires_on, ce.revoked_at, ce.revoked_reason FROM certifications ce "
    "JOIN members m ON m.id = ce.member_id ";

inline Certification read_cert(const Statement& s) {
  Certification c;
  c.id = s.column_int64(0);
  c.member_id = s.column_int64(1);
  c.member_no = s.column_text(2);
  c.member_name = s.column_text(3);
  c.type_code = s.column_text(4);
  c.trainer = s.column_text(5);
  c.granted_on = s.column_text(6);
  c.expires_on = s.column_opt_text(7);
  c.revoked_at_ms = s.column_opt_int64(8);
  c.revoked_reason = s.column_opt_text(9);
  return c;
}

// Rows of a query into a vector, through `read`.
template <typename T, typename Read>
Result<std::vector<T>> collect(Statement& stmt, Read read) {
  std::vector<T> out;
  for (;;) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(read(stmt));
  }
}

// First row of a query through `read`, or nullopt.
template <typename T, typename Read>
Result<std::optional<T>> first(Statement& stmt, Read read) {
  auto row = stmt.step();
  if (!row) return row.error();
  if (!*row) return std::optional<T>{};
  std::optional<T> out{read(stmt)};
  stmt.reset();
  return out;
}

/// A session row as selected by the store's session queries (member_no last).
inline Session read_session(const Statement& s) {
  Session r;
  r.id = s.column_int64(0);
  r.uuid = s.column_text(1);
  r.member_id = s.column_int64(2);
  r.machine_id = s.column_opt_text(3);
  r.kind = s.column_text(4) == "coworking" ? SessionKind::kCoworking : SessionKind::kMachine;
  r.started_at_ms = s.column_int64(5);
  r.ended_at_ms = s.column_opt_int64(6);
  r.end_reason = s.column_opt_text(7);
  r.measured_seconds = s.column_opt_int64(8);
  r.member_no = s.column_opt_text(9);
  return r;
}

}  // namespace labgate::gateway::store::rows
