// The web console's side of staff accounts: the password (as an argon2id string hashed by the
// caller, so the clear text never crosses the admin channel or reaches the audit log) and the
// account's language.
#include <fmt/format.h>

#include "labgate/gateway/store/staff_registry.hpp"
#include "labgate/gateway/text/text.hpp"
#include "rows.hpp"

namespace labgate::gateway::store {

namespace {

using namespace rows;  // NOLINT: shared private helpers

Result<std::optional<StaffLogin>> read_login(Database& db, std::string_view login) {
  auto stmt = db.prepare(
      "SELECT login, name, role, active, created_at_ms, password_hash, locale FROM staff_accounts "
      "WHERE login = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, login);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<StaffLogin>{};
  StaffLogin out{{stmt->column_text(0), stmt->column_text(1), stmt->column_text(2),
                  stmt->column_int64(3) != 0, stmt->column_int64(4)},
                 stmt->column_opt_text(5),
                 stmt->column_opt_text(6)};
  stmt->reset();
  return std::optional<StaffLogin>{std::move(out)};
}

// A password or language is the account's own business or an admin's: a desk clerk must not
// reset a manager's password and then log in as them. The first password of an account that has
// none may be set by any active account (users add --password-stdin): any may add an account
// (staff.add), so this gives no more than that already does.
Status may_manage(Database& db, const Actor& actor, const StaffLogin& target, bool password) {
  if (!actor.account || *actor.account == target.account.login) return {};
  if (password && !target.password_hash) return {};
  auto who = read_login(db, *actor.account);
  if (!who) return who.error();
  if (*who && (*who)->account.role == "admin") return {};
  const std::string_view login = target.account.login;
  return Error{ErrorKind::kForbidden, 0,
               fmt::format("only '{}' or an admin account may change this account's settings",
                           text::visible(login))};
}

}  // namespace

Result<std::optional<StaffLogin>> StaffRegistry::staff_login(std::string_view login) {
  return read_login(*db_, login);
}

Result<StaffAccount> StaffRegistry::set_staff_password_hash(std::string_view login,
                                                            std::string_view password_hash,
                                                            const Actor& actor) {
  if (!password_hash.starts_with("$argon2id$") || password_hash.size() > 256) {
    return invalid("the password hash must be an argon2id string (crypto_pwhash_str)");
  }
  return audited_change<StaffAccount>(actor, [&]() -> Result<Audited<StaffAccount>> {
    auto existing = read_login(*db_, login);
    if (!existing) return existing.error();
    if (!*existing) return not_found(fmt::format("no staff account '{}'", text::visible(login)));
    LABGATE_TRY(may_manage(*db_, actor, **existing, true));
    auto stmt = db_->prepare("UPDATE staff_accounts SET password_hash = ?2 WHERE login = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, login).bind(2, password_hash);
    LABGATE_TRY(stmt->run());
    // The audit row says that the password changed, never what it is (not even its hash).
    return Audited<StaffAccount>{(*existing)->account,
                                 {"staff.passwd", (*existing)->account.login, "{}"}};
  });
}

Result<StaffAccount> StaffRegistry::set_staff_locale(std::string_view login,
                                                     std::string_view locale, const Actor& actor) {
  if (locale != "ja" && locale != "en" && !locale.empty()) {
    return invalid(fmt::format("bad locale '{}': ja, en or empty", text::visible(locale)));
  }
  return audited_change<StaffAccount>(actor, [&]() -> Result<Audited<StaffAccount>> {
    auto existing = read_login(*db_, login);
    if (!existing) return existing.error();
    if (!*existing) return not_found(fmt::format("no staff account '{}'", text::visible(login)));
    LABGATE_TRY(may_manage(*db_, actor, **existing, false));
    auto stmt = db_->prepare("UPDATE staff_accounts SET locale = ?2 WHERE login = ?1");
    if (!stmt) return stmt.error();
    std::optional<std::string> value;
    if (!locale.empty()) value = std::string(locale);
    stmt->bind(1, login).bind(2, value);
    LABGATE_TRY(stmt->run());
    return Audited<StaffAccount>{
        (*existing)->account,
        {"staff.locale", (*existing)->account.login, fmt::format("{{\"locale\":\"{}\"}}", locale)}};
  });
}

Result<StaffAccount> StaffRegistry::set_staff_role(std::string_view login, std::string_view role,
                                                   const Actor& actor) {
  if (role != "desk" && role != "trainer" && role != "staff" && role != "manager" &&
      role != "admin") {
    return invalid(
        fmt::format("bad role '{}': desk, trainer, staff, manager or admin", text::visible(role)));
  }
  return audited_change<StaffAccount>(actor, [&]() -> Result<Audited<StaffAccount>> {
    auto existing = read_login(*db_, login);
    if (!existing) return existing.error();
    if (!*existing) return not_found(fmt::format("no staff account '{}'", text::visible(login)));
    StaffAccount a = (*existing)->account;
    if (actor.account) {
      // A role is an admin's to give: anyone else could promote themselves or a friend.
      auto who = read_login(*db_, *actor.account);
      if (!who) return who.error();
      if (!*who || (*who)->account.role != "admin") {
        return Error{ErrorKind::kForbidden, 0, "only an admin account may change a role"};
      }
      if (*actor.account == a.login) {
        return conflict(fmt::format("staff account '{}' cannot change its own role", a.login));
      }
    }
    if (a.role == role) {
      return conflict(fmt::format("staff account '{}' is already {}", a.login, a.role));
    }
    auto stmt = db_->prepare("UPDATE staff_accounts SET role = ?2 WHERE login = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, a.login).bind(2, role);
    LABGATE_TRY(stmt->run());
    const std::string was = a.role;
    a.role = std::string(role);
    return Audited<StaffAccount>{
        a, {"staff.role", a.login, fmt::format(R"({{"role":"{}","was":"{}"}})", a.role, was)}};
  });
}

}  // namespace labgate::gateway::store
