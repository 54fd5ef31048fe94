// The reads of the decision path: one indexed prepared statement each.
#include "labgate/gateway/store/tap_reads.hpp"

#include <fmt/format.h>

#include <string>

#include "rows.hpp"

namespace labgate::gateway::store {

using namespace rows;  // NOLINT: shared private helpers

Result<std::optional<CredentialMatch>> TapReads::find_credential(
    std::string_view technology, std::span<const std::uint8_t> identifier) {
  auto hash = context_->credential_hash(technology, identifier);
  if (!hash) return hash.error();
  static const std::string kSql = fmt::format(
      "SELECT {}, {}, {} FROM credentials c JOIN members m ON m.id = c.member_id "
      "LEFT JOIN plans p ON p.id = m.plan_id WHERE c.id_hash = ?1",
      kCredentialCols, kMemberCols, kPlanCols);
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, std::span<const std::uint8_t>(*hash));
  return first<CredentialMatch>(*stmt, [](const Statement& s) {
    CredentialMatch m;
    m.credential = read_credential(s, 0);
    m.member = read_member(s, kCredentialColCount);
    constexpr int kPlanAt = kCredentialColCount + kMemberColCount;
    if (!s.is_null(kPlanAt)) m.plan = read_plan(s, kPlanAt);
    return m;
  });
}

Result<std::optional<Certification>> TapReads::valid_certification(std::int64_t member_id,
                                                                   std::string_view type_code,
                                                                   std::string_view date) {
  static const std::string kSql = std::string(kCertSelect) +
                                  "WHERE ce.member_id = ?1 AND ce.type_code = ?2 "
                                  "AND ce.revoked_at IS NULL AND ce.granted_on <= ?3 "
                                  "AND (ce.expires_on IS NULL OR ce.expires_on >= ?3) "
                                  "ORDER BY ce.expires_on IS NULL DESC, ce.expires_on DESC LIMIT 1";
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, member_id).bind(2, type_code).bind(3, date);
  return first<Certification>(*stmt, read_cert);
}

Result<std::optional<Machine>> TapReads::machine(std::string_view machine_id) {
  static const std::string kSql = std::string(kMachineSelect) + "WHERE mc.id = ?1";
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, machine_id);
  return first<Machine>(*stmt, read_machine);
}

Result<std::optional<Member>> TapReads::member_by_no(std::string_view member_no) {
  static const std::string kSql =
      fmt::format("SELECT {} FROM members m WHERE m.member_no = ?1", kMemberCols);
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, member_no);
  return first<Member>(*stmt, read_member);
}

Result<std::int64_t> TapReads::member_id(std::string_view member_no) {
  auto m = member_by_no(member_no);
  if (!m) return m.error();
  if (!*m) return not_found(fmt::format("unknown member '{}'", member_no));
  return (*m)->id;
}

Result<bool> TapReads::booking_admits(std::string_view room_id, std::int64_t member_id,
                                      std::int64_t at_ms, std::int64_t early_ms) {
  // The partial index bookings_room_live, ranged on start_ms: a booking that admits now
  // started at most kMaxBookingMs before it.
  static const std::string kSql =
      "SELECT 1 FROM bookings b WHERE b.room_id = ?1 AND b.state IN ('booked', 'held') "
      "AND b.start_ms <= ?3 + ?4 AND b.start_ms > ?3 + ?4 - ?5 AND b.end_ms > ?3 "
      "AND (b.member_id = ?2 OR EXISTS (SELECT 1 FROM booking_guests g "
      "WHERE g.booking_id = b.id AND g.member_id = ?2)) LIMIT 1";
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, room_id).bind(2, member_id).bind(3, at_ms).bind(4, early_ms);
  stmt->bind(5, kMaxBookingMs + early_ms);
  auto row = first<bool>(*stmt, [](const Statement&) { return true; });
  if (!row) return row.error();
  return row->has_value();
}

Result<bool> TapReads::loan_admits(std::string_view locker_id, std::int64_t member_id,
                                   std::string_view date) {
  static const std::string kSql =
      "SELECT 1 FROM locker_loans WHERE locker_id = ?1 AND returned_at_ms IS NULL "
      "AND member_id = ?2 AND from_date <= ?3 AND until_date >= ?3";
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, locker_id).bind(2, member_id).bind(3, date);
  auto row = first<bool>(*stmt, [](const Statement&) { return true; });
  if (!row) return row.error();
  return row->has_value();
}

}  // namespace labgate::gateway::store
