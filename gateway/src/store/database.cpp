#include "labgate/gateway/store/database.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace labgate::gateway::store {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kBusy:
      return "busy";
    case ErrorKind::kUnavailable:
      return "unavailable";
    case ErrorKind::kConstraint:
      return "constraint";
    case ErrorKind::kNotFound:
      return "not_found";
    case ErrorKind::kInvalid:
      return "invalid";
    case ErrorKind::kConflict:
      return "conflict";
    case ErrorKind::kForbidden:
      return "forbidden";
    case ErrorKind::kInternal:
      return "internal";
  }
  return "internal";
}

Error error_from_sqlite(int code, std::string message) {
  ErrorKind kind = ErrorKind::kInternal;
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      kind = ErrorKind::kBusy;
      break;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
    case SQLITE_AUTH:
      kind = ErrorKind::kUnavailable;
      break;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
      kind = ErrorKind::kConstraint;
      break;
    default:
      break;
  }
  return Error{kind, code, std::move(message)};
}

// ---- Statement ----

Statement::Statement(Database* db, sqlite3_stmt* stmt, bool owned)
    : db_(db), stmt_(stmt), owned_(owned) {}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      owned_(other.owned_),
      bind_error_(other.bind_error_),
      bind_message_(std::move(other.bind_message_)) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (owned_) {
    sqlite3_finalize(stmt_);
  } else {
    db_->release(stmt_);
  }
}

void Statement::note_bind(int rc, int index) {
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) {
    bind_error_ = rc;
    bind_message_ = fmt::format("binding parameter {}: {}", index, sqlite3_errstr(rc));
  }
}

Statement& Statement::bind(int index, std::int64_t value) {
  note_bind(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Statement& Statement::bind_bool(int index, bool value) {
  return bind(index, static_cast<std::int64_t>(value ? 1 : 0));
}

Statement& Statement::bind(int index, std::string_view value) {
  note_bind(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
  return *this;
}

Statement& Statement::bind(int index, std::span<const std::uint8_t> value) {
  // A zero-length blob must still be a blob, not NULL: hand SQLite a valid pointer.
  static const std::uint8_t kEmpty = 0;
  const void* data = value.empty() ? &kEmpty : value.data();
  note_bind(sqlite3_bind_blob64(stmt_, index, data, value.size(), SQLITE_TRANSIENT), index);
  return *this;
}

Statement& Statement::bind_null(int index) {
  note_bind(sqlite3_bind_null(stmt_, index), index);
  return *this;
}

Statement& Statement::bind(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

Statement& Statement::bind(int index, const std::optional<std::string>& value) {
  return value ? bind(index, std::string_view{*value}) : bind_null(index);
}

Result<bool> Statement::step() {
  if (bind_error_ != SQLITE_OK) return error_from_sqlite(bind_error_, bind_message_);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  // Reset at once so a finished or failed statement holds no snapshot (COMMIT refuses to run
  // while statements are active) and can be re-bound for the next run.
  if (rc == SQLITE_DONE) {
    sqlite3_reset(stmt_);
    return false;
  }
  Error e = db_->error(rc, "query");
  sqlite3_reset(stmt_);
  return e;
}

void Statement::reset() {
  sqlite3_reset(stmt_);
}

Status Statement::run() {
  for (;;) {
    auto r = step();
    if (!r) return r.error();
    if (!*r) return {};
  }
}

std::int64_t Statement::changes() const {
  return db_->changes();
}

bool Statement::is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::int64_t Statement::column_int64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

std::string Statement::column_text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::vector<std::uint8_t> Statement::column_blob(int col) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
  const int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr || n <= 0) return {};
  return std::vector<std::uint8_t>(p, p + n);
}

std::optional<std::int64_t> Statement::column_opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_int64(col);
}

std::optional<std::string> Statement::column_opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_text(col);
}

// ---- Database ----

namespace {

// The database holds members' names and e-mails: its owner (the daemon's user) writes it, the
// labgate group reads it for reports, nobody else. SQLite gives the -wal and -shm files the
// database file's own mode, so creating the file with this mode covers all three.
constexpr mode_t kDatabaseMode = 0640;

// Creates `path` with kDatabaseMode whatever the umask; an existing file is left as it is.
std::optional<Error> create_private(const std::filesystem::path& path) {
  const int fd =
      ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kDatabaseMode);
  if (fd < 0) {
    if (errno == EEXIST) return std::nullopt;
    return Error{ErrorKind::kUnavailable, 0,
                 fmt::format("cannot create database {}: {}", path.string(), std::strerror(errno))};
  }
  const bool moded = ::fchmod(fd, kDatabaseMode) == 0;
  const int err = errno;
  ::close(fd);
  if (!moded) {
    ::unlink(path.c_str());
    return Error{ErrorKind::kUnavailable, 0,
                 fmt::format("cannot set the mode of {}: {}", path.string(), std::strerror(err))};
  }
  return std::nullopt;
}

std::string exposure_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & S_IRWXO) == 0) return {};
  return fmt::format(
      "database {} can be read by every user on this machine (mode {:o}): it holds members' "
      "personal data; run: chmod 640 {} {}-wal {}-shm",
      path.string(), st.st_mode & 0777, path.string(), path.string(), path.string());
}

}  // namespace

