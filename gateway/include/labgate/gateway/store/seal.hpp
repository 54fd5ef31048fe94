#pragma once
// The sealed record: forward-secure MACs over every row of the sealed tables, modelled on
// systemd-journald's Forward Secure Sealing and built from libsodium's BLAKE2b.
//
// Every write to a sealed table (kSealedTables) appends, in the same transaction, one row to the
// `seals` table: its sequence number, the epoch, the table and row id, a digest of every column of
// the row as written, and a MAC keyed by the epoch's sealing key over all of that and the previous
// seal's MAC. The sealing key moves forward each epoch (k(n+1) = KDF(k(n))) and the old key is
// erased, so whoever takes the box at epoch n holds k(n) and can append, but cannot forge a seal of
// an earlier epoch. Staff keep k(0), the verification key, off the box; `verify` derives each
// epoch's key from it. A row changed later (a session being closed) gets a new seal; the newest
// seal of a row must match the row.
//
// What the seals cannot show: rows written by someone who holds the current key (root on the box
// now), and the last rows deleted together with their seals, unless a checkpoint of the head kept
// elsewhere (MQTT, issued statements, ward reports) names a later seal.

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "labgate/gateway/store/context.hpp"
#include "labgate/gateway/store/database.hpp"
#include "labgate/gateway/store/result.hpp"

namespace labgate::gateway::store::seal {

/// The tables whose rows are sealed. Every column of their rows is covered, read by name, so a
/// column added later is sealed without a code change; a table added here is sealed from then on
/// (its older rows show as unsealed until `audit setup` seals them on a fresh site).
inline constexpr std::array<std::string_view, 3> kSealedTables = {"audit_log", "access_events",
                                                                  "sessions"};

/// A 32-byte sealing key (one epoch's) or MAC.
using Key = std::array<std::uint8_t, 32>;
/// A seal's MAC or a row digest.
using Tag = std::array<std::uint8_t, 32>;

/// Default epoch length: the key moves forward every hour.
inline constexpr std::int64_t kDefaultPeriodMs = 3'600'000;

/// k(n+1) from k(n): BLAKE2b KDF, sub-key 1, context "lgseal01". One-way: k(n) cannot be found
/// from k(n+1).
Key next_key(const Key& key);
/// The epoch key `epochs` steps after `key`.
Key ratchet(const Key& key, std::int64_t epochs);
/// The MAC key of an epoch (sub-key 2 of k(n)), so the ratchet input is never used as a MAC key.
Key mac_key(const Key& key);
/// The verification key as `audit setup` prints it: 64 hex digits, dashes and white space
/// ignored; nullopt when it is not one. Its working copy is wiped; the caller wipes `text`.
std::optional<Key> parse_verification_key(std::string_view text);
/// A public identifier of a verification key (stored in meta, to tell a wrong key from tampering).
std::string key_id(const Key& k0);

/// Digest of one row: BLAKE2b-256 of the table name and every column (name, type and value),
/// columns in name order. `columns` are (name, SQLite type, bytes) as read from the row.
struct Column {
  std::string name;
  int type{0};  ///< SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB or SQLITE_NULL
  std::int64_t integer{0};
  double real{0};
  std::string bytes;  ///< text or blob
};
/// See Column.
Tag row_digest(std::string_view table, std::vector<Column> columns);

/// One seal as stored. A marker (table "") records that the key moved forward from epoch
/// `row_id` to `epoch` with nothing sealed in between: a recorded gap, not a deletion.
struct SealRow {
  std::int64_t seq{0};
  std::int64_t epoch{0};
  std::string table;
  std::int64_t row_id{0};
  Tag digest{};
  Tag mac{};
};
/// The MAC of `row` chained to `prev_mac`, under the epoch key `epoch_key`.
Tag seal_mac(const Key& epoch_key, const SealRow& row, const Tag& prev_mac);

/// The head of the seal chain, as published and written into statements and reports so that
/// deleted tail rows show.
struct Checkpoint {
  std::int64_t seq{0};
  std::int64_t epoch{0};
  std::string table;  ///< table of the last sealed row ("" for an epoch marker)
  Tag mac{};
};
/// One line: "labgate-checkpoint v1 seq=N epoch=E table=T mac=HEX".
std::string format_checkpoint(const Checkpoint& cp);
/// Every checkpoint line found in `text` (a file, an MQTT payload, a report), in order. kInvalid
/// when a line starts like one but is malformed, or when none is found.
Result<std::vector<Checkpoint>> parse_checkpoints(std::string_view text);
/// The current head of `db`'s seal chain; nullopt when nothing is sealed yet.
Result<std::optional<Checkpoint>> read_head(Database& db);

/// What the box keeps in its sealing key file: the current epoch's key and how epochs are counted.
struct KeyState {
  Key key{};
  std::int64_t epoch{0};
  std::int64_t start_ms{0};   ///< when epoch 0 started
  std::int64_t period_ms{0};  ///< epoch length
};
/// The key file's text.
std::string render_key_state(const KeyState& state);
/// Parses the key file's text; the error never quotes the key.
Result<KeyState> parse_key_state(std::string_view text);
/// Reads the sealing key file after checking it is a regular file, owned by this user, with no
/// access for group or others. The error says what is wrong and points to docs/KEYS.md.
Result<KeyState> load_key_state(const std::filesystem::path& path);
/// Writes the file atomically, mode 0600 (`replace`: the epoch's new key replaces the old).
Status save_key_state(const std::filesystem::path& path, const KeyState& state, bool replace);
/// The default sealing key file of a database: "<db>.seal-key" beside it, as journald keeps its
/// sealing state beside the journal.
std::filesystem::path default_key_path(const std::filesystem::path& db_path);

/// Seals the rows a connection writes to the sealed tables. Attached to one Database: an SQLite
/// update hook notes each row written, and Database's before-commit hook seals them inside the
/// transaction; a transaction that wrote a sealed row and reaches COMMIT unsealed (a write
/// outside Transaction) is rolled back. A row deleted from a sealed table refuses the commit.
class Sealer {
 public:
  /// Seals with `state` (saved to `key_path` each time the key moves forward). `clock` gives the
  /// wall time in ms (epochs follow it, never backwards).
  Sealer(Database& db, std::filesystem::path key_path, KeyState state,
         std::function<std::int64_t()> clock);
  /// A sealer without a key, for a database whose log is sealed when the key file is missing:
  /// every commit that wrote a sealed row is refused with `why`.
  Sealer(Database& db, std::string why);
  /// Detaches the hooks and erases the key.
  ~Sealer();
  Sealer(const Sealer&) = delete;
  Sealer& operator=(const Sealer&) = delete;

