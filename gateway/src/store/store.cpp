#include "labgate/gateway/store/store.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>
#include <sodium.h>

#include <chrono>
#include <utility>

#include "rows.hpp"
#include "schema.hpp"

namespace labgate::gateway::store {

// A branch that appends a migration without bumping the version (or the reverse) must not build:
// the database would be stamped with a version whose tables it does not have.
static_assert(detail::kMigrations.size() == static_cast<std::size_t>(kSchemaVersion),
              "kSchemaVersion must equal the number of migrations");

namespace {

using namespace rows;  // NOLINT: shared private helpers

bool valid_technology(std::string_view t) {
  return t == "iso14443a" || t == "felica" || t == "desfire";
}

std::string site_key_id(const SiteKey& key) {
  static constexpr std::string_view kLabel = "labgate site key id";
  std::array<std::uint8_t, 16> id{};
  crypto_generichash(id.data(), id.size(), reinterpret_cast<const unsigned char*>(kLabel.data()),
                     kLabel.size(), key.data(), key.size());
  return to_hex(id);
}

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---- the context the repositories share ----

StoreContext::StoreContext(Database& db, StoreOptions options)
    : db_(&db), options_(std::move(options)) {
  if (!options_.clock) options_.clock = system_now_ms;
}

std::int64_t StoreContext::now_ms() const {
  return options_.clock();
}

std::string StoreContext::today() const {
  const auto now =
      std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(options_.clock()));
  try {
    const auto local = date::make_zoned(options_.time_zone, now).get_local_time();
    return date::format("%F", date::floor<date::days>(local));
  } catch (const std::exception&) {
    return date::format("%F", date::floor<date::days>(now));
  }
}

Result<std::vector<std::uint8_t>> StoreContext::credential_hash(
    std::string_view technology, std::span<const std::uint8_t> identifier) const {
  if (!options_.site_key) {
    return invalid("no site key configured: cannot hash card identifiers (set [site] key)");
  }
  if (!valid_technology(technology)) {
    return invalid(
        fmt::format("unknown card technology '{}' (iso14443a, felica, desfire)", technology));
  }
  std::vector<std::uint8_t> out(crypto_generichash_BYTES);
  crypto_generichash_state st;
  crypto_generichash_init(&st, options_.site_key->data(), options_.site_key->size(), out.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(technology.data()),
                            technology.size());
  const unsigned char separator = 0;
  crypto_generichash_update(&st, &separator, 1);
  crypto_generichash_update(&st, identifier.data(), identifier.size());
  crypto_generichash_final(&st, out.data(), out.size());
  return out;
}

// ---- open / migrate ----

Store::Store(std::unique_ptr<Database> db, StoreOptions options)
    : db_(std::move(db)),
      context_(*db_, std::move(options)),
      taps_(context_),
      events_(context_),
      staff_(context_, taps_),
      audit_(context_),
      ledger_(context_, taps_),
      members_(context_, taps_, ledger_),
      bookings_(context_, taps_) {}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& path,
                                           StoreOptions options) {
  if (sodium_init() < 0) return Error{ErrorKind::kInternal, 0, "libsodium failed to initialise"};
  try {
    (void)date::locate_zone(options.time_zone);
  } catch (const std::exception& e) {
    return invalid(fmt::format("unknown time zone '{}': {}", options.time_zone, e.what()));
  }
  auto db = Database::open(path, options.database);
  if (!db) return db.error();
  std::unique_ptr<Store> store(new Store(std::move(*db), std::move(options)));
  LABGATE_TRY(store->migrate());
  LABGATE_TRY(store->check_site_key());
  LABGATE_TRY(store->attach_sealer());
  return store;
}

Result<int> Store::schema_version() {
  auto v = db_->query_int64("PRAGMA user_version");
  if (!v) return v.error();
  return static_cast<int>(*v);
}

