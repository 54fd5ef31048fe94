// The billing ledger's statement data: what billing reads to bill a month (rates, usage, members)
// and what issuing a statement writes. Static calls on a given connection: billing reads one month
// on two connections from two threads, and issues inside its own transaction.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <span>

#include "labgate/gateway/store/audit_log.hpp"
#include "labgate/gateway/store/billing_ledger.hpp"
#include "labgate/gateway/store/statement_body.hpp"
#include "rows.hpp"

namespace labgate::gateway::store {

namespace {

using namespace rows;  // NOLINT: shared private helpers

constexpr std::string_view kBillingMemberSelect =
    "SELECT m.id, m.member_no, m.name, m.plan_id, COALESCE(p.code, '') FROM members m "
    "LEFT JOIN plans p ON p.id = m.plan_id ";

BillingMember read_billing_member(const Statement& s) {
  return {s.column_int64(0), s.column_text(1), s.column_text(2), s.column_opt_int64(3),
          s.column_text(4)};
}

// Runs `stmt` to the end, handing each row to `sink` through `read`.
template <typename T, typename Read>
Status scan(Statement& stmt, Read read, const std::function<void(T&&)>& sink) {
  return for_each_row(stmt, [&](const Statement& s) { sink(read(s)); });
}

// The month's rows, optionally of one member: " AND <column> = ?3" uses the member index.
Result<Statement> month_query(Database& db, std::string sql, std::string_view member_column,
                              std::string_view order, std::int64_t begin_ms, std::int64_t end_ms,
                              std::optional<std::int64_t> member_id) {
  if (member_id) sql += fmt::format(" AND {} = ?3", member_column);
  sql += order;
  auto stmt = db.prepare(sql);
  if (!stmt) return stmt.error();
  stmt->bind(1, begin_ms).bind(2, end_ms);
  if (member_id) stmt->bind(3, *member_id);
  return stmt;
}

}  // namespace

Result<std::vector<Rate>> BillingLedger::all_rates(Database& db) {
  static const std::string kSql = std::string(kRateSelect) + "ORDER BY effective_from_ms, id";
  auto stmt = db.prepare(kSql);
  if (!stmt) return stmt.error();
  return collect<Rate>(*stmt, read_rate);
}

Result<std::vector<RatePlanTermRow>> BillingLedger::all_plan_terms(Database& db) {
  auto stmt = db.prepare(
      "SELECT rate_id, plan_id, discount_percent, included_minutes FROM rate_plan_terms");
  if (!stmt) return stmt.error();
  return collect<RatePlanTermRow>(*stmt, [](const Statement& s) {
    return RatePlanTermRow{s.column_int64(0), s.column_int64(1), s.column_int64(2),
                           s.column_int64(3)};
  });
}

Status BillingLedger::scan_usage_sessions(Database& db, std::int64_t begin_ms, std::int64_t end_ms,
                                          std::optional<std::int64_t> member_id,
                                          const std::function<void(UsageSession&&)>& sink) {
  auto stmt = month_query(
      db,
      "SELECT id, member_id, kind, machine_id, started_at_ms, ended_at_ms, busy_seconds, rate_id "
      "FROM sessions WHERE started_at_ms >= ?1 AND started_at_ms < ?2",
      "member_id", " ORDER BY started_at_ms, id", begin_ms, end_ms, member_id);
  if (!stmt) return stmt.error();
  return scan<UsageSession>(
      *stmt,
      [](const Statement& s) {
        return UsageSession{
            s.column_int64(0),
            s.column_int64(1),
            s.column_text(2) == "coworking" ? SessionKind::kCoworking : SessionKind::kMachine,
            s.column_opt_text(3),
            s.column_int64(4),
            s.column_opt_int64(5),
            s.column_opt_int64(6),
            s.column_opt_int64(7)};
      },
      sink);
}

Status BillingLedger::scan_usage_reviews(Database& db, std::int64_t begin_ms, std::int64_t end_ms,
                                         std::optional<std::int64_t> member_id,
                                         const std::function<void(SessionReview&&)>& sink) {
  auto stmt = month_query(db,
                          "SELECT rv.session_id, rv.billed_seconds, rv.reviewer FROM "
                          "session_reviews rv JOIN sessions s ON s.id = rv.session_id "
                          "WHERE s.started_at_ms >= ?1 AND s.started_at_ms < ?2",
                          "s.member_id", "", begin_ms, end_ms, member_id);
  if (!stmt) return stmt.error();
  return scan<SessionReview>(
      *stmt,
      [](const Statement& s) {
        SessionReview r;
        r.session_id = s.column_int64(0);
        r.billed_seconds = s.column_int64(1);
        r.reviewer = s.column_text(2);
        return r;
      },
      sink);
}

Status BillingLedger::scan_usage_sales(Database& db, std::int64_t begin_ms, std::int64_t end_ms,
                                       std::optional<std::int64_t> member_id,
                                       const std::function<void(UsageSale&&)>& sink) {
  auto stmt = month_query(
      db,
      "SELECT s.id, s.member_id, s.item_code, COALESCE(p.name, s.item_code), s.quantity, "
      "s.unit_price, s.at_ms, COALESCE(p.day_pass, 0), s.tax_class FROM sales s "
      "LEFT JOIN price_list p ON p.code = s.item_code WHERE s.at_ms >= ?1 AND s.at_ms < ?2",
      "s.member_id", " ORDER BY s.at_ms, s.id", begin_ms, end_ms, member_id);
  if (!stmt) return stmt.error();
  return scan<UsageSale>(
      *stmt,
      [](const Statement& s) {
        return UsageSale{s.column_int64(0), s.column_int64(1), s.column_text(2),
                         s.column_text(3),  s.column_int64(4), s.column_int64(5),
                         s.column_int64(6), s.column_bool(7),  s.column_text(8)};
      },
      sink);
}

Result<std::optional<BillingMember>> BillingLedger::billing_member(Database& db,
                                                                   std::string_view member_no) {
  static const std::string kSql = std::string(kBillingMemberSelect) + "WHERE m.member_no = ?1";
  auto stmt = db.prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, member_no);
  return first<BillingMember>(*stmt, read_billing_member);
}

