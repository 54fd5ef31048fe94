// The sealed record; see seal.hpp for what it protects and what it cannot.
#include "labgate/gateway/store/seal.hpp"

#include <fmt/format.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include "labgate/gateway/files/files.hpp"
#include "labgate/gateway/store/audit_log.hpp"
#include "labgate/gateway/store/seal_checkpoints.hpp"
#include "labgate/gateway/store/store.hpp"
#include "rows.hpp"

namespace labgate::gateway::store::seal {

namespace {

constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "lgseal01";
constexpr std::string_view kRowDomain = "labgate-row-v1";
constexpr std::string_view kSealDomain = "labgate-seal-v1";
constexpr std::string_view kIdDomain = "labgate-seal-key-id-v1";
constexpr std::string_view kCheckpointTag = "labgate-checkpoint v1 ";
constexpr std::size_t kMaxFindings = 100;

Error invalid_input(std::string message) {
  return Error{ErrorKind::kInvalid, 0, std::move(message)};
}

Key derive(const Key& key, std::uint64_t id) {
  Key out{};
  crypto_kdf_derive_from_key(out.data(), out.size(), id, kKdfContext, key.data());
  return out;
}

/// A streaming BLAKE2b-256 with length-prefixed fields, so no field can spill into the next.
class Hasher {
 public:
  explicit Hasher(const Key* key = nullptr) {
    crypto_generichash_init(&st_, key ? key->data() : nullptr, key ? key->size() : 0, 32);
  }
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  ~Hasher() { sodium_memzero(&st_, sizeof st_); }
  void raw(const void* p, std::size_t n) {
    crypto_generichash_update(&st_, static_cast<const unsigned char*>(p), n);
  }
  void u64(std::uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    raw(b, sizeof b);
  }
  void bytes(std::string_view s) {
    u64(s.size());
    raw(s.data(), s.size());
  }
  Tag final() {
    Tag out{};
    crypto_generichash_final(&st_, out.data(), out.size());
    return out;
  }

