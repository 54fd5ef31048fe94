#pragma once
// Forward migrations, indexed by target version - 1. Never edit a released entry: append one.

#include <array>
#include <string_view>

namespace labgate::gateway::store::detail {

inline constexpr std::array<std::string_view, 1> kMigrations = {
    // ---- version 1 ----
    R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
-- The per-gateway sequence shared by events and outbox rows. It lives in its own row so that a
-- pruned outbox or a rolled-back transaction never makes a number reappear or leaves a hole.
CREATE TABLE gateway_seq (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  last_seq INTEGER NOT NULL
);
INSERT INTO gateway_seq (id, last_seq) VALUES (1, 0);
CREATE TABLE heartbeat (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  last_ms INTEGER NOT NULL
);
CREATE TABLE plans (
  id               INTEGER PRIMARY KEY,
  code             TEXT NOT NULL UNIQUE,
  name             TEXT NOT NULL,
  windows          TEXT NOT NULL,
  holidays_allowed INTEGER NOT NULL DEFAULT 0 CHECK (holidays_allowed IN (0, 1)),
  closure_allowed  INTEGER NOT NULL DEFAULT 0 CHECK (closure_allowed IN (0, 1))
);
CREATE TABLE members (
  id               INTEGER PRIMARY KEY,
  member_no        TEXT NOT NULL UNIQUE,
  name             TEXT NOT NULL,
  email            TEXT NOT NULL DEFAULT '',
  status           TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'active', 'suspended')),
  plan_id          INTEGER REFERENCES plans(id),
  valid_from       TEXT,
  valid_until      TEXT,
  created_at       INTEGER NOT NULL,
  approved_at      INTEGER,
  suspended_reason TEXT
);
CREATE INDEX members_plan ON members(plan_id);
CREATE INDEX members_status ON members(status, member_no);
CREATE TABLE credentials (
  id             INTEGER PRIMARY KEY,
  member_id      INTEGER NOT NULL REFERENCES members(id),
  technology     TEXT NOT NULL CHECK (technology IN ('iso14443a', 'felica', 'desfire')),
  id_hash        BLOB NOT NULL UNIQUE CHECK (length(id_hash) = 32),
  label          TEXT NOT NULL DEFAULT '',
  enrolled_at    INTEGER NOT NULL,
  revoked_at     INTEGER,
  revoked_reason TEXT
);
CREATE INDEX credentials_member ON credentials(member_id);
CREATE TABLE doors (
  id        TEXT PRIMARY KEY,
  name      TEXT NOT NULL,
  fail_mode TEXT NOT NULL CHECK (fail_mode IN ('secure', 'safe')),
  role      TEXT NOT NULL CHECK (role IN ('entry', 'exit', 'both'))
);
CREATE TABLE certification_types (
  code          TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  validity_days INTEGER NOT NULL CHECK (validity_days >= 0),
  renew_by_use  INTEGER NOT NULL DEFAULT 0 CHECK (renew_by_use IN (0, 1))
);
CREATE TABLE machines (
  id                       TEXT PRIMARY KEY,
  name                     TEXT NOT NULL,
  certification_type       TEXT REFERENCES certification_types(code),
  session_mode             TEXT NOT NULL CHECK (session_mode IN ('hold', 'tap')),
  inspection_interval_days INTEGER NOT NULL DEFAULT 0 CHECK (inspection_interval_days >= 0),
  locked_out               INTEGER NOT NULL DEFAULT 0 CHECK (locked_out IN (0, 1)),
  lockout_reason           TEXT,
  needs_checkoff           INTEGER NOT NULL DEFAULT 0 CHECK (needs_checkoff IN (0, 1)),
  created_at               INTEGER NOT NULL
);
CREATE TABLE certifications (
  id             INTEGER PRIMARY KEY,
  member_id      INTEGER NOT NULL REFERENCES members(id),
  type_code      TEXT NOT NULL REFERENCES certification_types(code),
  trainer        TEXT NOT NULL,
  granted_on     TEXT NOT NULL,
  expires_on     TEXT,
  revoked_at     INTEGER,
  revoked_reason TEXT
);
CREATE INDEX certifications_member_type ON certifications(member_id, type_code);
CREATE INDEX certifications_active_expiry ON certifications(expires_on) WHERE revoked_at IS NULL;
CREATE TABLE inspections (
  id         INTEGER PRIMARY KEY,
  machine_id TEXT NOT NULL REFERENCES machines(id),
  done_on    TEXT NOT NULL,
  inspector  TEXT NOT NULL,
  result     TEXT NOT NULL CHECK (result IN ('pass', 'fail')),
  notes      TEXT NOT NULL DEFAULT '',
  next_due   TEXT
);
CREATE INDEX inspections_machine ON inspections(machine_id, done_on, id);
-- door_id / machine_id / reader_id are not foreign keys: history must never be refused because
-- a door was renamed in the config.
CREATE TABLE access_events (
  id            INTEGER PRIMARY KEY,
  uuid          TEXT NOT NULL UNIQUE,
  at_ms         INTEGER NOT NULL,
  seq           INTEGER NOT NULL UNIQUE,
  reader_id     TEXT,
  door_id       TEXT,
  machine_id    TEXT,
  member_id     INTEGER REFERENCES members(id),
  credential_id INTEGER REFERENCES credentials(id),
  kind          TEXT NOT NULL,
  decision      TEXT NOT NULL CHECK (decision IN ('granted', 'denied', 'info')),
  reason        TEXT NOT NULL DEFAULT '',
  detail        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_events_at ON access_events(at_ms);
CREATE INDEX access_events_member ON access_events(member_id, at_ms);
CREATE INDEX access_events_machine ON access_events(machine_id, at_ms);
CREATE INDEX access_events_door ON access_events(door_id, at_ms);
CREATE TABLE sessions (
  id               INTEGER PRIMARY KEY,
  uuid             TEXT NOT NULL UNIQUE,
  member_id        INTEGER NOT NULL REFERENCES members(id),
  machine_id       TEXT REFERENCES machines(id),
  kind             TEXT NOT NULL CHECK (kind IN ('machine', 'coworking')),
  started_at_ms    INTEGER NOT NULL,
  ended_at_ms      INTEGER,
  end_reason       TEXT,
  measured_seconds INTEGER,
  CHECK ((kind = 'machine') = (machine_id IS NOT NULL)),
  CHECK (ended_at_ms IS NULL OR ended_at_ms >= started_at_ms)
);
CREATE UNIQUE INDEX sessions_one_open_per_machine ON sessions(machine_id)
  WHERE ended_at_ms IS NULL AND machine_id IS NOT NULL;
CREATE UNIQUE INDEX sessions_one_open_coworking ON sessions(member_id)
  WHERE ended_at_ms IS NULL AND kind = 'coworking';
CREATE INDEX sessions_member ON sessions(member_id, started_at_ms);
CREATE INDEX sessions_machine ON sessions(machine_id, started_at_ms);
CREATE INDEX sessions_started ON sessions(started_at_ms);
CREATE INDEX sessions_open ON sessions(started_at_ms) WHERE ended_at_ms IS NULL;
CREATE TABLE outbox (
  seq           INTEGER PRIMARY KEY,
  topic         TEXT NOT NULL,
  payload       TEXT NOT NULL,
  retain        INTEGER NOT NULL DEFAULT 0 CHECK (retain IN (0, 1)),
  created_at_ms INTEGER NOT NULL,
  sent_at_ms    INTEGER
);
CREATE INDEX outbox_unsent ON outbox(seq) WHERE sent_at_ms IS NULL;
CREATE INDEX outbox_sent ON outbox(sent_at_ms) WHERE sent_at_ms IS NOT NULL;
CREATE TABLE audit_log (
  id        INTEGER PRIMARY KEY,
  at_ms     INTEGER NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  subject   TEXT NOT NULL,
  detail    TEXT NOT NULL,
  prev_hash BLOB NOT NULL,
  hash      BLOB NOT NULL
);
)sql",
};

}  // namespace labgate::gateway::store::detail
