#include "labgate/gateway/store/store.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
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

using json = nlohmann::json;

constexpr std::string_view kMemberCols =
    "m.id, m.member_no, m.name, m.email, m.status, m.plan_id, m.valid_from, m.valid_until, "
    "m.created_at, m.approved_at, m.suspended_reason";
constexpr int kMemberColCount = 11;

constexpr std::string_view kCredentialCols =
    "c.id, c.member_id, c.technology, c.id_hash, c.label, c.enrolled_at, c.revoked_at, "
    "c.revoked_reason, c.issued_key_version";
constexpr int kCredentialColCount = 9;

constexpr std::string_view kPlanCols =
    "p.id, p.code, p.name, p.windows, p.holidays_allowed, p.closure_allowed";

Plan read_plan(const Statement& s, int c) {
  Plan p;
  p.id = s.column_int64(c + 0);
  p.code = s.column_text(c + 1);
  p.name = s.column_text(c + 2);
  p.windows = s.column_text(c + 3);
  p.holidays_allowed = s.column_bool(c + 4);
  p.closure_allowed = s.column_bool(c + 5);
  return p;
}

constexpr std::string_view kMachineSelect =
    "SELECT mc.id, mc.name, mc.certification_type, mc.session_mode, "
    "mc.inspection_interval_days, mc.locked_out, mc.lockout_reason, mc.needs_checkoff, "
    "mc.created_at, i.done_on, i.next_due FROM machines mc "
    "LEFT JOIN inspections i ON i.id = (SELECT i2.id FROM inspections i2 "
    "WHERE i2.machine_id = mc.id ORDER BY i2.done_on DESC, i2.id DESC LIMIT 1) ";

Machine read_machine(const Statement& s) {
  Machine m;
  m.id = s.column_text(0);
  m.name = s.column_text(1);
  m.certification_type = s.column_opt_text(2);
  m.session_mode = s.column_text(3);
  m.inspection_interval_days = s.column_int64(4);
  m.locked_out = s.column_bool(5);
  m.lockout_reason = s.column_opt_text(6);
  m.needs_checkoff = s.column_bool(7);
  m.created_at_ms = s.column_int64(8);
  m.last_inspection_on = s.column_opt_text(9);
  m.next_inspection_due = s.column_opt_text(10);
  return m;
}

constexpr std::string_view kSessionSelect =
    "SELECT s.id, s.uuid, s.member_id, s.machine_id, s.kind, s.started_at_ms, s.ended_at_ms, "
    "s.end_reason, s.measured_seconds, m.member_no FROM sessions s "
    "JOIN members m ON m.id = s.member_id ";

bool valid_technology(std::string_view t) {
  return t == "iso14443a" || t == "felica" || t == "desfire";
}

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

// ---- open / migrate ----

Store::Store(std::unique_ptr<Database> db, StoreOptions options)
    : db_(std::move(db)), options_(std::move(options)) {
  if (!options_.clock) options_.clock = system_now_ms;
}

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

Status Store::check_site_key() {
  if (!options_.site_key) return {};
  const std::string id = site_key_id(*options_.site_key);
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

std::int64_t Store::now_ms() const {
  return options_.clock();
}

std::string Store::today() const {
  const auto now =
      std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(options_.clock()));
  try {
    const auto local = date::make_zoned(options_.time_zone, now).get_local_time();
    return date::format("%F", date::floor<date::days>(local));
  } catch (const std::exception&) {
    return date::format("%F", date::floor<date::days>(now));
  }
}

Result<std::vector<std::uint8_t>> Store::credential_hash(
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

// ---- tap path ----

Result<std::optional<CredentialMatch>> Store::find_credential(
    std::string_view technology, std::span<const std::uint8_t> identifier) {
  auto hash = credential_hash(technology, identifier);
  if (!hash) return hash.error();
  static const std::string kSql = fmt::format(
      "SELECT {}, {}, {} FROM credentials c JOIN members m ON m.id = c.member_id "
      "LEFT JOIN plans p ON p.id = m.plan_id WHERE c.id_hash = ?1",
      kCredentialCols, kMemberCols, kPlanCols);
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, std::span<const std::uint8_t>(*hash));
  return first<CredentialMatch>(*stmt, [](const Statement& s) {
    CredentialMatch m;
    m.credential = read_credential_at(s, 0);
    m.member = read_member_at(s, kCredentialColCount);
    constexpr int kPlanAt = kCredentialColCount + kMemberColCount;
    if (!s.is_null(kPlanAt)) m.plan = read_plan(s, kPlanAt);
    return m;
  });
}

