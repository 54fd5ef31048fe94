// The hash-chained audit log.
#include "labgate/gateway/store/audit_log.hpp"

#include <fmt/format.h>
#include <sodium.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "labgate/gateway/text/text.hpp"
#include "rows.hpp"

namespace labgate::gateway::store {

namespace {

using namespace rows;  // NOLINT: shared private helpers

using json = nlohmann::json;

std::string canonical_audit_row(std::int64_t id, std::int64_t at_ms, std::string_view actor,
                                std::string_view action, std::string_view subject,
                                std::string_view detail) {
  // A JSON array is unambiguous (no field can spill into the next) and easy to recompute
  // with any tool, which is the point of a verifiable log.
  return json::array({id, at_ms, actor, action, subject, detail}).dump();
}

std::vector<std::uint8_t> chain_hash(std::span<const std::uint8_t> prev, std::string_view row) {
  std::vector<std::uint8_t> out(crypto_generichash_BYTES);
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, out.size());
  crypto_generichash_update(&st, prev.data(), prev.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(row.data()), row.size());
  crypto_generichash_final(&st, out.data(), out.size());
  return out;
}

}  // namespace

Actor::Actor(std::string_view what) : label(what), uid(static_cast<std::int64_t>(::getuid())) {}

Actor Actor::declared(std::string account, std::int64_t uid, std::string os_user) {
  Actor a;
  a.label = fmt::format("{}@uid:{}", account, uid);
  a.account = std::move(account);
  a.uid = uid;
  a.os_user = std::move(os_user);
  return a;
}

bool role_may(std::string_view role, Permission permission) {
  const bool staff_up = role == "staff" || role == "manager" || role == "admin";
  switch (permission) {
    case Permission::kView:
      return !role.empty();
    case Permission::kMembers:
      return role == "desk" || staff_up;
    case Permission::kCertifications:
      return role == "trainer" || staff_up;
    case Permission::kMachines:
      return staff_up;
    case Permission::kManager:
      return role == "manager" || role == "admin";
    case Permission::kAdmin:
      return role == "admin";
  }
  return false;
}

