#pragma once
// A thin RAII layer over SQLite: one Database per connection, prepared statements cached per
// Database, bound parameters only, and transactions that roll back unless committed.
// A Database is not thread-safe: the daemon uses it from its event-loop thread only.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "labgate/gateway/store/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace labgate::gateway::store {

/// How to open a database connection.
struct DatabaseOptions {
  /// How long a write waits for another connection's lock before giving up with kBusy.
  std::chrono::milliseconds busy_timeout{2000};
  /// Open read-only (no WAL switch, no migrations; any write fails with kUnavailable).
  bool read_only{false};
  /// Create the file when it does not exist (ignored when read_only).
  bool create{true};
};

class Database;

/// A prepared statement borrowed from the Database cache. Destruction resets it and clears its
/// bindings so the next user starts clean. Parameter indexes are 1-based, column indexes 0-based.
/// Bind errors are remembered and reported by the next step().
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  /// Binds an integer.
  Statement& bind(int index, std::int64_t value);
  /// Binds a boolean as 0/1.
  Statement& bind_bool(int index, bool value);
  /// Binds text (copied).
  Statement& bind(int index, std::string_view value);
  /// Binds a std::string (copied); resolves the string_view/optional ambiguity.
  Statement& bind(int index, const std::string& value) {
    return bind(index, std::string_view{value});
  }
  /// Binds a NUL-terminated string (copied); avoids the bool overload catching literals.
  Statement& bind(int index, const char* value) { return bind(index, std::string_view{value}); }
  /// Binds a blob (copied).
  Statement& bind(int index, std::span<const std::uint8_t> value);
  /// Binds SQL NULL.
  Statement& bind_null(int index);
  /// Binds the value or NULL.
  Statement& bind(int index, const std::optional<std::int64_t>& value);
  /// Binds the text or NULL.
  Statement& bind(int index, const std::optional<std::string>& value);

  /// Advances: true when a row is available, false when done (the statement is then reset,
  /// bindings kept, ready to run again), or the classified error.
  Result<bool> step();
  /// Ends the current run early (releases its read snapshot); bindings are kept.
  void reset();
  /// Steps until done, for statements that return no rows (or whose rows are ignored).
  Status run();
  /// Rows changed by the last run() of this statement's connection.
  std::int64_t changes() const;

  /// True when column `col` of the current row is NULL.
  bool is_null(int col) const;
  /// Column as integer (0 when NULL).
  std::int64_t column_int64(int col) const;
  /// Column as bool (non-zero integer).
  bool column_bool(int col) const { return column_int64(col) != 0; }
  /// Column as text ("" when NULL).
  std::string column_text(int col) const;
  /// Column as blob (empty when NULL).
  std::vector<std::uint8_t> column_blob(int col) const;
  /// Column as optional integer.
  std::optional<std::int64_t> column_opt_int64(int col) const;
  /// Column as optional text.
  std::optional<std::string> column_opt_text(int col) const;

 private:
  friend class Database;
  Statement(Database* db, sqlite3_stmt* stmt, bool owned);
  void note_bind(int rc, int index);

  Database* db_;
  sqlite3_stmt* stmt_;
  bool owned_;  // true when not from the cache (nested use of the same SQL)
  int bind_error_{0};
  std::string bind_message_;
};

/// One SQLite connection with its statement cache.
class Database {
 public:
  /// Opens (and maybe creates) the file, sets WAL, foreign_keys=ON, busy_timeout and
  /// synchronous=FULL. Fails with kUnavailable for a missing/unreadable/non-database file.
  static Result<std::unique_ptr<Database>> open(const std::filesystem::path& path,
                                                const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// A cached prepared statement for `sql` (compiled on first use).
  Result<Statement> prepare(std::string_view sql);
  /// Runs a parameterless SQL script of one or more statements (migrations, pragmas).
  Status execute_script(std::string_view sql);
  /// Runs `sql` (one statement) and returns the first column of its first row as an integer.
  Result<std::int64_t> query_int64(std::string_view sql);

  /// PRAGMA data_version: changes when another connection commits to the file.
  Result<std::int64_t> data_version();
  /// Rowid of the last insert on this connection.
  std::int64_t last_insert_rowid() const;
  /// Rows changed by the last statement on this connection.
  std::int64_t changes() const;
  /// True while a transaction is open on this connection.
  bool in_transaction() const;
  /// Whether the connection was opened read-only.
  bool read_only() const { return read_only_; }
  /// The file this connection opened.
  const std::filesystem::path& path() const { return path_; }
  /// What open() found wrong with the file's permissions (other users may read or write it:
  /// members' names and e-mails are personal data), with the chmod that fixes it; empty when
  /// nothing. The caller shows it: the daemon logs it, labgatectl prints it.
  const std::string& exposure_warning() const { return exposure_warning_; }
  /// Builds an Error from the connection's current error state and `rc`.
  Error error(int rc, std::string_view context) const;
  /// The raw handle, for tests and tools that need a pragma this class does not wrap.
  sqlite3* handle() { return db_; }
  /// Runs before every Transaction::commit's COMMIT; an error aborts the commit (rolled back).
  /// The audit sealer uses it to seal the rows the transaction wrote (empty: none).
  void set_before_commit(std::function<Status()> hook) { before_commit_ = std::move(hook); }

 private:
  friend class Statement;
  friend class Transaction;
  Database(sqlite3* db, std::filesystem::path path, bool read_only);
  void release(sqlite3_stmt* stmt);

  struct CacheEntry {
    sqlite3_stmt* stmt{nullptr};
    bool in_use{false};
  };
  sqlite3* db_;
  std::filesystem::path path_;
  std::string exposure_warning_;
  std::function<Status()> before_commit_;
  bool read_only_;
  std::unordered_map<std::string, CacheEntry> cache_;
  std::unordered_map<sqlite3_stmt*, CacheEntry*> by_stmt_;
};

/// A transaction scope. BEGIN IMMEDIATE by default so a busy database is reported at begin()
/// rather than halfway through. Rolls back on destruction unless commit() succeeded.
class Transaction {
 public:
  /// How to begin.
  enum class Mode { kDeferred, kImmediate };
  /// Begins a transaction on `db`.
  static Result<Transaction> begin(Database& db, Mode mode = Mode::kImmediate);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  /// Commits; on failure the transaction is rolled back and the error returned.
  Status commit();
  /// Rolls back now (idempotent).
  void rollback();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
};

}  // namespace labgate::gateway::store