Result<std::optional<Certification>> Store::valid_certification(std::int64_t member_id,
                                                                std::string_view type_code,
                                                                std::string_view date) {
  static const std::string kSql = std::string(kCertSelect) +
                                  "WHERE ce.member_id = ?1 AND ce.type_code = ?2 "
                                  "AND ce.revoked_at IS NULL AND ce.granted_on <= ?3 "
                                  "AND (ce.expires_on IS NULL OR ce.expires_on >= ?3) "
                                  "ORDER BY ce.expires_on IS NULL DESC, ce.expires_on DESC LIMIT 1";
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, member_id).bind(2, type_code).bind(3, date);
  return first<Certification>(*stmt, read_cert);
}

Result<std::optional<Machine>> Store::machine(std::string_view machine_id) {
  static const std::string kSql = std::string(kMachineSelect) + "WHERE mc.id = ?1";
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, machine_id);
  return first<Machine>(*stmt, read_machine);
}

Result<std::optional<Session>> Store::open_session_for_machine(std::string_view machine_id) {
  static const std::string kSql =
      std::string(kSessionSelect) + "WHERE s.machine_id = ?1 AND s.ended_at_ms IS NULL";
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, machine_id);
  return first<Session>(*stmt, read_session);
}

Result<std::optional<Session>> Store::open_coworking_session(std::int64_t member_id) {
  static const std::string kSql = std::string(kSessionSelect) +
                                  "WHERE s.member_id = ?1 AND s.ended_at_ms IS NULL "
                                  "AND s.kind = 'coworking'";
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, member_id);
  return first<Session>(*stmt, read_session);
}

Result<std::optional<Member>> Store::member_by_no(std::string_view member_no) {
  static const std::string kSql =
      fmt::format("SELECT {} FROM members m WHERE m.member_no = ?1", kMemberCols);
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, member_no);
  return first<Member>(*stmt, [](const Statement& s) { return read_member_at(s, 0); });
}

// ---- tap path writes ----

Result<std::int64_t> Store::next_seq() {
  auto stmt = db_->prepare(
      "UPDATE gateway_seq SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq");
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return Error{ErrorKind::kInternal, 0, "gateway_seq row is missing"};
  const std::int64_t seq = stmt->column_int64(0);
  LABGATE_TRY(stmt->run());  // finishes the UPDATE ... RETURNING
  return seq;
}

Result<std::int64_t> Store::last_seq() {
  return db_->query_int64("SELECT last_seq FROM gateway_seq WHERE id = 1");
}