namespace {

/// The declared account's row, read once for both checks.
struct AccountRow {
  bool active = false;
  std::string role;
};

Result<std::optional<AccountRow>> read_account(Database& db, std::string_view login) {
  auto stmt = db.prepare("SELECT active, role FROM staff_accounts WHERE login = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, login);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<AccountRow>{};
  AccountRow account{stmt->column_int64(0) != 0, stmt->column_text(1)};
  stmt->reset();
  return std::optional<AccountRow>{std::move(account)};
}

Status permitted(const std::string& login, const AccountRow& account, Permission permission) {
  if (role_may(account.role, permission)) return {};
  return Error{ErrorKind::kForbidden, 0,
               fmt::format("staff account '{}' ({}) may not do this (docs/ADMIN.md lists what "
                           "each role may do)",
                           text::visible(login), text::visible(account.role))};
}

Status usable(const std::string& login, const std::optional<AccountRow>& account) {
  if (!account) {
    return Error{ErrorKind::kForbidden, 0,
                 fmt::format("staff account '{}' does not exist (labgatectl users add)",
                             text::visible(login))};
  }
  if (!account->active) {
    return Error{ErrorKind::kForbidden, 0,
                 fmt::format("staff account '{}' is not active", text::visible(login))};
  }
  return {};
}

}  // namespace

Status check_permission(Database& db, const Actor& actor, Permission permission) {
  if (!actor.account) return {};
  auto account = read_account(db, *actor.account);
  if (!account) return account.error();
  if (!*account) return {};
  return permitted(*actor.account, **account, permission);
}

Status check_account(Database& db, const Actor& actor) {
  if (!actor.account) return {};
  auto account = read_account(db, *actor.account);
  if (!account) return account.error();
  return usable(*actor.account, *account);
}

Status check_account(Database& db, const Actor& actor, Permission permission) {
  if (!actor.account) return {};
  auto account = read_account(db, *actor.account);
  if (!account) return account.error();
  LABGATE_TRY(usable(*actor.account, *account));
  return permitted(*actor.account, **account, permission);
}

Status append_audit_row(Database& db, std::int64_t at_ms, const Actor& actor,
                        std::string_view action, std::string_view subject,
                        std::string_view detail_json) {
  if (!db.in_transaction()) {
    return Error{ErrorKind::kInternal, 0, "audit rows are written inside a transaction"};
  }
  LABGATE_TRY(require_text(actor.label, "actor"));
  LABGATE_TRY(check_account(db, actor));
  auto last = db.prepare("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1");
  if (!last) return last.error();
  auto row = last->step();
  if (!row) return row.error();
  std::int64_t id = 1;
  std::vector<std::uint8_t> prev(crypto_generichash_BYTES, 0);
  if (*row) {
    id = last->column_int64(0) + 1;
    prev = last->column_blob(1);
  }
  last->reset();
  const auto hash =
      chain_hash(prev, canonical_audit_row(id, at_ms, actor.label, action, subject, detail_json));
  auto insert = db.prepare(
      "INSERT INTO audit_log (id, at_ms, actor, action, subject, detail, prev_hash, hash, "
      "os_uid, os_user, account) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  if (!insert) return insert.error();
  insert->bind(1, id)
      .bind(2, at_ms)
      .bind(3, actor.label)
      .bind(4, action)
      .bind(5, subject)
      .bind(6, detail_json)
      .bind(7, std::span<const std::uint8_t>(prev))
      .bind(8, std::span<const std::uint8_t>(hash))
      .bind(9, actor.uid)
      .bind(11, actor.account);
  if (!actor.os_user.empty()) insert->bind(10, actor.os_user);
  return insert->run();
}

Status Repository::audit(const Actor& actor, std::string_view action, std::string_view subject,
                         std::string_view detail_json) const {
  return append_audit_row(*db_, now_ms(), actor, action, subject, detail_json);
}

Status AuditLog::append_audit(const Actor& actor, std::string_view action, std::string_view subject,
                              std::string_view detail_json) {
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  LABGATE_TRY(audit(actor, action, subject, detail_json));
  return tx->commit();
}

Result<std::vector<AuditEntry>> AuditLog::list_audit(std::int64_t limit) {
  auto stmt = db_->prepare(
      "SELECT id, at_ms, actor, action, subject, detail, prev_hash, hash, os_uid, os_user, "
      "account FROM audit_log ORDER BY id LIMIT ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, limit);
  return collect<AuditEntry>(*stmt, [](const Statement& s) {
    return AuditEntry{s.column_int64(0),    s.column_int64(1),    s.column_text(2),
                      s.column_text(3),     s.column_text(4),     s.column_text(5),
                      s.column_blob(6),     s.column_blob(7),     s.column_opt_int64(8),
                      s.column_opt_text(9), s.column_opt_text(10)};
  });
}

Result<AuditVerdict> AuditLog::verify_audit_chain() {
  // One read transaction so the chain is checked against a single snapshot.
  auto tx = Transaction::begin(*db_, Transaction::Mode::kDeferred);
  if (!tx) return tx.error();
  auto stmt = db_->prepare(
      "SELECT id, at_ms, actor, action, subject, detail, prev_hash, hash FROM audit_log "
      "ORDER BY id");
  if (!stmt) return stmt.error();
  AuditVerdict verdict;
  std::vector<std::uint8_t> prev(crypto_generichash_BYTES, 0);
  std::optional<std::int64_t> last_id;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    const std::int64_t id = stmt->column_int64(0);
    const auto stored_prev = stmt->column_blob(6);
    const auto stored_hash = stmt->column_blob(7);
    const auto fail = [&](std::string why) {
      verdict.ok = false;
      verdict.first_bad_id = id;
      verdict.message = fmt::format("audit row {}: {}", id, why);
    };
    if (last_id && id != *last_id + 1) {
      fail(fmt::format("row {} is missing", *last_id + 1));
    } else if (stored_prev != prev) {
      fail("prev_hash does not match the previous row's hash");
    } else {
      const auto expect =
          chain_hash(prev, canonical_audit_row(id, stmt->column_int64(1), stmt->column_text(2),
                                               stmt->column_text(3), stmt->column_text(4),
                                               stmt->column_text(5)));
      if (expect != stored_hash) fail("hash does not match the row's content");
    }
    if (!verdict.ok) break;
    ++verdict.rows_checked;
    prev = stored_hash;
    last_id = id;
  }
  if (verdict.ok) verdict.message = fmt::format("audit chain ok ({} rows)", verdict.rows_checked);
  return verdict;
}

}  // namespace labgate::gateway::store