  /// Seals the rows noted since the last flush (inside the open transaction).
  Status flush();
  /// Notes every row of the sealed tables that has no seal yet (audit setup).
  Status note_unsealed_rows();
  /// The current epoch of the key held.
  std::int64_t epoch() const { return state_.epoch; }

 private:
  struct Pending {
    std::size_t table;
    std::int64_t row_id;
    bool operator==(const Pending&) const = default;
  };
  struct PendingHash {
    std::size_t operator()(const Pending& p) const noexcept {
      return std::hash<std::int64_t>{}(p.row_id) * 31 + p.table;
    }
  };
  static void on_update(void* self, int op, const char* db, const char* table,
                        long long row_id);  // NOLINT(google-runtime-int): SQLite's signature
  static int on_commit(void* self);
  static void on_rollback(void* self);
  void attach();
  Status move_to(std::int64_t epoch);

  Database* db_;
  std::filesystem::path key_path_;
  KeyState state_{};
  std::function<std::int64_t()> clock_;
  std::optional<std::string> refuse_;  // set: no key
  std::vector<Pending> pending_;
  std::unordered_set<Pending, PendingHash> seen_;
  std::optional<std::string> deleted_;  // a sealed row was deleted in this transaction
  std::array<sqlite3_stmt*, kSealedTables.size()> readers_{};  // SELECT * ... WHERE rowid = ?
};

/// How one tampering shows.
enum class Kind {
  kEdit,       ///< a row's content differs from its valid seal
  kRehash,     ///< a seal does not verify under the key (rewritten or recomputed without it)
  kDeleted,    ///< a sealed row, or seals in the middle of the chain, are gone
  kTruncated,  ///< the chain ends before a checkpoint's seal: tail rows deleted
  kEpochGap,   ///< the epoch jumps without a marker: seals of whole epochs removed
  kReordered,  ///< the epoch goes backwards
  kUnsealed,   ///< a row with no seal at all (added without the key)
};
/// Stable lowercase name ("edit", "rehash", ...).
const char* to_string(Kind kind);

/// One failure `verify` found.
struct Finding {
  Kind kind{Kind::kEdit};
  std::string table;         ///< the row's table ("seals" when only the seal chain is at fault)
  std::int64_t row_id{0};    ///< the row (or seal) at fault
  std::int64_t seal_seq{0};  ///< where in the chain; findings are ordered by it
  std::string message;
};

/// Outcome of verify.
struct Verdict {
  bool ok{true};
  std::int64_t seals_checked{0};
  std::int64_t rows_checked{0};
  std::int64_t recorded_epoch_gaps{0};  ///< markers: epochs with nothing sealed (not tampering)
  std::vector<Finding> findings;        ///< first one first; at most 100 kept
  std::int64_t findings_total{0};
  std::optional<Checkpoint> head;
  std::string message;  ///< one line: ok, or the first finding
};

/// Verifies the whole sealed record of `db` with the verification key `k0`, and each checkpoint
/// (a seal at least as far as each must exist with the MAC it names). Reads only.
Result<Verdict> verify(Database& db, const Key& k0, const std::vector<Checkpoint>& checkpoints);

/// `audit setup`: makes a fresh k(0) and returns it (the only copy off the box is what the caller
/// prints), seals every existing row of the sealed tables under epoch 0, records `audit.setup` by
/// `actor`, moves the key to epoch 1 and writes the key file (which must not exist). Refused
/// when the database is already sealed.
Result<Key> setup(Database& db, const std::filesystem::path& key_path, std::int64_t now_ms,
                  std::int64_t period_ms, const Actor& actor);

}  // namespace labgate::gateway::store::seal