Status Store::insert_event(AccessEvent& event) {
  auto stmt = db_->prepare(
      "INSERT INTO access_events (uuid, at_ms, seq, reader_id, door_id, machine_id, member_id, "
      "credential_id, kind, decision, reason, detail) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  if (!stmt) return stmt.error();
  stmt->bind(1, event.uuid)
      .bind(2, event.at_ms)
      .bind(3, event.seq)
      .bind(4, event.reader_id)
      .bind(5, event.door_id)
      .bind(6, event.machine_id)
      .bind(7, event.member_id)
      .bind(8, event.credential_id)
      .bind(9, event.kind)
      .bind(10, to_string(event.decision))
      .bind(11, event.reason)
      .bind(12, event.detail);
  return stmt->run();
}

Status Store::insert_outbox(std::int64_t seq, const OutboxMessage& message,
                            std::int64_t created_at_ms) {
  auto stmt = db_->prepare(
      "INSERT INTO outbox (seq, topic, payload, retain, created_at_ms) VALUES (?1, ?2, ?3, ?4, "
      "?5)");
  if (!stmt) return stmt.error();
  stmt->bind(1, seq)
      .bind(2, message.topic)
      .bind(3, message.payload)
      .bind_bool(4, message.retain)
      .bind(5, created_at_ms);
  return stmt->run();
}

Status Store::insert_outbox(std::int64_t seq, std::string topic, bool retain,
                            const PayloadBuilder& payload, std::int64_t created_at_ms) {
  OutboxMessage message{std::move(topic), {}, retain};
  try {
    message.payload = payload(seq);
  } catch (const std::exception& e) {
    return invalid(fmt::format("building the outbox payload failed: {}", e.what()));
  }
  return insert_outbox(seq, message, created_at_ms);
}

namespace {
// The payload of a message written whole by the caller.
PayloadBuilder fixed(const OutboxMessage& outbox) {
  return [&outbox](std::int64_t) { return outbox.payload; };
}

Status check_event(const AccessEvent& event, std::string_view topic) {
  LABGATE_TRY(require_text(event.uuid, "event uuid"));
  LABGATE_TRY(require_text(event.kind, "event kind"));
  LABGATE_TRY(require_text(topic, "outbox topic"));
  return {};
}
}  // namespace

Result<std::int64_t> Store::record_access(const AccessEvent& event, const OutboxMessage& outbox) {
  return record_access(event, outbox.topic, outbox.retain, fixed(outbox));
}

Result<std::int64_t> Store::record_access(const AccessEvent& event, std::string topic, bool retain,
                                          const PayloadBuilder& payload) {
  LABGATE_TRY(check_event(event, topic));
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  auto seq = next_seq();
  if (!seq) return seq.error();
  AccessEvent row = event;
  row.seq = *seq;
  LABGATE_TRY(insert_event(row));
  LABGATE_TRY(insert_outbox(*seq, std::move(topic), retain, payload, event.at_ms));
  LABGATE_TRY(tx->commit());
  return *seq;
}

Result<SessionWrite> Store::open_session(const NewSession& session, const AccessEvent& event,
                                         const OutboxMessage& outbox) {
  return open_session(session, event, outbox.topic, outbox.retain, fixed(outbox));
}

Result<SessionWrite> Store::open_session(const NewSession& session, const AccessEvent& event,
                                         std::string topic, bool retain,
                                         const PayloadBuilder& payload) {
  LABGATE_TRY(require_text(session.uuid, "session uuid"));
  if ((session.kind == SessionKind::kMachine) != session.machine_id.has_value()) {
    return invalid("a machine session needs a machine id; a coworking session has none");
  }
  LABGATE_TRY(check_event(event, topic));
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  auto insert = db_->prepare(
      "INSERT INTO sessions (uuid, member_id, machine_id, kind, started_at_ms, rate_id) "
      "VALUES (?1, ?2, ?3, ?4, ?5, "
      // The session keeps the rate in force when it started, whatever rates change later.
      "(SELECT id FROM rates WHERE kind = ?4 AND machine_id IS ?3 AND effective_from_ms <= ?5 "
      "AND (effective_until_ms IS NULL OR effective_until_ms > ?5) "
      "ORDER BY effective_from_ms DESC LIMIT 1))");
  if (!insert) return insert.error();
  insert->bind(1, session.uuid)
      .bind(2, session.member_id)
      .bind(3, session.machine_id)
      .bind(4, to_string(session.kind))
      .bind(5, session.started_at_ms);
  if (auto s = insert->run(); !s) {
    Error e = s.error();
    if (e.kind == ErrorKind::kConstraint) {
      e.message = fmt::format("cannot open session: {} (one open session per {})", e.message,
                              session.machine_id ? "machine" : "member for coworking");
    }
    return e;
  }
  const std::int64_t id = db_->last_insert_rowid();
  if (session.machine_id) {
    // Certifications renewed by use: every session pushes the expiry to start + validity.
    const std::string day = date::format(
        "%F", date::floor<date::days>(
                  date::make_zoned(options_.time_zone,
                                   std::chrono::sys_time<std::chrono::milliseconds>(
                                       std::chrono::milliseconds(session.started_at_ms)))
                      .get_local_time()));
    auto renew = db_->prepare(
        "UPDATE certifications SET expires_on = (SELECT date(?3, '+' || t.validity_days || "
        "' days') FROM certification_types t WHERE t.code = certifications.type_code) "
        "WHERE member_id = ?1 AND revoked_at IS NULL AND expires_on IS NOT NULL "
        "AND expires_on >= ?3 "
        "AND type_code = (SELECT certification_type FROM machines WHERE id = ?2) "
        "AND type_code IN (SELECT code FROM certification_types WHERE renew_by_use = 1) "
        "AND expires_on < (SELECT date(?3, '+' || t.validity_days || ' days') "
        "FROM certification_types t WHERE t.code = certifications.type_code)");
    if (!renew) return renew.error();
    renew->bind(1, session.member_id).bind(2, *session.machine_id).bind(3, day);
    LABGATE_TRY(renew->run());
  }
  auto seq = next_seq();
  if (!seq) return seq.error();
  AccessEvent row = event;
  row.seq = *seq;
  if (!row.member_id) row.member_id = session.member_id;
  if (!row.machine_id) row.machine_id = session.machine_id;
  LABGATE_TRY(insert_event(row));
  LABGATE_TRY(insert_outbox(*seq, std::move(topic), retain, payload, event.at_ms));
  LABGATE_TRY(tx->commit());
  Session out;
  out.id = id;
  out.uuid = session.uuid;
  out.member_id = session.member_id;
  out.machine_id = session.machine_id;
  out.kind = session.kind;
  out.started_at_ms = session.started_at_ms;
  return SessionWrite{*seq, std::move(out)};
}

Result<Session> Store::session_by_ref(const SessionRef& ref) {
  if (ref.uuid.has_value() == ref.id.has_value()) {
    return invalid("name a session by exactly one of uuid or id");
  }
  static const std::string kByUuid = std::string(kSessionSelect) + "WHERE s.uuid = ?1";
  static const std::string kById = std::string(kSessionSelect) + "WHERE s.id = ?1";
  auto stmt = db_->prepare(ref.uuid ? kByUuid : kById);
  if (!stmt) return stmt.error();
  if (ref.uuid) {
    stmt->bind(1, std::string_view{*ref.uuid});
  } else {
    stmt->bind(1, *ref.id);
  }
  auto found = first<Session>(*stmt, read_session);
  if (!found) return found.error();
  if (!*found) {
    return not_found(ref.uuid ? fmt::format("no session {}", *ref.uuid)
                              : fmt::format("no session #{}", *ref.id));
  }
  return std::move(**found);
}

Result<SessionWrite> Store::close_session(const SessionRef& ref, std::int64_t ended_at_ms,
                                          std::string_view reason,
                                          std::optional<std::int64_t> measured_seconds,
                                          const AccessEvent& event, const OutboxMessage& outbox,
                                          std::optional<std::int64_t> busy_seconds) {
  return close_session(ref, ended_at_ms, reason, measured_seconds, event, outbox.topic,
                       outbox.retain, fixed(outbox), busy_seconds);
}

Result<SessionWrite> Store::close_session(const SessionRef& ref, std::int64_t ended_at_ms,
                                          std::string_view reason,
                                          std::optional<std::int64_t> measured_seconds,
                                          const AccessEvent& event, std::string topic, bool retain,
                                          const PayloadBuilder& payload,
                                          std::optional<std::int64_t> busy_seconds) {
  LABGATE_TRY(require_text(reason, "end reason"));
  LABGATE_TRY(check_event(event, topic));
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  auto found = session_by_ref(ref);
  if (!found) return found.error();
  Session s = std::move(*found);
  if (s.ended_at_ms) {
    return conflict(
        fmt::format("session {} is already closed ({})", s.uuid, s.end_reason.value_or("")));
  }
  s.ended_at_ms = std::max(ended_at_ms, s.started_at_ms);
  s.end_reason = std::string(reason);
  s.measured_seconds = measured_seconds.value_or((*s.ended_at_ms - s.started_at_ms) / 1000);
  auto update = db_->prepare(
      "UPDATE sessions SET ended_at_ms = ?2, end_reason = ?3, measured_seconds = ?4, "
      "busy_seconds = ?5 WHERE id = ?1 AND ended_at_ms IS NULL");
  if (!update) return update.error();
  if (busy_seconds) busy_seconds = std::clamp<std::int64_t>(*busy_seconds, 0, *s.measured_seconds);
  update->bind(1, s.id)
      .bind(2, s.ended_at_ms)
      .bind(3, s.end_reason)
      .bind(4, s.measured_seconds)
      .bind(5, busy_seconds);
  LABGATE_TRY(update->run());
  auto seq = next_seq();
  if (!seq) return seq.error();
  AccessEvent row = event;
  row.seq = *seq;
  if (!row.member_id) row.member_id = s.member_id;
  if (!row.machine_id) row.machine_id = s.machine_id;
  LABGATE_TRY(insert_event(row));
  LABGATE_TRY(insert_outbox(*seq, std::move(topic), retain, payload, event.at_ms));
  LABGATE_TRY(tx->commit());
  return SessionWrite{*seq, std::move(s)};
}

Status Store::write_heartbeat(std::int64_t now) {
  auto stmt = db_->prepare(
      "INSERT INTO heartbeat (id, last_ms) VALUES (1, ?1) "
      "ON CONFLICT (id) DO UPDATE SET last_ms = max(last_ms, excluded.last_ms)");
  if (!stmt) return stmt.error();
  stmt->bind(1, now);
  return stmt->run();
}

Result<std::optional<std::int64_t>> Store::last_heartbeat() {
  auto stmt = db_->prepare("SELECT last_ms FROM heartbeat WHERE id = 1");
  if (!stmt) return stmt.error();
  return first<std::int64_t>(*stmt, [](const Statement& s) { return s.column_int64(0); });
}

Result<std::vector<Session>> Store::recover_open_sessions(std::string_view reason) {
  LABGATE_TRY(require_text(reason, "end reason"));
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  auto beat = last_heartbeat();
  if (!beat) return beat.error();
  static const std::string kOpen =
      std::string(kSessionSelect) + "WHERE s.ended_at_ms IS NULL ORDER BY s.started_at_ms, s.id";
  auto open = db_->prepare(kOpen);
  if (!open) return open.error();
  auto sessions = collect<Session>(*open, read_session);
  if (!sessions) return sessions.error();
  auto update = db_->prepare(
      "UPDATE sessions SET ended_at_ms = ?2, end_reason = ?3, measured_seconds = ?4 "
      "WHERE id = ?1 AND ended_at_ms IS NULL");
  if (!update) return update.error();
  for (Session& s : *sessions) {
    // Without a heartbeat we know nothing after the start: bill nothing rather than guess.
    s.ended_at_ms = std::max(s.started_at_ms, beat->value_or(s.started_at_ms));
    s.end_reason = std::string(reason);
    s.measured_seconds = (*s.ended_at_ms - s.started_at_ms) / 1000;
    update->bind(1, s.id).bind(2, s.ended_at_ms).bind(3, s.end_reason).bind(4, s.measured_seconds);
    LABGATE_TRY(update->run());
  }
  LABGATE_TRY(tx->commit());
  return std::move(*sessions);
}

// ---- outbox ----

Result<std::int64_t> Store::append_outbox(const OutboxMessage& message,
                                          std::int64_t created_at_ms) {
  return append_outbox(message.topic, message.retain, fixed(message), created_at_ms);
}

Result<std::int64_t> Store::append_outbox(std::string topic, bool retain,
                                          const PayloadBuilder& payload,
                                          std::int64_t created_at_ms) {
  LABGATE_TRY(require_text(topic, "outbox topic"));
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  auto seq = next_seq();
  if (!seq) return seq.error();
  LABGATE_TRY(insert_outbox(*seq, std::move(topic), retain, payload, created_at_ms));
  LABGATE_TRY(tx->commit());
  return *seq;
}

Result<std::vector<OutboxRow>> Store::fetch_unsent(std::int64_t after_seq, std::int64_t limit) {
  auto stmt = db_->prepare(
      "SELECT seq, topic, payload, retain, created_at_ms FROM outbox "
      "WHERE sent_at_ms IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2");
  if (!stmt) return stmt.error();
  stmt->bind(1, after_seq).bind(2, limit);
  return collect<OutboxRow>(*stmt, [](const Statement& s) {
    return OutboxRow{s.column_int64(0), s.column_text(1),  s.column_text(2),
                     s.column_bool(3),  s.column_int64(4), std::nullopt};
  });
}

Status Store::mark_sent(std::span<const std::int64_t> seqs, std::int64_t sent_at_ms) {
  if (seqs.empty()) return {};
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  auto stmt =
      db_->prepare("UPDATE outbox SET sent_at_ms = ?2 WHERE seq = ?1 AND sent_at_ms IS NULL");
  if (!stmt) return stmt.error();
  for (std::int64_t seq : seqs) {
    stmt->bind(1, seq).bind(2, sent_at_ms);
    LABGATE_TRY(stmt->run());
  }
  return tx->commit();
}

Result<std::int64_t> Store::prune_sent(std::int64_t older_than_ms) {
  auto stmt = db_->prepare("DELETE FROM outbox WHERE sent_at_ms IS NOT NULL AND sent_at_ms < ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, older_than_ms);
  LABGATE_TRY(stmt->run());
  return db_->changes();
}

Result<std::int64_t> Store::unsent_count() {
  return db_->query_int64("SELECT count(*) FROM outbox WHERE sent_at_ms IS NULL");
}

// ---- signed MQTT commands ----

// Why nonces and not a floor on command timestamps: a floor (refuse ts <= the last accepted
// ts) also refuses honest commands, those of a second issuer whose clock runs a little behind
// and any command signed before a restart but delivered after it, and one command dated up to
// the skew ahead would move it for everyone. The nonce table gives exactly the answer of the
// verifier's in-memory cache, and checking and recording is one INSERT in one transaction, so
// there is no moment at which a nonce is accepted but not yet recorded. The table stays small:
// a row lives at most twice the allowed skew (a minute by default) and is pruned on an insert.
Result<bool> Store::remember_command_nonce(std::string_view nonce, std::int64_t forget_after_ms,
                                           std::int64_t now_ms) {
  LABGATE_TRY(require_text(nonce, "command nonce"));
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  auto prune = db_->prepare("DELETE FROM command_nonces WHERE forget_after_ms < ?1");
  if (!prune) return prune.error();
  prune->bind(1, now_ms);
  LABGATE_TRY(prune->run());
  auto insert = db_->prepare(
      "INSERT INTO command_nonces (nonce, forget_after_ms) VALUES (?1, ?2) "
      "ON CONFLICT (nonce) DO NOTHING");
  if (!insert) return insert.error();
  insert->bind(1, nonce).bind(2, forget_after_ms);
  LABGATE_TRY(insert->run());
  const bool recorded = db_->changes() == 1;
  LABGATE_TRY(tx->commit());
  return recorded;
}

Result<std::int64_t> Store::command_nonce_count() {
  return db_->query_int64("SELECT count(*) FROM command_nonces");
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

// ---- audit ----

Status append_audit_row(Database& db, std::int64_t at_ms, std::string_view actor,
                        std::string_view action, std::string_view subject,
                        std::string_view detail_json) {
  if (!db.in_transaction()) {
    return Error{ErrorKind::kInternal, 0, "audit rows are written inside a transaction"};
  }
  LABGATE_TRY(require_text(actor, "actor"));
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
      chain_hash(prev, canonical_audit_row(id, at_ms, actor, action, subject, detail_json));
  auto insert = db.prepare(
      "INSERT INTO audit_log (id, at_ms, actor, action, subject, detail, prev_hash, hash) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!insert) return insert.error();
  insert->bind(1, id)
      .bind(2, at_ms)
      .bind(3, actor)
      .bind(4, action)
      .bind(5, subject)
      .bind(6, detail_json)
      .bind(7, std::span<const std::uint8_t>(prev))
      .bind(8, std::span<const std::uint8_t>(hash));
  return insert->run();
}

Status Store::audit(std::string_view actor, std::string_view action, std::string_view subject,
                    std::string_view detail_json) {
  return append_audit_row(*db_, now_ms(), actor, action, subject, detail_json);
}

Status Store::append_audit(std::string_view actor, std::string_view action,
                           std::string_view subject, std::string_view detail_json) {
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  LABGATE_TRY(audit(actor, action, subject, detail_json));
  return tx->commit();
}

Result<std::vector<AuditEntry>> Store::list_audit(std::int64_t limit) {
  auto stmt = db_->prepare(
      "SELECT id, at_ms, actor, action, subject, detail, prev_hash, hash FROM audit_log "
      "ORDER BY id LIMIT ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, limit);
  return collect<AuditEntry>(*stmt, [](const Statement& s) {
    return AuditEntry{s.column_int64(0), s.column_int64(1), s.column_text(2), s.column_text(3),
                      s.column_text(4),  s.column_text(5),  s.column_blob(6), s.column_blob(7)};
  });
}

Result<AuditVerdict> Store::verify_audit_chain() {
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
