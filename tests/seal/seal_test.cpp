// The sealed record (issue 19): the ratchet and MACs against vectors computed independently
// (Python's hashlib BLAKE2b with the same salt, personalisation and framing), and a real SQLite
// file tampered with the way a local user would: edits, recomputed seals, deleted middle and tail
// rows, removed epochs, and random edits, deletions and reorderings.
#include "labgate/gateway/store/seal.hpp"

#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "labgate/gateway/store/store.hpp"

namespace st = labgate::gateway::store;
namespace seal = labgate::gateway::store::seal;
namespace fs = std::filesystem;

namespace {

template <typename T>
T must(st::Result<T> r) {
  if (!r) FAIL(r.error().message);
  return std::move(r).value();
}
void must(const st::Status& s) {
  if (!s) FAIL(s.error().message);
}

class Dir {
 public:
  Dir() {
    path_ = fs::temp_directory_path() /
            ("labgate-seal-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kStart = 1'790'000'000'000;

/// A sealed database: setup at kStart, then `audit` rows and `events` access events written
/// through the Store with the sealing key, on a clock the test moves.
struct Sealed {
  Dir dir;
  fs::path db = dir.path() / "t.db";
  fs::path key_file = seal::default_key_path(db);
  std::int64_t now = kStart;
  int uuids = 0;
  seal::Key k0{};

  Sealed() {
    auto store = must(st::Store::open(db, options(false)));
    must(store->audit().append_audit("alice", "before.setup", "x", "{}"));
    k0 = must(seal::setup(store->database(), key_file, now, kHour, "setup"));
  }

  st::StoreOptions options(bool with_key) {
    st::StoreOptions o;
    o.clock = [this] { return now; };
    if (with_key) o.seal_key_file = key_file;
    return o;
  }
  std::unique_ptr<st::Store> open() { return must(st::Store::open(db, options(true))); }

  void write(st::Store& store, int audits, int events) {
    for (int i = 0; i < audits; ++i) {
      must(store.audit().append_audit("bob", "test.action", "s" + std::to_string(i), "{}"));
    }
    for (int i = 0; i < events; ++i) {
      st::AccessEvent e;
      e.uuid = "u-" + std::to_string(++uuids);
      e.at_ms = now;
      e.door_id = "main";
      e.kind = "tap";
      e.decision = st::Decision::kDenied;
      e.reason = "unknown_card";
      (void)must(store.events().record_access(e, st::OutboxMessage{"t", "{}", false}));
    }
  }

  void sql(const std::string& text) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(h, text.c_str(), nullptr, nullptr, &err);
    const std::string message = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(h);
    REQUIRE(rc == SQLITE_OK);
    INFO(message);
  }

  seal::Verdict verify(const std::vector<seal::Checkpoint>& cps = {}) {
    st::StoreOptions o;
    o.database.read_only = true;
    auto store = must(st::Store::open(db, o));
    return must(seal::verify(store->database(), k0, cps));
  }
};

}  // namespace

TEST_CASE("ratchet, MAC key, row digest and seal MAC match independent vectors", "[seal]") {
  REQUIRE(sodium_init() >= 0);
  seal::Key k0{};
  for (std::size_t i = 0; i < k0.size(); ++i) k0[i] = static_cast<std::uint8_t>(i);
  const auto k1 = seal::next_key(k0);
  CHECK(st::to_hex(k1) == "d4cc578b610e03c530e4517b8041006aebbe9f537c84887afe69ba24bf27f569");
  CHECK(st::to_hex(seal::ratchet(k0, 2)) ==
        "2986be274dec41ec4a102ae4802953738862f3784c94c2551d6632d94e4bef54");
  CHECK(seal::ratchet(k0, 0) == k0);
  CHECK(st::to_hex(seal::mac_key(k0)) ==
        "45b72d7db589646dee6d9aa0edf06246d74d54f3ac767a603307261b96af4b1b");
  CHECK(seal::key_id(k0) == "56ba55ad1bc514fe");

  std::vector<seal::Column> cols(6);
  cols[0] = {"id", SQLITE_INTEGER, 7, 0, ""};
  cols[1] = {"actor", SQLITE_TEXT, 0, 0, "alice"};
  cols[2] = {"score", SQLITE_FLOAT, 0, 1.5, ""};
  cols[3] = {"detail", SQLITE_NULL, 0, 0, ""};
  cols[4] = {"at_ms", SQLITE_INTEGER, 1000, 0, ""};
  cols[5] = {"blob", SQLITE_BLOB, 0, 0, std::string("\x01\x02", 2)};
  const auto digest = seal::row_digest("audit_log", cols);
  CHECK(st::to_hex(digest) == "c1d0c0cef8281771c2ad82069172b30e8bbd91ec90438ab8955da10d19bac131");
  // Column order does not matter (read by name); any value does.
  std::reverse(cols.begin(), cols.end());
  CHECK(seal::row_digest("audit_log", cols) == digest);
  cols[0].bytes = "\x01\x03";
  CHECK(seal::row_digest("audit_log", cols) != digest);
  CHECK(seal::row_digest("sessions", cols) != seal::row_digest("audit_log", cols));

  seal::SealRow row{42, 1, "audit_log", 7, digest, {}};
  seal::Tag prev{};
  prev.fill(0xaa);
  CHECK(st::to_hex(seal::seal_mac(k1, row, prev)) ==
        "aa7c3b5577a9ed4130480668800bcaa5900139e391f4537f502b0ad6388137ef");
  CHECK(seal::seal_mac(k0, row, prev) != seal::seal_mac(k1, row, prev));
}

TEST_CASE("checkpoint lines round-trip and malformed ones are refused", "[seal]") {
  seal::Checkpoint cp{1234, 5, "access_events", {}};
  cp.mac.fill(0x5c);
  const auto line = seal::format_checkpoint(cp);
  auto parsed = must(seal::parse_checkpoints("statement,M1\n\"" + line + "\"\n"));
  REQUIRE(parsed.size() == 1);
  CHECK(parsed[0].seq == 1234);
  CHECK(parsed[0].epoch == 5);
  CHECK(parsed[0].table == "access_events");
  CHECK(parsed[0].mac == cp.mac);
  CHECK_FALSE(seal::parse_checkpoints("nothing here").ok());
  CHECK_FALSE(seal::parse_checkpoints("labgate-checkpoint v1 seq=x epoch=1 table=a mac=00").ok());
}

TEST_CASE("a sealed log verifies; rows before setup are sealed under epoch 0", "[seal]") {
  Sealed s;
  {
    auto store = s.open();
    CHECK(store->sealing());
    s.write(*store, 3, 5);
  }
  const auto v = s.verify();
  INFO(v.message);
  CHECK(v.ok);
  CHECK(v.rows_checked == 2 + 3 + 5);  // before.setup, audit.setup, then the writes
  CHECK(v.seals_checked >= 10);
  // The box keeps k(1) only: k(0) (the verification key) is not in the file.
  const auto state = must(seal::load_key_state(s.key_file));
  CHECK(state.epoch == 1);
  CHECK(state.key == seal::next_key(s.k0));
  struct stat sb {};
  REQUIRE(::stat(s.key_file.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0600);
}

TEST_CASE("an edited row is named, and so is one whose seal was recomputed without the key",
          "[seal]") {
  Sealed s;
  {
    auto store = s.open();
    s.write(*store, 4, 2);
  }
  SECTION("edit") {
    s.sql("UPDATE audit_log SET actor = 'root' WHERE id = 4");
    const auto v = s.verify();
    REQUIRE_FALSE(v.ok);
    CHECK(v.findings.front().kind == seal::Kind::kEdit);
    CHECK(v.findings.front().table == "audit_log");
    CHECK(v.findings.front().row_id == 4);
  }
  SECTION("edit + rehash") {
    // The attacker edits the row and recomputes its digest (public) and a MAC with a key of
    // their own: the seal no longer verifies.
    s.sql("UPDATE audit_log SET actor = 'root' WHERE id = 4");
    auto store = s.open();
    auto& db = store->database();
    const auto seq =
        must(db.query_int64("SELECT seq FROM seals WHERE tbl = 'audit_log' AND row_id = 4"));
    seal::Key forged{};
    forged.fill(1);
    // A digest of the edited row, from every column, as verify computes it.
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(db.handle(), "SELECT * FROM audit_log WHERE id = 4", -1, &q,
                               nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    std::vector<seal::Column> cols;
    for (int i = 0; i < sqlite3_column_count(q); ++i) {
      seal::Column c;
      c.name = sqlite3_column_name(q, i);
      c.type = sqlite3_column_type(q, i);
      if (c.type == SQLITE_INTEGER) c.integer = sqlite3_column_int64(q, i);
      if (c.type == SQLITE_TEXT || c.type == SQLITE_BLOB) {
        c.bytes.assign(static_cast<const char*>(sqlite3_column_blob(q, i)),
                       static_cast<std::size_t>(sqlite3_column_bytes(q, i)));
      }
      cols.push_back(c);
    }
    sqlite3_finalize(q);
    const auto digest = seal::row_digest("audit_log", cols);
    store.reset();
    s.sql("UPDATE seals SET digest = x'" + st::to_hex(digest) + "', mac = x'" + st::to_hex(forged) +
          "' WHERE seq = " + std::to_string(seq));
    const auto v = s.verify();
    REQUIRE_FALSE(v.ok);
    CHECK(v.findings.front().kind == seal::Kind::kRehash);
    CHECK(v.findings.front().seal_seq == seq);
    CHECK(v.findings.front().row_id == 4);
  }
}

TEST_CASE("deleted middle rows show; deleted tail rows show against a checkpoint", "[seal]") {
  Sealed s;
  seal::Checkpoint mid{};
  {
    auto store = s.open();
    s.write(*store, 3, 3);
    mid = *must(store->seal_head());
    s.write(*store, 2, 2);
  }
  const auto head = [&] {
    auto store = s.open();
    return *must(store->seal_head());
  }();
  REQUIRE(s.verify({mid, head}).ok);

  SECTION("a middle row alone") {
    s.sql("DELETE FROM access_events WHERE id = 2");
    const auto v = s.verify();
    REQUIRE_FALSE(v.ok);
    CHECK(v.findings.front().kind == seal::Kind::kDeleted);
    CHECK(v.findings.front().table == "access_events");
    CHECK(v.findings.front().row_id == 2);
  }
  SECTION("a middle row with its seal") {
    s.sql(
        "DELETE FROM seals WHERE tbl = 'access_events' AND row_id = 2; "
        "DELETE FROM access_events WHERE id = 2");
    const auto v = s.verify();
    REQUIRE_FALSE(v.ok);
    CHECK(v.findings.front().kind == seal::Kind::kDeleted);
  }
  SECTION("the last rows with their seals") {
    // The attacker removes the last two events and their seals: the chain alone looks whole.
    s.sql("DELETE FROM seals WHERE seq > " + std::to_string(head.seq - 2) +
          "; DELETE FROM access_events WHERE id IN (SELECT max(id) FROM access_events); "
          "DELETE FROM access_events WHERE id IN (SELECT max(id) FROM access_events)");
    CHECK(s.verify().ok);
    CHECK(s.verify({mid}).ok);
    const auto v = s.verify({mid, head});
    REQUIRE_FALSE(v.ok);
    CHECK(v.findings.front().kind == seal::Kind::kTruncated);
    CHECK(v.findings.front().row_id == head.seq);
  }
}

TEST_CASE("epochs move the key forward; idle epochs are recorded, removed epochs show", "[seal]") {
  Sealed s;
  {
    auto store = s.open();
    s.write(*store, 1, 1);  // epoch 1
    s.now += 5 * kHour;     // epochs 2..5 pass with nothing written
    s.write(*store, 1, 1);  // epoch 6, after a marker
    s.now += kHour;
    s.write(*store, 1, 1);  // epoch 7
    s.now += kHour;
    s.write(*store, 1, 1);  // epoch 8
  }
  const auto state = must(seal::load_key_state(s.key_file));
  CHECK(state.epoch == 8);
  CHECK(state.key == seal::ratchet(s.k0, 8));
  auto v = s.verify();
  INFO(v.message);
  REQUIRE(v.ok);
  CHECK(v.recorded_epoch_gaps == 1);

  SECTION("the seals and rows of a whole epoch removed") {
    s.sql(
        "DELETE FROM audit_log WHERE id IN (SELECT row_id FROM seals WHERE epoch = 7 AND "
        "tbl = 'audit_log'); DELETE FROM access_events WHERE id IN (SELECT row_id FROM seals "
        "WHERE epoch = 7 AND tbl = 'access_events'); DELETE FROM seals WHERE epoch = 7");
    v = s.verify();
    REQUIRE_FALSE(v.ok);
    CHECK(v.findings.front().kind == seal::Kind::kEpochGap);
  }
}

TEST_CASE("the sealer: sessions resealed when closed, deletes and keyless writes refused",
          "[seal]") {
  Sealed s;
  {
    auto store = s.open();
    auto& db = store->database();
    auto tx = must(st::Transaction::begin(db));
    must(db.execute_script(
        "INSERT INTO members (id, member_no, name, created_at) VALUES (1, 'M1', 'A', 0);"
        "INSERT INTO sessions (uuid, member_id, kind, started_at_ms) VALUES "
        "('s1', 1, 'coworking', 10)"));
    must(tx.commit());
    // Any write path is sealed: the UPDATE gets a new seal, which must match the row.
    auto tx2 = must(st::Transaction::begin(db));
    must(
        db.execute_script("UPDATE sessions SET ended_at_ms = 20, end_reason = 'tap' "
                          "WHERE uuid = 's1'"));
    must(tx2.commit());
    CHECK(must(db.query_int64("SELECT count(*) FROM seals WHERE tbl = 'sessions'")) == 2);
    // A delete of a sealed row is refused, and an autocommit write outside a Transaction
    // (which would skip the seal) is rolled back.
    auto tx3 = must(st::Transaction::begin(db));
    must(db.execute_script("DELETE FROM sessions WHERE uuid = 's1'"));
    CHECK_FALSE(tx3.commit().ok());
    CHECK_FALSE(db.execute_script("INSERT INTO audit_log (at_ms, actor, action, subject, detail, "
                                  "prev_hash, hash) VALUES (1, 'x', 'y', 'z', '', x'', x'')")
                    .ok());
    CHECK(must(db.query_int64("SELECT count(*) FROM sessions")) == 1);
  }
  CHECK(s.verify().ok);
  s.sql("UPDATE sessions SET ended_at_ms = 15");
  CHECK(s.verify().findings.front().kind == seal::Kind::kEdit);
  s.sql("UPDATE sessions SET ended_at_ms = 20");
  REQUIRE(s.verify().ok);

  // A row written without the key (here: straight into the file) has no seal.
  s.sql(
      "INSERT INTO audit_log (at_ms, actor, action, subject, detail, prev_hash, hash) "
      "VALUES (1, 'x', 'y', 'z', '', x'', x'')");
  const auto v = s.verify();
  REQUIRE_FALSE(v.ok);
  CHECK(v.findings.front().kind == seal::Kind::kUnsealed);

  // With the key file gone, labgatectl's store refuses to write sealed rows; the daemon's (which
  // requires the key) does not open.
  fs::remove(s.key_file);
  auto keyless = must(st::Store::open(s.db, s.options(true)));
  CHECK_FALSE(keyless->sealing());
  const auto refused = keyless->audit().append_audit("bob", "a", "b", "{}");
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("docs/KEYS.md"));
  auto required = s.options(true);
  required.seal_required = true;
  const auto daemon = st::Store::open(s.db, required);
  REQUIRE_FALSE(daemon.ok());
  CHECK_THAT(daemon.error().message, Catch::Contains("missing"));
}

TEST_CASE("a store opened without any key path writes nothing unsealed into a sealed record",
          "[seal]") {
  Sealed s;
  // No key file option at all (a program that forgot it): before the fix this connection
  // attached no sealer and its rows went in unsealed, to be reported only at the next verify.
  auto keyless = must(st::Store::open(s.db, s.options(false)));
  CHECK_FALSE(keyless->sealing());
  const auto refused = keyless->audit().append_audit("bob", "a", "b", "{}");
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("no sealing key file"));
  CHECK(s.verify().ok);
}

TEST_CASE("setup runs once", "[seal]") {
  Sealed s;
  auto store = s.open();
  CHECK_FALSE(seal::setup(store->database(), s.dir.path() / "other.key", s.now, kHour, "x").ok());
  CHECK_FALSE(seal::setup(store->database(), s.key_file, s.now, kHour, "x").ok());
}

TEST_CASE("property: random edits, deletions and reorderings are always detected", "[seal]") {
  Sealed s;
  {
    auto store = s.open();
    for (int e = 0; e < 3; ++e) {
      s.write(*store, 4, 6);
      s.now += kHour;
    }
  }
  REQUIRE(s.verify().ok);
  const auto head = [&] {
    auto store = s.open();
    return *must(store->seal_head());
  }();
  const fs::path pristine = s.dir.path() / "pristine.db";
  fs::copy_file(s.db, pristine);
  std::mt19937 rng(20261206);
  const std::vector<std::string> tables = {"audit_log", "access_events", "seals"};
  for (int round = 0; round < 150; ++round) {
    fs::copy_file(pristine, s.db, fs::copy_options::overwrite_existing);
    const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    const auto& table = tables[static_cast<std::size_t>(pick(3))];
    const std::string id = table == "seals" ? "seq" : "id";
    const std::string nth = "(SELECT " + id + " FROM " + table + " ORDER BY " + id +
                            " LIMIT 1 OFFSET " + std::to_string(pick(7)) + ")";
    const std::string other = "(SELECT " + id + " FROM " + table + " ORDER BY " + id +
                              " LIMIT 1 OFFSET " + std::to_string(7 + pick(7)) + ")";
    std::string what;
    switch (pick(4)) {
      case 0:  // edit one column
        what = table == "audit_log" ? "UPDATE audit_log SET detail = detail || ' ' WHERE id = "
               : table == "access_events" ? "UPDATE access_events SET at_ms = at_ms + 1 WHERE id = "
                                          : "UPDATE seals SET row_id = row_id + 1 WHERE seq = ";
        what += nth;
        break;
      case 1:  // delete one row
        what = "DELETE FROM " + table + " WHERE " + id + " = " + nth;
        break;
      case 2:  // reorder: two rows swap places
        what = "CREATE TEMP TABLE ab AS SELECT " + nth + " AS a, " + other + " AS b; UPDATE " +
               table + " SET " + id + " = -1 WHERE " + id + " = (SELECT a FROM ab); UPDATE " +
               table + " SET " + id + " = (SELECT a FROM ab) WHERE " + id +
               " = (SELECT b FROM ab); UPDATE " + table + " SET " + id +
               " = (SELECT b FROM ab) WHERE " + id + " = -1";
        break;
      default:  // the last rows with their seals (truncation; checkpoint kept)
        what = "DELETE FROM seals WHERE seq > " + std::to_string(head.seq - 1 - pick(5)) + ";";
        break;
    }
    INFO("round " << round << ": " << what);
    s.sql(what);
    const auto v = s.verify({head});
    CHECK_FALSE(v.ok);
  }
}
