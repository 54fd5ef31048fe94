// libFuzzer target for what `labgatectl audit verify` reads: checkpoint text (a file, an MQTT
// payload, a report), the sealing key file's text, and the sealed database itself. The first
// byte picks the input; for the database, the rest drives edits, deletions and reorderings of a
// small sealed log in memory, and verify must neither crash nor call a changed log sound.
//
// Build with -DLABGATE_FUZZ=ON (clang); run: fuzz_seal_verify <corpus-dir> -max_len=4096
#include <sodium.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "labgate/gateway/store/seal.hpp"
#include "labgate/gateway/store/store.hpp"

namespace st = labgate::gateway::store;
namespace seal = labgate::gateway::store::seal;

namespace {

constexpr std::int64_t kNow = 1'790'000'000'000;

/// One sealed log built once, saved as SQL text, restored into a fresh in-memory database per run.
struct Fixture {
  seal::Key k0{};
  std::string dump;
  std::string digest_before;
};

std::string all_rows(sqlite3* db) {
  std::string out;
  for (const char* sql : {"SELECT quote(id)||quote(actor)||quote(detail) FROM audit_log",
                          "SELECT quote(id)||quote(at_ms)||quote(reason) FROM access_events",
                          "SELECT quote(seq)||quote(epoch)||quote(tbl)||quote(row_id)||"
                          "quote(digest)||quote(mac) FROM seals"}) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
    while (sqlite3_step(s) == SQLITE_ROW) {
      out += reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
      out += '\n';
    }
    sqlite3_finalize(s);
  }
  return out;
}

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture out;
    if (sodium_init() < 0) std::abort();
    char dir_template[] = "/tmp/fuzz-seal-XXXXXX";
    const char* dir = ::mkdtemp(dir_template);
    if (dir == nullptr) std::abort();
    const std::string db = std::string(dir) + "/f.db";
    st::StoreOptions o;
    o.clock = [] { return kNow; };
    {
      auto store = st::Store::open(db, o);
      if (!store) std::abort();
      auto k = seal::setup((*store)->database(), db + ".seal-key", kNow, 3'600'000, "fuzz");
      if (!k) std::abort();
      out.k0 = *k;
    }
    o.seal_key_file = db + ".seal-key";
    auto store = st::Store::open(db, o);
    if (!store) std::abort();
    for (int i = 0; i < 6; ++i) {
      if (!(*store)->audit().append_audit("a", "x", std::to_string(i), "{}")) std::abort();
      st::AccessEvent e;
      e.uuid = "u" + std::to_string(i);
      e.at_ms = kNow + i;
      e.kind = "tap";
      e.decision = st::Decision::kDenied;
      e.reason = "r";
      if (!(*store)->events().record_access(e, st::OutboxMessage{"t", "{}", false})) std::abort();
    }
    // The tables verify reads, as SQL, so each run starts from the same bytes in memory.
    sqlite3* h = (*store)->database().handle();
    for (const char* table : {"meta", "audit_log", "access_events", "sessions", "seals"}) {
      sqlite3_stmt* s = nullptr;
      const std::string q =
          std::string("SELECT sql FROM sqlite_schema WHERE name = '") + table + "'";
      sqlite3_prepare_v2(h, q.c_str(), -1, &s, nullptr);
      if (sqlite3_step(s) == SQLITE_ROW) {
        out.dump += reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
        out.dump += ";\n";
      }
      sqlite3_finalize(s);
    }
    out.dump += "ATTACH '" + db + "' AS src;";
    for (const char* table : {"meta", "audit_log", "access_events", "sessions", "seals"}) {
      out.dump += std::string("INSERT INTO main.") + table + " SELECT * FROM src." + table + ";";
    }
    out.dump += "DETACH src;";
    return out;
  }();
  return f;
}

void fuzz_database(const std::uint8_t* data, std::size_t size) {
  const auto& f = fixture();
  sqlite3* raw = nullptr;
  if (sqlite3_open(":memory:", &raw) != SQLITE_OK) std::abort();
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> h(raw, sqlite3_close);
  if (sqlite3_exec(raw, f.dump.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) return;
  const std::string before = all_rows(raw);
  static const char* const kTables[] = {"audit_log", "access_events", "seals"};
  for (std::size_t i = 0; i + 3 <= size && i < 60; i += 3) {
    const char* table = kTables[data[i] % 3];
    const std::string key = std::string_view(table) == "seals" ? "seq" : "id";
    const int row = 1 + data[i + 1] % 24;
    const int value = data[i + 2];
    std::string sql;
    switch ((data[i] / 3) % 4) {
      case 0:
        sql = std::string("DELETE FROM ") + table + " WHERE " + key + " = " + std::to_string(row);
        break;
      case 1:
        sql = std::string("UPDATE ") + table + " SET " + key + " = " + key + " + " +
              std::to_string(value) + " WHERE " + key + " = " + std::to_string(row);
        break;
      case 2:
        sql = std::string_view(table) == "seals"
                  ? "UPDATE seals SET epoch = " + std::to_string(value % 4) +
                        " WHERE seq = " + std::to_string(row)
              : std::string_view(table) == "audit_log"
                  ? "UPDATE audit_log SET detail = char(" + std::to_string(value) +
                        ") WHERE id = " + std::to_string(row)
                  : "UPDATE access_events SET at_ms = " + std::to_string(value) +
                        " WHERE id = " + std::to_string(row);
        break;
      default:
        sql = "UPDATE seals SET mac = randomblob(32) WHERE seq = " + std::to_string(row) + " AND " +
              std::to_string(value) + " > 200";
        break;
    }
    (void)sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr);
  }
  const bool changed = all_rows(raw) != before;
  // verify reads a Database: the tampered image goes to a file of its own.
  sqlite3_int64 bytes = 0;
  unsigned char* image = sqlite3_serialize(raw, "main", &bytes, 0);
  if (image == nullptr) return;
  char path_template[] = "/tmp/fuzz-seal-run-XXXXXX";
  const int fd = ::mkstemp(path_template);
  if (fd < 0) std::abort();
  const bool written = ::write(fd, image, static_cast<std::size_t>(bytes)) == bytes;
  ::close(fd);
  sqlite3_free(image);
  if (written) {
    st::DatabaseOptions o;
    o.read_only = true;
    if (auto db = st::Database::open(path_template, o)) {
      auto v = seal::verify(**db, f.k0, {});
      if (v && changed && v->ok) std::abort();  // a changed log passed as sound
      if (v && !changed && !v->ok) std::abort();
    }
  }
  ::unlink(path_template);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0:
      (void)seal::parse_checkpoints(text);
      break;
    case 1:
      (void)seal::parse_key_state(text);
      break;
    default:
      fuzz_database(data + 1, size - 1);
      break;
  }
  return 0;
}