 private:
  crypto_generichash_state st_{};
};

std::string hex(std::span<const std::uint8_t> b) {
  return to_hex(b);
}

template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> unhex(std::string_view text) {
  std::array<std::uint8_t, N> out{};
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out.data(), out.size(), text.data(), text.size(), " :-", &len, &end) != 0 ||
      len != N || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::int64_t> to_int(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

/// The current row's columns of `stmt` (every one, by name).
std::vector<Column> read_columns(sqlite3_stmt* stmt_) {
  const int n = sqlite3_column_count(stmt_);
  std::vector<Column> out(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto& c = out[static_cast<std::size_t>(i)];
    c.name = sqlite3_column_name(stmt_, i);
    c.type = sqlite3_column_type(stmt_, i);
    switch (c.type) {
      case SQLITE_INTEGER:
        c.integer = sqlite3_column_int64(stmt_, i);
        break;
      case SQLITE_FLOAT:
        c.real = sqlite3_column_double(stmt_, i);
        break;
      case SQLITE_TEXT:
      case SQLITE_BLOB: {
        const void* p = c.type == SQLITE_TEXT
                            ? static_cast<const void*>(sqlite3_column_text(stmt_, i))
                            : sqlite3_column_blob(stmt_, i);
        const int len = sqlite3_column_bytes(stmt_, i);
        if (p != nullptr)
          c.bytes.assign(static_cast<const char*>(p), static_cast<std::size_t>(len));
        break;
      }
      default:
        break;
    }
  }
  return out;
}

/// A raw statement for the generic row reads (column names and types, which Statement hides).
class Raw {
 public:
  Raw(sqlite3* db, const std::string& sql) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr);
  }
  ~Raw() { sqlite3_finalize(stmt_); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  int rc() const { return rc_; }
  sqlite3_stmt* get() const { return stmt_; }

  /// The current row's columns (every one, by name).
  std::vector<Column> columns() const { return read_columns(stmt_); }

 private:
  sqlite3_stmt* stmt_{nullptr};
  int rc_{SQLITE_OK};
};

std::optional<std::size_t> table_index(std::string_view name) {
  for (std::size_t i = 0; i < kSealedTables.size(); ++i) {
    if (kSealedTables[i] == name) return i;
  }
  return std::nullopt;
}

std::string select_row_sql(std::string_view table) {
  return fmt::format("SELECT * FROM \"{}\" WHERE rowid = ?1", table);
}

Status insert_seal(Database& db, const SealRow& row) {
  auto stmt = db.prepare(
      "INSERT INTO seals (seq, epoch, tbl, row_id, digest, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!stmt) return stmt.error();
  stmt->bind(1, row.seq)
      .bind(2, row.epoch)
      .bind(3, row.table)
      .bind(4, row.row_id)
      .bind(5, std::span<const std::uint8_t>(row.digest))
      .bind(6, std::span<const std::uint8_t>(row.mac));
  return stmt->run();
}

Result<std::optional<SealRow>> last_seal(Database& db) {
  auto stmt = db.prepare(
      "SELECT seq, epoch, tbl, row_id, digest, mac FROM seals ORDER BY seq DESC LIMIT 1");
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<SealRow>{};
  SealRow s;
  s.seq = stmt->column_int64(0);
  s.epoch = stmt->column_int64(1);
  s.table = stmt->column_text(2);
  s.row_id = stmt->column_int64(3);
  const auto d = stmt->column_blob(4);
  const auto m = stmt->column_blob(5);
  std::copy_n(d.begin(), std::min(d.size(), s.digest.size()), s.digest.begin());
  std::copy_n(m.begin(), std::min(m.size(), s.mac.size()), s.mac.begin());
  stmt->reset();
  return std::optional<SealRow>{s};
}

}  // namespace

// ---- keys and MACs ----

Key next_key(const Key& key) {
  return derive(key, 1);
}

Key ratchet(const Key& key, std::int64_t epochs) {
  Key k = key;
  for (std::int64_t i = 0; i < epochs; ++i) {
    Key n = next_key(k);
    sodium_memzero(k.data(), k.size());
    k = n;
    sodium_memzero(n.data(), n.size());
  }
  return k;
}

Key mac_key(const Key& key) {
  return derive(key, 2);
}

std::optional<Key> parse_verification_key(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (c != '-' && c != ' ' && c != '\n' && c != '\r' && c != '\t') digits += c;
  }
  Key key{};
  std::size_t len = 0;
  const char* end = nullptr;
  const bool good = sodium_hex2bin(key.data(), key.size(), digits.data(), digits.size(), nullptr,
                                   &len, &end) == 0 &&
                    len == key.size() && end == digits.data() + digits.size();
  sodium_memzero(digits.data(), digits.size());
  if (!good) {
    sodium_memzero(key.data(), key.size());
    return std::nullopt;
  }
  return key;
}

std::string key_id(const Key& k0) {
  Hasher h;
  h.bytes(kIdDomain);
  h.raw(k0.data(), k0.size());
  const Tag t = h.final();
  return hex(std::span<const std::uint8_t>(t.data(), 8));
}

Tag row_digest(std::string_view table, std::vector<Column> columns) {
  std::sort(columns.begin(), columns.end(),
            [](const Column& a, const Column& b) { return a.name < b.name; });
  Hasher h;
  h.bytes(kRowDomain);
  h.bytes(table);
  h.u64(columns.size());
  for (const auto& c : columns) {
    h.bytes(c.name);
    h.u64(static_cast<std::uint64_t>(c.type));
    switch (c.type) {
      case SQLITE_INTEGER:
        h.u64(static_cast<std::uint64_t>(c.integer));
        break;
      case SQLITE_FLOAT:
        h.u64(std::bit_cast<std::uint64_t>(c.real));
        break;
      case SQLITE_TEXT:
      case SQLITE_BLOB:
        h.bytes(c.bytes);
        break;
      default:
        break;
    }
  }
  return h.final();
}

Tag seal_mac(const Key& epoch_key, const SealRow& row, const Tag& prev_mac) {
  Key mk = mac_key(epoch_key);
  Hasher h(&mk);
  sodium_memzero(mk.data(), mk.size());
  h.bytes(kSealDomain);
  h.u64(static_cast<std::uint64_t>(row.seq));
  h.u64(static_cast<std::uint64_t>(row.epoch));
  h.bytes(row.table);
  h.u64(static_cast<std::uint64_t>(row.row_id));
  h.raw(row.digest.data(), row.digest.size());
  h.raw(prev_mac.data(), prev_mac.size());
  return h.final();
}

// ---- checkpoints ----

std::string format_checkpoint(const Checkpoint& cp) {
  return fmt::format("{}seq={} epoch={} table={} mac={}", kCheckpointTag, cp.seq, cp.epoch,
                     cp.table.empty() ? "-" : cp.table, hex(cp.mac));
}

Result<std::vector<Checkpoint>> parse_checkpoints(std::string_view text) {
  std::vector<Checkpoint> out;
  std::size_t pos = 0;
  while ((pos = text.find(kCheckpointTag, pos)) != std::string_view::npos) {
    pos += kCheckpointTag.size();
    Checkpoint cp;
    bool seq = false, epoch = false, table = false, mac = false;
    for (int field = 0; field < 4; ++field) {
      while (pos < text.size() && text[pos] == ' ') ++pos;
      std::size_t end = pos;
      while (end < text.size() && text[end] != ' ' && text[end] != '\n' && text[end] != '\r' &&
             text[end] != '"' && text[end] != ',' && text[end] != '\t') {
        ++end;
      }
      const auto token = text.substr(pos, end - pos);
      pos = end;
      const auto eq = token.find('=');
      if (eq == std::string_view::npos) break;
      const auto key = token.substr(0, eq);
      const auto value = token.substr(eq + 1);
      if (key == "seq") {
        if (auto v = to_int(value)) cp.seq = *v, seq = true;
      } else if (key == "epoch") {
        if (auto v = to_int(value)) cp.epoch = *v, epoch = true;
      } else if (key == "table") {
        cp.table = value == "-" ? "" : std::string(value);
        table = true;
      } else if (key == "mac") {
        if (auto m = unhex<32>(value)) cp.mac = *m, mac = true;
      }
    }
    if (!(seq && epoch && table && mac)) {
      return invalid_input(fmt::format(
          "malformed checkpoint #{}: expected 'labgate-checkpoint v1 seq=N epoch=E table=T "
          "mac=<64 hex digits>'",
          out.size() + 1));
    }
    out.push_back(std::move(cp));
  }
  if (out.empty()) {
    return invalid_input("no checkpoint found (a line 'labgate-checkpoint v1 seq=... mac=...')");
  }
  return out;
}

Result<std::optional<Checkpoint>> read_head(Database& db) {
  auto last = last_seal(db);
  if (!last) return last.error();
  if (!*last) return std::optional<Checkpoint>{};
  return std::optional<Checkpoint>{
      Checkpoint{(*last)->seq, (*last)->epoch, (*last)->table, (*last)->mac}};
}

// ---- the key file ----

std::string render_key_state(const KeyState& s) {
  return fmt::format(
      "# labgate sealing key: the current epoch's key of the sealed audit record.\n"
      "# Rewritten each epoch; never copy it off the box. See docs/KEYS.md.\n"
      "version = 1\nepoch = {}\nstart_ms = {}\nperiod_ms = {}\nkey = {}\n",
      s.epoch, s.start_ms, s.period_ms, hex(s.key));
}

Result<KeyState> parse_key_state(std::string_view text) {
  KeyState s;
  bool version = false, epoch = false, start = false, period = false, key = false;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const auto eq = line.find(" = ");
    if (eq == std::string_view::npos) {
      return invalid_input(
          fmt::format("sealing key file line {}: expected 'name = value'", line_no));
    }
    const auto name = line.substr(0, eq);
    const auto value = line.substr(eq + 3);
    const auto number = to_int(value);
    if (name == "version" && number == 1) {
      version = true;
    } else if (name == "epoch" && number) {
      s.epoch = *number, epoch = true;
    } else if (name == "start_ms" && number) {
      s.start_ms = *number, start = true;
    } else if (name == "period_ms" && number && *number > 0) {
      s.period_ms = *number, period = true;
    } else if (name == "key") {
      auto k = unhex<32>(value);
      if (!k)
        return invalid_input(
            fmt::format("sealing key file line {}: the key is not 64 hex digits", line_no));
      s.key = *k;
      sodium_memzero(k->data(), k->size());
      key = true;
    } else {
      return invalid_input(
          fmt::format("sealing key file line {}: bad or unknown entry '{}'", line_no, name));
    }
  }
  if (!(version && epoch && start && period && key)) {
    return invalid_input(
        "sealing key file is incomplete (version, epoch, start_ms, period_ms, key)");
  }
  return s;
}