Result<std::optional<BillingMember>> BillingLedger::billing_member(Database& db,
                                                                   std::int64_t member_id) {
  static const std::string kSql = std::string(kBillingMemberSelect) + "WHERE m.id = ?1";
  auto stmt = db.prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, member_id);
  return first<BillingMember>(*stmt, read_billing_member);
}

Status BillingLedger::scan_billing_members(Database& db,
                                           const std::function<void(BillingMember&&)>& sink) {
  auto stmt = db.prepare(kBillingMemberSelect);
  if (!stmt) return stmt.error();
  return scan<BillingMember>(*stmt, read_billing_member, sink);
}

Result<std::string> BillingLedger::month_inputs_digest(Database& db, std::int64_t begin_ms,
                                                       std::int64_t end_ms,
                                                       std::int64_t max_session_id) {
  // Whole small tables (every column, as the schema has them now: a column a later migration
  // adds is covered without touching this), ordered so two reads of the same data give the same
  // string; members only for the columns a statement shows or bills by, so that a status change
  // does not count.
  struct Part {
    std::string_view table;
    std::string_view columns;  // "" for all
    std::string_view rest;
  };
  static constexpr Part kParts[] = {
      {"rates", "", " ORDER BY id"},
      {"resource_rates", "", " ORDER BY id"},
      {"rate_plan_terms", "", " ORDER BY rate_id, plan_id"},
      {"plans", "", " ORDER BY id"},
      {"price_list", "", " ORDER BY code"},
      {"members", "id, member_no, name, plan_id", " ORDER BY id"},
      {"session_reviews", "", " ORDER BY session_id"},
      {"sales", "", " WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY id"},
  };
  std::string out;
  const auto read_rows = [&](Statement& stmt) {
    return for_each_row(stmt, [&](const Statement& row) {
      out += row.column_text(0);
      out += '\x1e';
    });
  };
  for (const auto& part : kParts) {
    std::string columns{part.columns};
    if (columns.empty()) {
      auto names = db.prepare("SELECT group_concat(name, ', ') FROM pragma_table_info(?1)");
      if (!names) return names.error();
      names->bind(1, part.table);
      auto got = first<std::string>(*names, [](const Statement& s) { return s.column_text(0); });
      if (!got) return got.error();
      columns = got->value_or("");
    }
    // quote() keeps NULL, '' and 0 apart; the unit separator keeps "ab","c" apart from "a","bc".
    std::string expr;
    std::size_t from = 0;
    while (from < columns.size()) {
      auto comma = columns.find(", ", from);
      if (comma == std::string::npos) comma = columns.size();
      expr += (expr.empty() ? "quote(" : " || char(31) || quote(") +
              columns.substr(from, comma - from) + ")";
      from = comma + 2;
    }
    auto stmt = db.prepare(fmt::format("SELECT {} FROM {}{}", expr, part.table, part.rest));
    if (!stmt) return stmt.error();
    if (part.rest.find("?1") != std::string_view::npos) stmt->bind(1, begin_ms).bind(2, end_ms);
    LABGATE_TRY(read_rows(*stmt));
    out += '\x1d';
  }
  // New sessions in the month since the bill: a rowid range, so only rows newer than the bill
  // are visited.
  auto fresh = db.prepare(
      "SELECT count(*) FROM sessions WHERE id > ?1 AND +started_at_ms >= ?2 AND +started_at_ms < "
      "?3");
  if (!fresh) return fresh.error();
  fresh->bind(1, max_session_id).bind(2, begin_ms).bind(3, end_ms);
  LABGATE_TRY(read_rows(*fresh));
  return out;
}