Database::Database(sqlite3* db, std::filesystem::path path, bool read_only)
    : db_(db), path_(std::move(path)), read_only_(read_only) {}

Database::~Database() {
  by_stmt_.clear();
  for (auto& [sql, entry] : cache_) sqlite3_finalize(entry.stmt);
  cache_.clear();
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Database>> Database::open(const std::filesystem::path& path,
                                                 const DatabaseOptions& options) {
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options.create) flags |= SQLITE_OPEN_CREATE;
  }
  const bool on_disk = !path.empty() && path != ":memory:";
  if (on_disk && !options.read_only && options.create) {
    if (auto e = create_private(path)) return *e;
  }
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = fmt::format("cannot open database {}: {}", path.string(),
                                  raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    sqlite3_close_v2(raw);
    return error_from_sqlite(rc, std::move(msg));
  }
  std::unique_ptr<Database> db(new Database(raw, path, options.read_only));
  if (on_disk) db->exposure_warning_ = exposure_of(path);
  sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));
  sqlite3_extended_result_codes(raw, 1);

  // A non-database file only shows itself on the first read, so read the schema here.
  if (auto n = db->query_int64("SELECT count(*) FROM sqlite_schema"); !n) {
    Error e = n.error();
    e.message = fmt::format("cannot read database {}: {}", path.string(), e.message);
    return e;
  }
  if (!options.read_only) {
    auto mode = db->prepare("PRAGMA journal_mode=WAL");
    if (!mode) return mode.error();
    auto row = mode->step();
    if (!row) return row.error();
    if (!*row || mode->column_text(0) != "wal") {
      return Error{ErrorKind::kUnavailable, 0,
                   fmt::format("database {} cannot use WAL mode", path.string())};
    }
  }
  if (auto s = db->execute_script("PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;"); !s) {
    return s.error();
  }
  return db;
}

Error Database::error(int rc, std::string_view context) const {
  const char* msg = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  // sqlite3_errmsg may describe a later call; prefer the generic text when they disagree.
  if (db_ != nullptr && (sqlite3_extended_errcode(db_) & 0xff) != (rc & 0xff)) {
    msg = sqlite3_errstr(rc);
  }
  return error_from_sqlite(rc, fmt::format("{}: {}", context, msg));
}

Result<Statement> Database::prepare(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it != cache_.end() && !it->second.in_use) {
    it->second.in_use = true;
    return Statement(this, it->second.stmt, false);
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return error(rc, "prepare");
  }
  if (stmt == nullptr) return Error{ErrorKind::kInternal, 0, "prepare: empty statement"};
  if (it != cache_.end()) {
    // The cached copy is busy (a nested use of the same query): this one is private.
    return Statement(this, stmt, true);
  }
  auto [pos, inserted] = cache_.emplace(std::string(sql), CacheEntry{stmt, true});
  by_stmt_[stmt] = &pos->second;
  return Statement(this, stmt, false);
}

void Database::release(sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (auto it = by_stmt_.find(stmt); it != by_stmt_.end()) it->second->in_use = false;
}

Status Database::execute_script(std::string_view sql) {
  // SQLite copies the whole remaining text on every prepare unless the length it is given ends
  // with the terminating NUL: one copy here keeps a long script (a test's 20,000 inserts) linear
  // instead of quadratic.
  const std::string script(sql);
  const char* tail = script.c_str();
  const char* end = tail + script.size();
  while (tail < end) {
    sqlite3_stmt* stmt = nullptr;
    const char* next = nullptr;
    int rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail) + 1, &stmt, &next);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return error(rc, "script");
    }
    tail = next;
    if (stmt == nullptr) continue;  // whitespace or a comment
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) {
      Error e = error(rc, "script");
      sqlite3_finalize(stmt);
      return e;
    }
    sqlite3_finalize(stmt);
  }
  return {};
}

Result<std::int64_t> Database::query_int64(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return Error{ErrorKind::kInternal, 0, fmt::format("no row from: {}", sql)};
  const std::int64_t value = stmt->column_int64(0);
  stmt->reset();
  return value;
}

Result<std::int64_t> Database::data_version() {
  return query_int64("PRAGMA data_version");
}

std::int64_t Database::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

std::int64_t Database::changes() const {
  return sqlite3_changes64(db_);
}

bool Database::in_transaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

// ---- Transaction ----

Result<Transaction> Transaction::begin(Database& db, Mode mode) {
  auto s = db.execute_script(mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN");
  if (!s) return s.error();
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  rollback();
}

Status Transaction::commit() {
  if (db_ == nullptr) return Error{ErrorKind::kInternal, 0, "commit: no transaction"};
  if (db_->before_commit_) {
    if (auto sealed = db_->before_commit_(); !sealed) {
      rollback();
      return sealed;
    }
  }
  auto s = db_->execute_script("COMMIT");
  if (!s) {
    rollback();
    return s;
  }
  db_ = nullptr;
  return {};
}

void Transaction::rollback() {
  if (db_ == nullptr) return;
  // After some errors (SQLITE_FULL, IOERR) SQLite has already rolled back by itself.
  if (db_->in_transaction()) (void)db_->execute_script("ROLLBACK");
  db_ = nullptr;
}

}  // namespace labgate::gateway::store
