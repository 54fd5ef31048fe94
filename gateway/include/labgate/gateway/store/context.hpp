#pragma once
// What the Store's repositories share: one connection, the site's clock and time zone, and the
// key that hashes card identifiers. Each repository (tap reads, event log, staff registry, audit
// log, billing ledger) is the only owner of its tables' SQL and reaches the others' tables only
// through their public calls.

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "labgate/gateway/store/database.hpp"
#include "labgate/gateway/store/result.hpp"

namespace labgate::gateway::store {

/// Who makes a change, as its audit row records it: the OS user the change came from and the
/// staff account that person declared.
///
/// A declared account must exist and be active in staff_accounts, or the change is refused
/// inside its own transaction. An actor built from a plain string is the running process acting
/// on its own (the daemon syncing its config, a signed MQTT command, a test): no account is
/// declared, and the uid is this process's real uid, so the record stays true either way.
struct Actor {
  /// What the audit row's actor column shows: "<account>@uid:<uid>" for a declared account.
  std::string label;
  /// The staff account declared; nullopt when the process acts on its own.
  std::optional<std::string> account;
  /// The OS user: the caller's uid from the kernel (SO_PEERCRED), or this process's uid.
  std::int64_t uid{-1};
  /// The OS user's name, when known without a blocking look-up; may be empty.
  std::string os_user;

  /// This process acting on its own, labelled `what`.
  Actor(std::string_view what);  // NOLINT(google-explicit-constructor): system actions by name
  Actor(const char* what) : Actor(std::string_view(what)) {}         // NOLINT
  Actor(const std::string& what) : Actor(std::string_view(what)) {}  // NOLINT
  /// A person at OS uid `uid` (named `os_user`, if known) declaring staff account `account`.
  static Actor declared(std::string account, std::int64_t uid, std::string os_user = {});
  /// No actor yet: its empty label is refused by every write.
  Actor() = default;

  /// The name that billing rows (sales, entries, reviews, statements) keep: the account when one
  /// is declared, else the label.
  const std::string& name() const { return account ? *account : label; }
};

/// The per-site secret keying credential hashes.
using SiteKey = std::array<std::uint8_t, 32>;

/// How to open the store.
struct StoreOptions {
  DatabaseOptions database{};
  /// Key for credential hashes. Without it, the calls that hash an identifier fail with kInvalid.
  std::optional<SiteKey> site_key;
  /// IANA zone used to turn "now" into today's date (certification expiry, inspections).
  std::string time_zone{"Asia/Tokyo"};
  /// Wall clock in ms since the epoch; injectable for tests.
  std::function<std::int64_t()> clock;
  /// The sealing key file (docs/KEYS.md). When it exists, every row written to a sealed table is
  /// sealed with it. When it is missing: an error if seal_required (the daemon), otherwise writes
  /// to sealed tables are refused once `audit setup` has sealed the database, and left unsealed
  /// before that (they are sealed by the setup).
  std::optional<std::filesystem::path> seal_key_file;
  /// The daemon: never run without the sealing key.
  bool seal_required{false};
};

/// The connection and options one Store's repositories share. Outlives them (the Store owns it).
class StoreContext {
 public:
  /// Wraps `db` (not owned); a missing clock becomes the system clock.
  StoreContext(Database& db, StoreOptions options);

  /// The connection.
  Database& db() const { return *db_; }
  /// The options the store was opened with.
  const StoreOptions& options() const { return options_; }
  /// Now, from the injected clock.
  std::int64_t now_ms() const;
  /// Today's date in the site time zone.
  std::string today() const;
  /// Keyed hash of a card identifier, as stored in credentials.id_hash.
  Result<std::vector<std::uint8_t>> credential_hash(std::string_view technology,
                                                    std::span<const std::uint8_t> identifier) const;

 private:
  Database* db_;
  StoreOptions options_;
};

/// What a staff role may do; each admin-channel op, staff change and console route names one.
enum class Permission { kView, kMembers, kCertifications, kMachines, kManager, kAdmin };
/// The one role matrix (docs/ADMIN.md): desk (members, cards, desk sales and top-ups), trainer
/// (certifications), staff (both, machines, doors), manager (+ money and reports), admin
/// (+ staff accounts).
bool role_may(std::string_view role, Permission permission);
/// Refuses (kForbidden) an actor whose declared account exists but whose role may not do
/// `permission`. An actor with no declared account (an operator acting as themselves) passes,
/// and so does an account that does not exist: check_account, in the change's own transaction,
/// refuses that with its own message (and lets the very first account declare itself).
Status check_permission(Database& db, const Actor& actor, Permission permission);

/// Refuses an actor whose declared staff account is missing or inactive (kForbidden); an actor
/// with no declared account passes. Every audit row is checked this way as it is appended,
/// inside the change's own transaction, so the account cannot be deactivated in between.
Status check_account(Database& db, const Actor& actor);

/// Both checks on one read of the account: refuses (kForbidden) a declared account that is
/// missing, inactive, or whose role may not do `permission`. For callers that check before
/// they act (the admin channel); the change's own transaction still checks again.
Status check_account(Database& db, const Actor& actor, Permission permission);

/// Base of the repositories: the shared context and the audit row every staff change appends.
class Repository {
 protected:
  explicit Repository(const StoreContext& context) : context_(&context), db_(&context.db()) {}

  /// Now, from the store's clock.
  std::int64_t now_ms() const { return context_->now_ms(); }
  /// Today in the site time zone.
  std::string today() const { return context_->today(); }
  /// The store's options (time zone, site key).
  const StoreOptions& options() const { return context_->options(); }
  /// Appends an audit row stamped now; the caller must be inside a transaction. Refuses an
  /// actor whose declared account is missing or inactive (check_account).
  Status audit(const Actor& actor, std::string_view action, std::string_view subject,
               std::string_view detail_json) const;

  /// What a change leaves in the audit log.
  struct AuditNote {
    std::string action;
    std::string subject;
    std::string detail_json;
  };
  /// A change's result with its audit note.
  template <typename T>
  struct Audited {
    T value;
    AuditNote note;
  };
  /// Transaction, change, audit, commit: checks `actor`'s declared account, runs `change`
  /// (returning Result<Audited<T>>) in one write transaction, appends its audit row by `actor`,
  /// runs `before_commit` (e.g. writing a card) and commits. Any error rolls the change and its
  /// row back together.
  template <typename T, typename Change>
  Result<T> audited_change(const Actor& actor, Change&& change,
                           const std::function<Status(const T&)>& before_commit = {}) const {
    return audited_change_as<T>(actor, true, std::forward<Change>(change), before_commit);
  }
  /// audited_change, checking the declared account before the change only when
  /// `check_first` (always when its audit row is appended): a refused actor learns nothing of
  /// the state. Only the first staff account, which vouches for itself, skips the early check.
  template <typename T, typename Change>
  Result<T> audited_change_as(const Actor& actor, bool check_first, Change&& change,
                              const std::function<Status(const T&)>& before_commit = {}) const {
    auto tx = Transaction::begin(*db_);
    if (!tx) return tx.error();
    if (check_first) {
      if (auto s = check_account(*db_, actor); !s) return s.error();
    }
    Result<Audited<T>> done = change();
    if (!done) return done.error();
    if (auto s = audit(actor, done->note.action, done->note.subject, done->note.detail_json); !s) {
      return s.error();
    }
    if (before_commit) {
      if (auto s = before_commit(done->value); !s) return s.error();
    }
    if (auto s = tx->commit(); !s) return s.error();
    return std::move(done->value);
  }

  const StoreContext* context_;
  Database* db_;
};

}  // namespace labgate::gateway::store