Result<KeyState> load_key_state(const std::filesystem::path& path) {
  const auto where = [&](std::string what) {
    return Error{ErrorKind::kUnavailable, 0,
                 fmt::format("sealing key file {}: {}; see docs/KEYS.md (labgatectl audit setup)",
                             path.string(), what)};
  };
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return where(errno == ENOENT ? "missing" : std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return where("not a regular file");
  if (st.st_uid != ::geteuid()) return where("owned by another user (chown it to the daemon user)");
  if ((st.st_mode & 077) != 0) {
    return where(fmt::format("readable by group or others (chmod 600 {})", path.string()));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return where("cannot be read");
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  auto parsed = parse_key_state(text);
  sodium_memzero(text.data(), text.size());
  if (!parsed) return where(parsed.error().message);
  return parsed;
}

Status save_key_state(const std::filesystem::path& path, const KeyState& state, bool replace) {
  std::string text = render_key_state(state);
  files::WriteOptions opt;
  opt.mode = 0600;
  opt.replace = replace;
  const auto written = files::write_atomically(path, text, opt);
  sodium_memzero(text.data(), text.size());
  if (written.error) {
    return Error{ErrorKind::kUnavailable, 0,
                 fmt::format("sealing key file {}: {}", path.string(), *written.error)};
  }
  return {};
}

std::filesystem::path default_key_path(const std::filesystem::path& db_path) {
  auto p = db_path;
  p += ".seal-key";
  return p;
}

// ---- the sealer ----

Sealer::Sealer(Database& db, std::filesystem::path key_path, KeyState state,
               std::function<std::int64_t()> clock)
    : db_(&db), key_path_(std::move(key_path)), state_(state), clock_(std::move(clock)) {
  attach();
}

Sealer::Sealer(Database& db, std::string why) : db_(&db), refuse_(std::move(why)) {
  attach();
}

Sealer::~Sealer() {
  sqlite3_update_hook(db_->handle(), nullptr, nullptr);
  sqlite3_commit_hook(db_->handle(), nullptr, nullptr);
  sqlite3_rollback_hook(db_->handle(), nullptr, nullptr);
  db_->set_before_commit({});
  for (auto* r : readers_) sqlite3_finalize(r);
  sodium_memzero(state_.key.data(), state_.key.size());
}

void Sealer::attach() {
  sqlite3_update_hook(db_->handle(), &Sealer::on_update, this);
  sqlite3_commit_hook(db_->handle(), &Sealer::on_commit, this);
  sqlite3_rollback_hook(db_->handle(), &Sealer::on_rollback, this);
  db_->set_before_commit([this] { return flush(); });
}

void Sealer::on_update(void* self, int op, const char* /*db*/, const char* table,
                       long long row_id) {  // NOLINT(google-runtime-int)
  auto* s = static_cast<Sealer*>(self);
  const auto index = table_index(table);
  if (!index) return;
  if (op == SQLITE_DELETE) {
    if (!s->deleted_) s->deleted_ = fmt::format("{} row {}", table, row_id);
    return;
  }
  const Pending p{*index, static_cast<std::int64_t>(row_id)};
  if (s->seen_.insert(p).second) s->pending_.push_back(p);
}

int Sealer::on_commit(void* self) {
  // Anything still noted here reached COMMIT without flush(): refuse it (SQLite rolls back).
  auto* s = static_cast<Sealer*>(self);
  return s->pending_.empty() && !s->deleted_ ? 0 : 1;
}

void Sealer::on_rollback(void* self) {
  auto* s = static_cast<Sealer*>(self);
  s->pending_.clear();
  s->seen_.clear();
  s->deleted_.reset();
}

Status Sealer::move_to(std::int64_t epoch) {
  if (epoch <= state_.epoch) return {};
  KeyState next = state_;
  next.key = ratchet(state_.key, epoch - state_.epoch);
  next.epoch = epoch;
  // The new key is on disk before the old one is forgotten, so a crash never loses the key.
  auto saved = save_key_state(key_path_, next, true);
  if (!saved) {
    sodium_memzero(next.key.data(), next.key.size());
    return saved;
  }
  sodium_memzero(state_.key.data(), state_.key.size());
  state_ = next;
  sodium_memzero(next.key.data(), next.key.size());
  return {};
}

Status Sealer::flush() {
  if (deleted_) {
    const auto what = *deleted_;
    return Error{ErrorKind::kConflict, 0, fmt::format("sealed rows are never deleted ({})", what)};
  }
  if (pending_.empty()) return {};
  if (refuse_) return Error{ErrorKind::kUnavailable, 0, *refuse_};
  auto head = last_seal(*db_);
  if (!head) return head.error();
  std::int64_t target = state_.epoch;
  if (state_.period_ms > 0) {
    const std::int64_t by_time = (clock_() - state_.start_ms) / state_.period_ms;
    target = std::max(target, by_time);
  }
  if (*head) target = std::max(target, (*head)->epoch);
  LABGATE_TRY(move_to(target));

  SealRow prev;
  std::int64_t seq = 1;
  Tag prev_mac{};
  if (*head) {
    prev = **head;
    seq = prev.seq + 1;
    prev_mac = prev.mac;
    if (state_.epoch > prev.epoch) {
      // Nothing was sealed in the epochs between: say so, so verify tells this from a deletion.
      SealRow marker{seq, state_.epoch, "", prev.epoch, Tag{}, Tag{}};
      marker.mac = seal_mac(state_.key, marker, prev_mac);
      LABGATE_TRY(insert_seal(*db_, marker));
      prev_mac = marker.mac;
      ++seq;
    }
  }
  for (const auto& p : pending_) {
    // Prepared once per sealer: the seal runs at every commit of the daemon's writer.
    auto*& r = readers_[p.table];
    if (r == nullptr) {
      const auto sql = select_row_sql(kSealedTables[p.table]);
      if (const int rc = sqlite3_prepare_v3(db_->handle(), sql.c_str(), -1,
                                            SQLITE_PREPARE_PERSISTENT, &r, nullptr);
          rc != SQLITE_OK) {
        return db_->error(rc, "seal: read row");
      }
    }
    sqlite3_bind_int64(r, 1, p.row_id);
    const int rc = sqlite3_step(r);
    if (rc != SQLITE_ROW) {
      sqlite3_reset(r);
      return db_->error(rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, "seal: row vanished");
    }
    SealRow s{seq,
              state_.epoch,
              std::string(kSealedTables[p.table]),
              p.row_id,
              row_digest(kSealedTables[p.table], read_columns(r)),
              Tag{}};
    sqlite3_reset(r);
    s.mac = seal_mac(state_.key, s, prev_mac);
    LABGATE_TRY(insert_seal(*db_, s));
    prev_mac = s.mac;
    ++seq;
  }
  pending_.clear();
  seen_.clear();
  return {};
}

Status Sealer::note_unsealed_rows() {
  for (std::size_t t = 0; t < kSealedTables.size(); ++t) {
    Raw r(db_->handle(), fmt::format("SELECT rowid FROM \"{0}\" WHERE rowid NOT IN "
                                     "(SELECT row_id FROM seals WHERE tbl = '{0}') ORDER BY rowid",
                                     kSealedTables[t]));
    if (r.rc() != SQLITE_OK) return db_->error(r.rc(), "seal: list unsealed rows");
    int rc;
    while ((rc = sqlite3_step(r.get())) == SQLITE_ROW) {
      const Pending p{t, sqlite3_column_int64(r.get(), 0)};
      if (seen_.insert(p).second) pending_.push_back(p);
    }
    if (rc != SQLITE_DONE) return db_->error(rc, "seal: list unsealed rows");
  }
  return {};
}

// ---- verify ----

const char* to_string(Kind kind) {
  switch (kind) {
    case Kind::kEdit:
      return "edit";
    case Kind::kRehash:
      return "rehash";
    case Kind::kDeleted:
      return "deleted";
    case Kind::kTruncated:
      return "truncated";
    case Kind::kEpochGap:
      return "epoch-gap";
    case Kind::kReordered:
      return "reordered";
    case Kind::kUnsealed:
      return "unsealed";
  }
  return "?";
}

const char* to_string(Reach reach) {
  switch (reach) {
    case Reach::kReached:
      return "reached";
    case Reach::kBeyond:
      return "beyond";
    case Reach::kDiffers:
      return "differs";
  }
  return "?";
}

Result<std::vector<CheckpointCheck>> check_checkpoints(Database& db,
                                                       const std::vector<Checkpoint>& checkpoints) {
  std::vector<CheckpointCheck> out;
  out.reserve(checkpoints.size());
  for (const auto& cp : checkpoints) {
    Raw at(db.handle(), "SELECT mac FROM seals WHERE seq = ?1");
    if (at.rc() != SQLITE_OK) return db.error(at.rc(), "verify: read checkpoint seal");
    sqlite3_bind_int64(at.get(), 1, cp.seq);
    const int rc = sqlite3_step(at.get());
    if (rc == SQLITE_DONE) {
      out.push_back({cp, Reach::kBeyond});
    } else if (rc == SQLITE_ROW) {
      const void* p = sqlite3_column_blob(at.get(), 0);
      const int n = sqlite3_column_bytes(at.get(), 0);
      const bool same = n == 32 && p != nullptr && std::memcmp(p, cp.mac.data(), 32) == 0;
      out.push_back({cp, same ? Reach::kReached : Reach::kDiffers});
    } else {
      return db.error(rc, "verify: read checkpoint seal");
    }
  }
  return out;
}

Result<Verdict> verify(Database& db, const Key& k0, const std::vector<Checkpoint>& checkpoints) {
  auto tx = Transaction::begin(db, Transaction::Mode::kDeferred);
  if (!tx) return tx.error();
  Verdict v;
  std::vector<Finding> all;
  const auto add = [&](Kind kind, std::string table, std::int64_t row_id, std::int64_t seq,
                       std::string message) {
    ++v.findings_total;
    if (all.size() < kMaxFindings * 4) {
      all.push_back(Finding{kind, std::move(table), row_id, seq, std::move(message)});
    }
  };

  // Pass 1: the chain of seals, in order. The newest valid seal of each row is kept.
  struct Latest {
    std::int64_t seq;
    Tag digest;
    bool valid;
  };
  std::array<std::unordered_map<std::int64_t, Latest>, kSealedTables.size()> latest;
  Raw seals(db.handle(), "SELECT seq, epoch, tbl, row_id, digest, mac FROM seals ORDER BY seq");
  if (seals.rc() != SQLITE_OK) return db.error(seals.rc(), "verify: read seals");
  Key epoch_key = k0;
  std::int64_t key_epoch = 0;
  std::int64_t expect_seq = 1;
  std::int64_t prev_epoch = 0;
  Tag prev_mac{};
  int rc;
  while ((rc = sqlite3_step(seals.get())) == SQLITE_ROW) {
    SealRow s;
    s.seq = sqlite3_column_int64(seals.get(), 0);
    s.epoch = sqlite3_column_int64(seals.get(), 1);
    const auto* tbl = sqlite3_column_text(seals.get(), 2);
    s.table = tbl ? reinterpret_cast<const char*>(tbl) : "";
    s.row_id = sqlite3_column_int64(seals.get(), 3);
    const auto copy_tag = [&](int col, Tag& out) {
      const int n = sqlite3_column_bytes(seals.get(), col);
      const void* p = sqlite3_column_blob(seals.get(), col);
      if (p != nullptr && n == static_cast<int>(out.size())) std::memcpy(out.data(), p, out.size());
      return n == static_cast<int>(out.size());
    };
    // Both columns are copied whatever the first one holds, so the finding names either.
    const bool digest_ok = copy_tag(4, s.digest);
    const bool mac_ok = copy_tag(5, s.mac);
    const bool shaped = digest_ok && mac_ok;
    ++v.seals_checked;
    bool good = shaped;
    if (s.seq != expect_seq) {
      if (s.seq < expect_seq) {
        add(Kind::kReordered, "seals", s.seq, s.seq,
            fmt::format("seal {} appears again after seal {}", s.seq, expect_seq - 1));
      } else if (s.epoch > prev_epoch && v.seals_checked > 1) {
        // Whole epochs are gone when the seal after the hole is in a later epoch.
        add(Kind::kEpochGap, "seals", expect_seq, expect_seq,
            fmt::format("seals {}..{} are missing and the chain jumps from epoch {} to {}: the "
                        "seals of those epochs and their rows were removed",
                        expect_seq, s.seq - 1, prev_epoch, s.epoch));
      } else {
        add(Kind::kDeleted, "seals", expect_seq, expect_seq,
            fmt::format("seals {}..{} are missing: the rows sealed there were deleted with their "
                        "seals",
                        expect_seq, s.seq - 1));
      }
    }
    if (s.epoch < prev_epoch || s.epoch < key_epoch) {
      add(Kind::kReordered, "seals", s.seq, s.seq,
          fmt::format("seal {} goes back from epoch {} to {}", s.seq, prev_epoch, s.epoch));
      good = false;
    } else {
      if (s.epoch > key_epoch) {
        Key k = ratchet(epoch_key, s.epoch - key_epoch);
        sodium_memzero(epoch_key.data(), epoch_key.size());
        epoch_key = k;
        sodium_memzero(k.data(), k.size());
        key_epoch = s.epoch;
      }
      if (good && seal_mac(epoch_key, s, prev_mac) != s.mac) good = false;
      if (!good && s.seq == expect_seq) {
        // After a hole the next seal cannot verify (its link is gone): the hole is the finding.
        add(Kind::kRehash, s.table.empty() ? "seals" : s.table, s.table.empty() ? s.seq : s.row_id,
            s.seq,
            fmt::format(
                "seal {} ({}) does not verify under the key: it was rewritten, or the "
                "chain was recomputed without the key",
                s.seq,
                s.table.empty() ? "epoch marker" : s.table + " row " + std::to_string(s.row_id)));
      }
      if (good && s.epoch > prev_epoch && v.seals_checked > 1) {
        if (!s.table.empty() || s.row_id != prev_epoch) {
          add(Kind::kEpochGap, "seals", s.seq, s.seq,
              fmt::format("the chain jumps from epoch {} to {} at seal {} without a marker: the "
                          "seals of those epochs were removed",
                          prev_epoch, s.epoch, s.seq));
        } else if (s.epoch > prev_epoch + 1) {
          ++v.recorded_epoch_gaps;
        }
      }
    }
    if (!s.table.empty()) {
      if (const auto t = table_index(s.table)) {
        latest[*t][s.row_id] = Latest{s.seq, s.digest, good};
      } else if (good) {
        add(Kind::kRehash, "seals", s.seq, s.seq,
            fmt::format("seal {} names an unknown table '{}'", s.seq, s.table));
      }
    }
    prev_mac = s.mac;
    prev_epoch = std::max(prev_epoch, s.epoch);
    expect_seq = s.seq + 1;
    if (!v.head || s.seq > v.head->seq) v.head = Checkpoint{s.seq, s.epoch, s.table, s.mac};
  }
  sodium_memzero(epoch_key.data(), epoch_key.size());
  if (rc != SQLITE_DONE) return db.error(rc, "verify: read seals");

  // Pass 2: every row of every sealed table against its newest seal.
  for (std::size_t t = 0; t < kSealedTables.size(); ++t) {
    const auto name = std::string(kSealedTables[t]);
    Raw rows(db.handle(),
             fmt::format("SELECT rowid AS \"\x01rowid\", * FROM \"{}\" ORDER BY rowid", name));
    if (rows.rc() != SQLITE_OK) return db.error(rows.rc(), "verify: read " + name);
    auto& seen = latest[t];
    while ((rc = sqlite3_step(rows.get())) == SQLITE_ROW) {
      ++v.rows_checked;
      const std::int64_t id = sqlite3_column_int64(rows.get(), 0);
      auto cols = rows.columns();
      cols.erase(cols.begin());
      const auto it = seen.find(id);
      if (it == seen.end()) {
        add(Kind::kUnsealed, name, id, INT64_MAX,
            fmt::format("{} row {} has no seal: it was added without the sealing key", name, id));
        continue;
      }
      if (it->second.valid && row_digest(name, std::move(cols)) != it->second.digest) {
        add(Kind::kEdit, name, id, it->second.seq,
            fmt::format("{} row {} was edited after it was sealed (seal {})", name, id,
                        it->second.seq));
      }
      seen.erase(it);
    }
    if (rc != SQLITE_DONE) return db.error(rc, "verify: read " + name);
    for (const auto& [id, l] : seen) {
      add(Kind::kDeleted, name, id, l.seq,
          fmt::format("{} row {} was deleted (its seal {} remains)", name, id, l.seq));
    }
  }

  // Checkpoints kept off the box: the chain must reach each with the same MAC.
  auto reached = check_checkpoints(db, checkpoints);
  if (!reached) return reached.error();
  for (const auto& [cp, reach] : *reached) {
    if (reach == Reach::kBeyond) {
      const std::int64_t last = v.head ? v.head->seq : 0;
      add(Kind::kTruncated, cp.table.empty() ? "seals" : cp.table, cp.seq, last + 1,
          fmt::format("the chain ends at seal {} but a checkpoint names seal {}: the last {} "
                      "sealed rows were deleted",
                      last, cp.seq, cp.seq - last));
    } else if (reach == Reach::kDiffers) {
      add(Kind::kRehash, cp.table.empty() ? "seals" : cp.table, cp.seq, cp.seq,
          fmt::format("seal {} differs from the checkpoint's: the chain was rewritten from "
                      "there",
                      cp.seq));
    }
  }

  std::stable_sort(all.begin(), all.end(),
                   [](const Finding& a, const Finding& b) { return a.seal_seq < b.seal_seq; });
  if (all.size() > kMaxFindings) all.resize(kMaxFindings);
  v.findings = std::move(all);
  v.ok = v.findings.empty();
  if (v.ok) {
    v.message = fmt::format("sealed record ok: {} seals, {} rows, {} recorded epoch gaps",
                            v.seals_checked, v.rows_checked, v.recorded_epoch_gaps);
  } else {
    const auto& f = v.findings.front();
    v.message = fmt::format("{}: {}", to_string(f.kind), f.message);
  }
  return v;
}

// ---- setup ----

Result<Key> setup(Database& db, const std::filesystem::path& key_path, std::int64_t now_ms,
                  std::int64_t period_ms, const Actor& actor) {
  if (period_ms <= 0) return invalid_input("the epoch must be longer than 0");
  std::error_code ec;
  if (std::filesystem::symlink_status(key_path, ec).type() !=
      std::filesystem::file_type::not_found) {
    return Error{ErrorKind::kConflict, 0,
                 fmt::format("{} already exists: the record is already sealed (audit setup runs "
                             "once; see docs/KEYS.md)",
                             key_path.string())};
  }
  auto tx = Transaction::begin(db);
  if (!tx) return tx.error();
  // The declared account first: a refused actor learns nothing of the state.
  LABGATE_TRY(check_account(db, actor));
  auto sealed = db.query_int64("SELECT count(*) FROM meta WHERE key = 'seal_key_id'");
  if (!sealed) return sealed.error();
  if (*sealed != 0) {
    return Error{ErrorKind::kConflict, 0,
                 "this database is already sealed under another verification key (audit setup "
                 "runs once; see docs/KEYS.md)"};
  }
  Key k0{};
  randombytes_buf(k0.data(), k0.size());
  {
    // Epoch 0 is the setup instant; start_ms one period back makes epoch 1 begin now.
    Sealer sealer(db, key_path, KeyState{k0, 0, now_ms - period_ms, 0},
                  [now_ms] { return now_ms; });
    auto id = db.prepare("INSERT INTO meta (key, value) VALUES ('seal_key_id', ?1)");
    if (!id) return id.error();
    id->bind(1, key_id(k0));
    LABGATE_TRY(id->run());
    LABGATE_TRY(append_audit_row(
        db, now_ms, actor, "audit.setup", "seals",
        fmt::format(R"({{"key_id":"{}","period_ms":{}}})", key_id(k0), period_ms)));
    LABGATE_TRY(sealer.note_unsealed_rows());
    LABGATE_TRY(sealer.flush());
  }
  // The box keeps k(1) only: rows sealed at setup cannot be sealed again by whoever takes it.
  KeyState after{next_key(k0), 1, now_ms - period_ms, period_ms};
  auto saved = save_key_state(key_path, after, false);
  sodium_memzero(after.key.data(), after.key.size());
  if (!saved) {
    sodium_memzero(k0.data(), k0.size());
    return saved.error();
  }
  if (auto s = tx->commit(); !s) {
    std::filesystem::remove(key_path, ec);
    sodium_memzero(k0.data(), k0.size());
    return s.error();
  }
  return k0;
}

}  // namespace labgate::gateway::store::seal