Status Store::migrate() {
  const auto describe = [this](std::string_view what) {
    return Error{ErrorKind::kUnavailable, 0, fmt::format("{}: {}", db_->path().string(), what)};
  };
  // The common case (already current) takes no write lock, so labgatectl opening the file
  // never waits for the daemon. A migration re-checks inside its write transaction because
  // another process may have migrated meanwhile.
  bool locked = false;
  for (;;) {
    std::optional<Transaction> tx;
    if (locked) {
      auto t = Transaction::begin(*db_);
      if (!t) return t.error();
      tx.emplace(std::move(*t));
    }
    auto version = db_->query_int64("PRAGMA user_version");
    if (!version) return version.error();
    auto app_id = db_->query_int64("PRAGMA application_id");
    if (!app_id) return app_id.error();
    auto tables = db_->query_int64("SELECT count(*) FROM sqlite_schema");
    if (!tables) return tables.error();
    if (*app_id != kApplicationId && (*app_id != 0 || *tables != 0)) {
      return describe("not a labgate database (wrong application_id)");
    }
    if (*version > kSchemaVersion) {
      return describe(fmt::format(
          "database schema version {} is newer than this program supports ({}); upgrade labgate",
          *version, kSchemaVersion));
    }
    if (*version == kSchemaVersion) return {};
    if (db_->read_only()) {
      return describe(
          fmt::format("database schema version {} needs migrating to {}; open it "
                      "read-write once",
                      *version, kSchemaVersion));
    }
    if (!locked) {
      locked = true;
      continue;
    }
    const int next = static_cast<int>(*version) + 1;
    LABGATE_TRY(db_->execute_script(detail::kMigrations[static_cast<std::size_t>(next - 1)]));
    // PRAGMAs take no bound parameters; both values are integers produced here.
    LABGATE_TRY(db_->execute_script(fmt::format(
        "PRAGMA user_version = {}; PRAGMA application_id = {};", next, kApplicationId)));
    LABGATE_TRY(tx->commit());
  }
}

Status Store::attach_sealer() {
  const auto& options = context_.options();
  if (db_->read_only()) return {};
  std::error_code ec;
  if (options.seal_key_file &&
      (options.seal_required ||
       std::filesystem::symlink_status(*options.seal_key_file, ec).type() !=
           std::filesystem::file_type::not_found)) {
    const auto& path = *options.seal_key_file;
    auto state = seal::load_key_state(path);
    if (!state) return state.error();
    sealer_ = std::make_unique<seal::Sealer>(*db_, path, *state,
                                             [ctx = &context_] { return ctx->now_ms(); });
    sodium_memzero(state->key.data(), state->key.size());
    sealing_ = true;
    return {};
  }
  auto sealed = meta("seal_key_id");
  if (!sealed) return sealed.error();
  // A connection opened without a key path must not become the way round the seal: once the
  // record is sealed, every writer either seals or refuses.
  if (*sealed) {
    sealer_ = std::make_unique<seal::Sealer>(
        *db_, options.seal_key_file
                  ? fmt::format("the audit record is sealed but the sealing key file {} is "
                                "missing: nothing is written unsealed (see docs/KEYS.md)",
                                options.seal_key_file->string())
                  : std::string("the audit record is sealed but no sealing key file was given: "
                                "nothing is written unsealed (see docs/KEYS.md)"));
  }
  return {};
}

Status Store::check_site_key() {
  const auto& key = context_.options().site_key;
  if (!key) return {};
  const std::string id = site_key_id(*key);
  auto stored = meta("site_key_id");
  if (!stored) return stored.error();
  if (*stored) {
    if (**stored != id) {
      return invalid(
          fmt::format("{}: the site key does not match the key this database's "
                      "credentials were enrolled with (key id {})",
                      db_->path().string(), **stored));
    }
    return {};
  }
  if (db_->read_only()) return {};
  return set_meta("site_key_id", id);
}

// ---- meta ----

Result<std::optional<std::string>> Store::meta(std::string_view key) {
  auto stmt = db_->prepare("SELECT value FROM meta WHERE key = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, key);
  return first<std::string>(*stmt, [](const Statement& s) { return s.column_text(0); });
}

Status Store::set_meta(std::string_view key, std::string_view value) {
  auto stmt = db_->prepare(
      "INSERT INTO meta (key, value) VALUES (?1, ?2) "
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  if (!stmt) return stmt.error();
  stmt->bind(1, key).bind(2, value);
  return stmt->run();
}

}  // namespace labgate::gateway::store
