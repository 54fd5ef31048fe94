// The event log: events and their outbox rows under one gapless sequence, sessions, the
// heartbeat and the nonces of accepted signed commands.
#include "labgate/gateway/store/event_log.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "rows.hpp"

namespace labgate::gateway::store {

using namespace rows;  // NOLINT: shared private helpers

Result<std::optional<Session>> EventLog::open_session_for_machine(std::string_view machine_id) {
  static const std::string kSql =
      std::string(kSessionSelect) + "WHERE s.machine_id = ?1 AND s.ended_at_ms IS NULL";
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, machine_id);
  return first<Session>(*stmt, read_session);
}

Result<std::optional<Session>> EventLog::open_coworking_session(std::int64_t member_id) {
  static const std::string kSql = std::string(kSessionSelect) +
                                  "WHERE s.member_id = ?1 AND s.ended_at_ms IS NULL "
                                  "AND s.kind = 'coworking'";
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, member_id);
  return first<Session>(*stmt, read_session);
}

// ---- tap path writes ----

Result<std::int64_t> EventLog::next_seq() {
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

Result<std::int64_t> EventLog::last_seq() {
  return db_->query_int64("SELECT last_seq FROM gateway_seq WHERE id = 1");
}

Status EventLog::insert_event(AccessEvent& event) {
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

Status EventLog::insert_outbox(std::int64_t seq, const OutboxMessage& message,
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

Status EventLog::insert_outbox(std::int64_t seq, std::string topic, bool retain,
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

Result<std::int64_t> EventLog::record_access(const AccessEvent& event,
                                             const OutboxMessage& outbox) {
  return record_access(event, outbox.topic, outbox.retain, fixed(outbox));
}

Result<std::int64_t> EventLog::record_access(const AccessEvent& event, std::string topic,
                                             bool retain, const PayloadBuilder& payload) {
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

Result<SessionWrite> EventLog::open_session(const NewSession& session, const AccessEvent& event,
                                            const OutboxMessage& outbox) {
  return open_session(session, event, outbox.topic, outbox.retain, fixed(outbox));
}

Result<SessionWrite> EventLog::open_session(const NewSession& session, const AccessEvent& event,
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
                  date::make_zoned(options().time_zone,
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

Result<Session> EventLog::session_by_ref(const SessionRef& ref) {
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

Result<SessionWrite> EventLog::close_session(const SessionRef& ref, std::int64_t ended_at_ms,
                                             std::string_view reason,
                                             std::optional<std::int64_t> measured_seconds,
                                             const AccessEvent& event, const OutboxMessage& outbox,
                                             std::optional<std::int64_t> busy_seconds) {
  return close_session(ref, ended_at_ms, reason, measured_seconds, event, outbox.topic,
                       outbox.retain, fixed(outbox), busy_seconds);
}

Result<SessionWrite> EventLog::close_session(const SessionRef& ref, std::int64_t ended_at_ms,
                                             std::string_view reason,
                                             std::optional<std::int64_t> measured_seconds,
                                             const AccessEvent& event, std::string topic,
                                             bool retain, const PayloadBuilder& payload,
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

Status EventLog::write_heartbeat(std::int64_t now) {
  auto stmt = db_->prepare(
      "INSERT INTO heartbeat (id, last_ms) VALUES (1, ?1) "
      "ON CONFLICT (id) DO UPDATE SET last_ms = max(last_ms, excluded.last_ms)");
  if (!stmt) return stmt.error();
  stmt->bind(1, now);
  return stmt->run();
}

Result<std::optional<std::int64_t>> EventLog::last_heartbeat() {
  auto stmt = db_->prepare("SELECT last_ms FROM heartbeat WHERE id = 1");
  if (!stmt) return stmt.error();
  return first<std::int64_t>(*stmt, [](const Statement& s) { return s.column_int64(0); });
}

Result<std::vector<Session>> EventLog::recover_open_sessions(std::string_view reason) {
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

Result<std::int64_t> EventLog::append_outbox(const OutboxMessage& message,
                                             std::int64_t created_at_ms) {
  return append_outbox(message.topic, message.retain, fixed(message), created_at_ms);
}

Result<std::int64_t> EventLog::append_outbox(std::string topic, bool retain,
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

Result<std::vector<OutboxRow>> EventLog::fetch_unsent(std::int64_t after_seq, std::int64_t limit) {
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

Status EventLog::mark_sent(std::span<const std::int64_t> seqs, std::int64_t sent_at_ms) {
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

Result<std::int64_t> EventLog::prune_sent(std::int64_t older_than_ms) {
  auto stmt = db_->prepare("DELETE FROM outbox WHERE sent_at_ms IS NOT NULL AND sent_at_ms < ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, older_than_ms);
  LABGATE_TRY(stmt->run());
  return db_->changes();
}

Result<std::int64_t> EventLog::unsent_count() {
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
Result<bool> EventLog::remember_command_nonce(std::string_view nonce, std::int64_t forget_after_ms,
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

Result<std::int64_t> EventLog::command_nonce_count() {
  return db_->query_int64("SELECT count(*) FROM command_nonces");
}

// ---- history ----

Result<std::vector<AccessEvent>> EventLog::list_events(const HistoryFilter& f) {
  if (f.limit <= 0) return invalid("limit must be positive");
  // Only the filters present go into the SQL, so each combination gets its own cached plan
  // that can use the matching index; values are always bound.
  std::string sql =
      "SELECT e.uuid, e.at_ms, e.seq, e.reader_id, e.door_id, e.machine_id, e.member_id, "
      "e.credential_id, e.kind, e.decision, e.reason, e.detail, m.member_no "
      "FROM access_events e LEFT JOIN members m ON m.id = e.member_id WHERE 1";
  if (f.member_no) sql += " AND e.member_id = (SELECT id FROM members WHERE member_no = ?1)";
  if (f.machine_id) sql += " AND e.machine_id = ?2";
  if (f.door_id) sql += " AND e.door_id = ?3";
  if (f.from_ms) sql += " AND e.at_ms >= ?4";
  if (f.to_ms) sql += " AND e.at_ms < ?5";
  sql += " ORDER BY e.at_ms DESC, e.seq DESC LIMIT ?6";
  auto stmt = db_->prepare(sql);
  if (!stmt) return stmt.error();
  if (f.member_no) stmt->bind(1, std::string_view{*f.member_no});
  if (f.machine_id) stmt->bind(2, std::string_view{*f.machine_id});
  if (f.door_id) stmt->bind(3, std::string_view{*f.door_id});
  if (f.from_ms) stmt->bind(4, *f.from_ms);
  if (f.to_ms) stmt->bind(5, *f.to_ms);
  stmt->bind(6, f.limit);
  return collect<AccessEvent>(*stmt, [](const Statement& s) {
    AccessEvent e;
    e.uuid = s.column_text(0);
    e.at_ms = s.column_int64(1);
    e.seq = s.column_int64(2);
    e.reader_id = s.column_opt_text(3);
    e.door_id = s.column_opt_text(4);
    e.machine_id = s.column_opt_text(5);
    e.member_id = s.column_opt_int64(6);
    e.credential_id = s.column_opt_int64(7);
    e.kind = s.column_text(8);
    e.decision = parse_decision(s.column_text(9)).value_or(Decision::kInfo);
    e.reason = s.column_text(10);
    e.detail = s.column_text(11);
    e.member_no = s.column_opt_text(12);
    return e;
  });
}

Result<std::vector<Session>> EventLog::list_sessions(const HistoryFilter& f) {
  if (f.limit <= 0) return invalid("limit must be positive");
  std::string sql = std::string(kSessionSelect) + "WHERE 1";
  if (f.member_no) sql += " AND m.member_no = ?1";
  if (f.machine_id) sql += " AND s.machine_id = ?2";
  if (f.from_ms) sql += " AND s.started_at_ms >= ?4";
  if (f.to_ms) sql += " AND s.started_at_ms < ?5";
  if (f.open_only) sql += " AND s.ended_at_ms IS NULL";
  sql += " ORDER BY s.started_at_ms DESC, s.id DESC LIMIT ?6";
  auto stmt = db_->prepare(sql);
  if (!stmt) return stmt.error();
  if (f.member_no) stmt->bind(1, std::string_view{*f.member_no});
  if (f.machine_id) stmt->bind(2, std::string_view{*f.machine_id});
  if (f.from_ms) stmt->bind(4, *f.from_ms);
  if (f.to_ms) stmt->bind(5, *f.to_ms);
  stmt->bind(6, f.limit);
  return collect<Session>(*stmt, read_session);
}

// ---- report reads ----

Result<std::optional<std::int64_t>> EventLog::first_activity_ms() {
  // Each MIN is answered from the end of its index.
  auto q = db_->prepare(
      "SELECT MIN(x) FROM (SELECT MIN(started_at_ms) AS x FROM sessions UNION ALL "
      "SELECT MIN(at_ms) FROM access_events)");
  if (!q) return q.error();
  auto v = first<std::optional<std::int64_t>>(
      *q, [](const Statement& s) { return s.column_opt_int64(0); });
  if (!v) return v.error();
  return v->value_or(std::nullopt);
}

namespace {

constexpr std::string_view kSpanSelect =
    "SELECT member_id, machine_id, kind = 'coworking', started_at_ms, ended_at_ms FROM sessions ";

Status scan_spans(Statement& q, const std::function<void(SessionSpan&&)>& sink) {
  return for_each_row(q, [&](const Statement& s) {
    sink(SessionSpan{s.column_int64(0), s.column_opt_text(1), s.column_bool(2), s.column_int64(3),
                     s.column_opt_int64(4)});
  });
}

}  // namespace

Status EventLog::scan_long_sessions(std::int64_t started_before_ms, std::int64_t ending_after_ms,
                                    const std::function<void(SessionSpan&&)>& sink) {
  // Served by a partial index on exactly this condition when the schema has one.
  static const std::string kSql =
      std::string(kSpanSelect) +
      "WHERE (ended_at_ms IS NULL OR ended_at_ms - started_at_ms > 86400000) "
      "AND started_at_ms < ?1 AND (ended_at_ms IS NULL OR ended_at_ms > ?2) "
      "ORDER BY started_at_ms";
  auto q = db_->prepare(kSql);
  if (!q) return q.error();
  q->bind(1, started_before_ms).bind(2, ending_after_ms);
  return scan_spans(*q, sink);
}

Status EventLog::scan_sessions_started(std::int64_t from_ms, std::int64_t to_ms,
                                       const std::function<void(SessionSpan&&)>& sink) {
  static const std::string kSql = std::string(kSpanSelect) +
                                  "WHERE started_at_ms >= ?1 AND started_at_ms < ?2 "
                                  "ORDER BY started_at_ms";
  auto q = db_->prepare(kSql);
  if (!q) return q.error();
  q->bind(1, from_ms).bind(2, to_ms);
  return scan_spans(*q, sink);
}

Status EventLog::scan_door_grants(
    std::int64_t from_ms, std::int64_t to_ms,
    const std::function<void(std::int64_t member_id, std::int64_t at_ms)>& sink) {
  auto q = db_->prepare(
      "SELECT member_id, at_ms FROM access_events WHERE at_ms >= ?1 AND at_ms < ?2 "
      "AND decision = 'granted' AND door_id IS NOT NULL AND member_id IS NOT NULL");
  if (!q) return q.error();
  q->bind(1, from_ms).bind(2, to_ms);
  return for_each_row(*q, [&](const Statement& s) { sink(s.column_int64(0), s.column_int64(1)); });
}

}  // namespace labgate::gateway::store