Result<std::int64_t> BillingLedger::max_session_id(Database& db) {
  auto stmt = db.prepare("SELECT COALESCE(MAX(id), 0) FROM sessions");
  if (!stmt) return stmt.error();
  auto v = first<std::int64_t>(*stmt, [](const Statement& s) { return s.column_int64(0); });
  if (!v) return v.error();
  return v->value_or(0);
}

Result<std::vector<std::int64_t>> BillingLedger::members_with_statement(Database& db,
                                                                        std::string_view month) {
  auto stmt = db.prepare("SELECT member_id FROM statements WHERE month = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, month);
  return collect<std::int64_t>(*stmt, [](const Statement& s) { return s.column_int64(0); });
}

Result<std::vector<std::string>> BillingLedger::issued_months(Database& db,
                                                              std::int64_t member_id) {
  auto stmt = db.prepare("SELECT month FROM statements WHERE member_id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, member_id);
  return collect<std::string>(*stmt, [](const Statement& s) { return s.column_text(0); });
}

Result<std::optional<std::int64_t>> BillingLedger::first_usage_ms(Database& db,
                                                                  std::int64_t member_id) {
  std::optional<std::int64_t> out;
  for (const char* sql : {"SELECT MIN(started_at_ms) FROM sessions WHERE member_id = ?1",
                          "SELECT MIN(at_ms) FROM sales WHERE member_id = ?1"}) {
    auto stmt = db.prepare(sql);
    if (!stmt) return stmt.error();
    stmt->bind(1, member_id);
    auto v = first<std::optional<std::int64_t>>(
        *stmt, [](const Statement& s) { return s.column_opt_int64(0); });
    if (!v) return v.error();
    if (*v && **v) out = out ? std::min(*out, ***v) : ***v;
  }
  return out;
}

Result<bool> BillingLedger::put_statement_body(Database& db, const PackedBody& body) {
  auto insert = db.prepare(
      "INSERT OR IGNORE INTO statement_bodies (sha256, encoding, body) VALUES (?1, 'zstd', ?2)");
  if (!insert) return insert.error();
  insert->bind(1, body.sha256)
      .bind(2,
            std::span{reinterpret_cast<const std::uint8_t*>(body.bytes.data()), body.bytes.size()});
  LABGATE_TRY(insert->run());
  return db.changes() == 1;
}

Result<bool> BillingLedger::drop_unreferenced_body(Database& db, std::string_view sha256) {
  auto drop = db.prepare(
      "DELETE FROM statement_bodies WHERE sha256 = ?1 AND NOT EXISTS (SELECT 1 FROM statements "
      "WHERE sha256 = ?1)");
  if (!drop) return drop.error();
  drop->bind(1, sha256);
  LABGATE_TRY(drop->run());
  return db.changes() == 1;
}

Result<std::int64_t> BillingLedger::record_statement(Database& db, const NewStatement& s) {
  auto insert = db.prepare(
      "INSERT INTO statements (member_id, month, issued_at_ms, issued_by, total, sha256) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!insert) return insert.error();
  insert->bind(1, s.member_id)
      .bind(2, s.month)
      .bind(3, s.issued_at_ms)
      .bind(4, s.issued_by.name())
      .bind(5, s.total)
      .bind(6, s.sha256);
  LABGATE_TRY(insert->run());
  const std::int64_t statement_id = db.last_insert_rowid();
  auto entry = db.prepare(
      "INSERT INTO account_entries (member_id, at_ms, amount, kind, reference, actor) "
      "VALUES (?1, ?2, ?3, 'statement', ?4, ?5)");
  if (!entry) return entry.error();
  entry->bind(1, s.member_id)
      .bind(2, s.issued_at_ms)
      .bind(3, -s.total)
      .bind(4, s.month)
      .bind(5, s.issued_by.name());
  LABGATE_TRY(entry->run());
  const nlohmann::ordered_json detail = {
      {"month", s.month}, {"statement_id", statement_id}, {"total", s.total}, {"sha256", s.sha256}};
  LABGATE_TRY(append_audit_row(db, s.issued_at_ms, s.issued_by, "statement_issue", s.member_no,
                               detail.dump()));
  return statement_id;
}

Result<std::vector<IssuedStatementRow>> BillingLedger::list_statements(
    Database& db, const std::optional<std::string>& month) {
  auto stmt = db.prepare(
      "SELECT s.id, m.member_no, m.name, s.month, s.issued_at_ms, s.issued_by, s.total, s.sha256 "
      "FROM statements s JOIN members m ON m.id = s.member_id "
      "WHERE ?1 IS NULL OR s.month = ?1 ORDER BY s.month, m.member_no");
  if (!stmt) return stmt.error();
  stmt->bind(1, month);
  return collect<IssuedStatementRow>(*stmt, [](const Statement& s) {
    return IssuedStatementRow{s.column_int64(0), s.column_text(1),  s.column_text(2),
                              s.column_text(3),  s.column_int64(4), s.column_text(5),
                              s.column_int64(6), s.column_text(7)};
  });
}

Result<std::optional<std::string>> BillingLedger::statement_body(Database& db,
                                                                 std::string_view member_no,
                                                                 std::string_view month) {
  auto stmt = db.prepare(
      "SELECT s.sha256, b.encoding, b.body FROM statements s JOIN members m ON m.id = s.member_id "
      "JOIN statement_bodies b ON b.sha256 = s.sha256 WHERE m.member_no = ?1 AND s.month = ?2");
  if (!stmt) return stmt.error();
  stmt->bind(1, member_no).bind(2, month);
  struct Stored {
    std::string sha256, encoding;
    std::vector<std::uint8_t> bytes;
  };
  auto row = first<Stored>(*stmt, [](const Statement& s) {
    return Stored{s.column_text(0), s.column_text(1), s.column_blob(2)};
  });
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>{};
  const auto& r = **row;
  auto json = unpack_body(
      r.encoding, std::string_view{reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size()},
      r.sha256);
  if (!json) {
    auto e = json.error();
    e.message = fmt::format("statement of {} for {}: {}", member_no, month, e.message);
    return e;
  }
  return std::optional<std::string>{std::move(*json)};
}

}  // namespace labgate::gateway::store
