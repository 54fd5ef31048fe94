#pragma once
// Forward migrations, indexed by target version - 1. Never edit a released entry: append one.

#include <array>
#include <string_view>

namespace labgate::gateway::store::detail {

inline constexpr std::array<std::string_view, 14> kMigrations = {
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
    // ---- version 2: billing ----
    R"sql(
-- A price for machine time or coworking time. Effective-dated: a session is billed under the rate in
-- force when it started (stamped on the session as rate_id). Rows are never edited except for
-- effective_until_ms, which is set when a newer rate for the same target supersedes this one.
-- Money is integer yen everywhere.
CREATE TABLE rates (
  id                  INTEGER PRIMARY KEY,
  kind                TEXT NOT NULL CHECK (kind IN ('machine', 'coworking')),
  machine_id          TEXT REFERENCES machines(id),
  effective_from_ms   INTEGER NOT NULL,
  effective_until_ms  INTEGER,
  unit_seconds        INTEGER NOT NULL CHECK (unit_seconds > 0),
  price_per_unit      INTEGER NOT NULL CHECK (price_per_unit >= 0),
  -- Price per unit while the machine's busy input is off; NULL: the whole session at price_per_unit.
  idle_price_per_unit INTEGER CHECK (idle_price_per_unit IS NULL OR idle_price_per_unit >= 0),
  minimum_charge      INTEGER NOT NULL DEFAULT 0 CHECK (minimum_charge >= 0),
  -- Sessions no longer than this are free (a mistaken tap).
  grace_seconds       INTEGER NOT NULL DEFAULT 0 CHECK (grace_seconds >= 0),
  -- Most a member pays for this target per local calendar day; NULL: no cap.
  daily_cap           INTEGER CHECK (daily_cap IS NULL OR daily_cap >= 0),
  note                TEXT NOT NULL DEFAULT '',
  created_at_ms       INTEGER NOT NULL,
  created_by          TEXT NOT NULL,
  CHECK ((kind = 'machine') = (machine_id IS NOT NULL)),
  CHECK (effective_until_ms IS NULL OR effective_until_ms > effective_from_ms)
);
CREATE INDEX rates_target ON rates(kind, machine_id, effective_from_ms);
-- Plan terms of one rate: a discount in percent and minutes per calendar month included free.
CREATE TABLE rate_plan_terms (
  rate_id          INTEGER NOT NULL REFERENCES rates(id),
  plan_id          INTEGER NOT NULL REFERENCES plans(id),
  discount_percent INTEGER NOT NULL DEFAULT 0 CHECK (discount_percent BETWEEN 0 AND 100),
  included_minutes INTEGER NOT NULL DEFAULT 0 CHECK (included_minutes >= 0),
  PRIMARY KEY (rate_id, plan_id)
);
ALTER TABLE sessions ADD COLUMN rate_id INTEGER REFERENCES rates(id);
-- Seconds the machine's busy input was on during the session; NULL where it has no busy input.
ALTER TABLE sessions ADD COLUMN busy_seconds INTEGER CHECK (busy_seconds IS NULL OR busy_seconds >= 0);
CREATE INDEX sessions_rate ON sessions(rate_id);
-- A member's money. Balance = SUM(account_entries.amount); credit_limit lets a post-paid member
-- go that far below zero. Members without a row have a zero limit.
CREATE TABLE accounts (
  member_id    INTEGER PRIMARY KEY REFERENCES members(id),
  credit_limit INTEGER NOT NULL DEFAULT 0 CHECK (credit_limit >= 0)
);
CREATE TABLE account_entries (
  id        INTEGER PRIMARY KEY,
  member_id INTEGER NOT NULL REFERENCES members(id),
  at_ms     INTEGER NOT NULL,
  amount    INTEGER NOT NULL,
  kind      TEXT NOT NULL CHECK (kind IN ('topup', 'statement', 'adjustment')),
  reference TEXT NOT NULL DEFAULT '',
  actor     TEXT NOT NULL
);
CREATE INDEX account_entries_member ON account_entries(member_id, at_ms);
-- Materials and passes for sale. day_pass = 1: buying it makes that local day's coworking free.
CREATE TABLE price_list (
  code     TEXT PRIMARY KEY,
  name     TEXT NOT NULL,
  unit     TEXT NOT NULL DEFAULT 'pcs',
  price    INTEGER NOT NULL CHECK (price >= 0),
  day_pass INTEGER NOT NULL DEFAULT 0 CHECK (day_pass IN (0, 1)),
  active   INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);
-- A sale keeps the unit price it was sold at, whatever the price list says later.
CREATE TABLE sales (
  id         INTEGER PRIMARY KEY,
  member_id  INTEGER NOT NULL REFERENCES members(id),
  item_code  TEXT NOT NULL REFERENCES price_list(code),
  quantity   INTEGER NOT NULL CHECK (quantity > 0),
  unit_price INTEGER NOT NULL CHECK (unit_price >= 0),
  at_ms      INTEGER NOT NULL,
  note       TEXT NOT NULL DEFAULT '',
  actor      TEXT NOT NULL
);
CREATE INDEX sales_member ON sales(member_id, at_ms);
CREATE INDEX sales_at ON sales(at_ms);
-- An issued monthly statement (month = 'YYYY-MM' local). Once issued, nothing may change what it
-- says: rate changes reaching into an issued month are refused.
CREATE TABLE statements (
  id           INTEGER PRIMARY KEY,
  member_id    INTEGER NOT NULL REFERENCES members(id),
  month        TEXT NOT NULL,
  issued_at_ms INTEGER NOT NULL,
  issued_by    TEXT NOT NULL,
  total        INTEGER NOT NULL,
  sha256       TEXT NOT NULL,
  body_json    TEXT NOT NULL,
  UNIQUE (member_id, month)
);
CREATE INDEX statements_month ON statements(month);
-- Sessions longer than 24 h are held out of statements until staff decide what to bill
-- (billed_seconds = 0 waives it).
CREATE TABLE session_reviews (
  session_id     INTEGER PRIMARY KEY REFERENCES sessions(id),
  billed_seconds INTEGER NOT NULL CHECK (billed_seconds >= 0),
  reviewed_at_ms INTEGER NOT NULL,
  reviewer       TEXT NOT NULL,
  note           TEXT NOT NULL DEFAULT ''
);
-- Sessions that may reach into a later period from before it (long or still open): the ward
-- report finds them without walking the whole history before the period.
CREATE INDEX sessions_long ON sessions(started_at_ms)
  WHERE ended_at_ms IS NULL OR ended_at_ms - started_at_ms > 86400000;
CREATE INDEX certifications_granted ON certifications(granted_on);
CREATE INDEX members_created ON members(created_at);
CREATE INDEX inspections_done ON inspections(done_on);
)sql",
    // ---- version 3: replay protection of signed MQTT commands ----
    R"sql(
-- Nonces of accepted MQTT commands, kept until their timestamp leaves the allowed skew, so a
-- command captured on the wire is refused as a replay after a restart of the daemon too. Written
-- before the command acts; expired rows are deleted as new ones arrive.
CREATE TABLE command_nonces (
  nonce           TEXT PRIMARY KEY,
  forget_after_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX command_nonces_expiry ON command_nonces(forget_after_ms);
)sql",
    // ---- version 4: DESFire cards issued with per-card keys ----
    R"sql(
-- The site key version a DESFire card was issued with (labgatectl credentials issue). NULL on a
-- DESFire credential means it was enrolled by UID alone: such a card "needs issuing" and is
-- refused at the door unless the site accepts "desfire-uid".
ALTER TABLE credentials ADD COLUMN issued_key_version INTEGER
  CHECK (issued_key_version IS NULL OR (technology = 'desfire' AND issued_key_version BETWEEN 1 AND 255));
)sql",
    // ---- version 5: a member's plan over time ----
    R"sql(
-- Which plan a member is on from which local day. A session is billed under the plan in force
-- when it started (the latest row with effective_from_ms <= started_at_ms), as it is under the
-- rate in force then, so a plan change never rebills what came before it. members.plan_id stays
-- the plan now (what the door reads); a change takes effect today or from a past day, never later.
-- effective_from NULL: the member's first plan, in force since registration (and before it).
CREATE TABLE member_plans (
  id                INTEGER PRIMARY KEY,
  member_id         INTEGER NOT NULL REFERENCES members(id),
  plan_id           INTEGER REFERENCES plans(id),
  effective_from    TEXT,
  effective_from_ms INTEGER,
  changed_at_ms     INTEGER NOT NULL,
  CHECK ((effective_from IS NULL) = (effective_from_ms IS NULL))
);
CREATE UNIQUE INDEX member_plans_first ON member_plans(member_id) WHERE effective_from_ms IS NULL;
CREATE UNIQUE INDEX member_plans_member ON member_plans(member_id, effective_from_ms);
-- Existing members: the plan they are on becomes their first entry.
INSERT INTO member_plans (member_id, plan_id, changed_at_ms)
  SELECT id, plan_id, created_at FROM members;
-- Every way a member is added (members add, the roster import) gets the first entry with it.
CREATE TRIGGER member_plans_on_add AFTER INSERT ON members BEGIN
  INSERT INTO member_plans (member_id, plan_id, changed_at_ms)
    VALUES (NEW.id, NEW.plan_id, NEW.created_at);
END;
)sql",
    // ---- version 6: who really acted (staff accounts, OS user of every audit row) ----
    R"sql(
-- The staff accounts a person may declare (labgatectl --actor, the admin channel's "as"). A
-- change declaring an account that is missing or inactive is refused. Accounts are deactivated,
-- never deleted, so old audit rows keep naming someone who existed.
CREATE TABLE staff_accounts (
  login         TEXT PRIMARY KEY,
  name          TEXT NOT NULL DEFAULT '',
  role          TEXT NOT NULL CHECK (role IN ('desk', 'trainer', 'staff', 'manager', 'admin')),
  active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
-- The OS user the change came from: the kernel's peer credentials on the admin channel, or the
-- uid of labgatectl writing directly; NULL on rows written before this version. The account is
-- the staff account declared (NULL for the daemon's own actions and signed MQTT commands).
ALTER TABLE audit_log ADD COLUMN os_uid INTEGER;
ALTER TABLE audit_log ADD COLUMN os_user TEXT;
ALTER TABLE audit_log ADD COLUMN account TEXT;
)sql",
    // ---- version 7: machines know whether they have a busy input ----
    R"sql(
-- 1 when the machine reports busy time (current sense, a printer's job signal): only then can a
-- rate bill idle time at its own price. labgated sets it from its configuration at start;
-- machines that already recorded busy time or carry an idle price had one.
ALTER TABLE machines ADD COLUMN busy_input INTEGER NOT NULL DEFAULT 0 CHECK (busy_input IN (0, 1));
UPDATE machines SET busy_input = 1
  WHERE id IN (SELECT machine_id FROM sessions WHERE busy_seconds IS NOT NULL)
     OR id IN (SELECT machine_id FROM rates WHERE idle_price_per_unit IS NOT NULL);
)sql",
    // ---- version 8: the sealed record (forward-secure MACs over audit rows, events, sessions)
    // ----
    R"sql(
-- One seal per write of a row of a sealed table (audit_log, access_events, sessions), in write
-- order: a digest of every column of the row and a MAC under the epoch's sealing key, chained to
-- the previous seal's MAC. A row written again (a session closed) gets a new seal; its newest
-- seal must match it. tbl = '' marks the key moving forward from epoch row_id with nothing sealed
-- between (a recorded gap). The keys are never here: see docs/KEYS.md.
CREATE TABLE seals (
  seq    INTEGER PRIMARY KEY,
  epoch  INTEGER NOT NULL CHECK (epoch >= 0),
  tbl    TEXT NOT NULL,
  row_id INTEGER NOT NULL,
  digest BLOB NOT NULL,
  mac    BLOB NOT NULL
);
)sql",
    // ---- version 9: staff log in to the web console ----
    R"sql(
-- The console's login secret: an argon2id string from libsodium's crypto_pwhash_str (it carries
-- its own salt and cost). NULL: the account cannot log in to the console (it may still be
-- declared by labgatectl). locale: the account's console language, NULL = from the browser.
ALTER TABLE staff_accounts ADD COLUMN password_hash TEXT
  CHECK (password_hash IS NULL OR password_hash LIKE '$argon2id$%');
ALTER TABLE staff_accounts ADD COLUMN locale TEXT CHECK (locale IS NULL OR locale IN ('ja', 'en'));
)sql",
    // ---- version 10: consumption tax classes ----
    R"sql(
-- Each item of the price list carries a consumption-tax class (standard 10 %, reduced 8 %,
-- exempt), and a sale keeps the class its item had when sold, as it keeps the price. Items and
-- sales that exist already are standard, as every price was taxed before.
ALTER TABLE price_list ADD COLUMN tax_class TEXT NOT NULL DEFAULT 'standard'
  CHECK (tax_class IN ('standard', 'reduced', 'exempt'));
ALTER TABLE sales ADD COLUMN tax_class TEXT NOT NULL DEFAULT 'standard'
  CHECK (tax_class IN ('standard', 'reduced', 'exempt'));
)sql",
    // ---- version 11: meeting rooms, bookings and lockers (docs/BOOKINGS.md) ----
    R"sql(
-- Rooms and lockers as the daemon's config declares them (labgated writes them at start): the
-- booking rules live here so labgatectl and the console check a booking as the daemon would.
-- hours is a canonical schedule (policy/time_windows); minutes are the config's.
CREATE TABLE rooms (
  id                  TEXT PRIMARY KEY,
  name                TEXT NOT NULL,
  door_id             TEXT NOT NULL,
  capacity            INTEGER NOT NULL CHECK (capacity >= 1),
  hours               TEXT NOT NULL,
  holidays            INTEGER NOT NULL CHECK (holidays IN (0, 1)),
  closure             INTEGER NOT NULL CHECK (closure IN (0, 1)),
  grid_minutes        INTEGER NOT NULL CHECK (grid_minutes >= 1),
  lead_minutes        INTEGER NOT NULL CHECK (lead_minutes >= 0),
  max_advance_days    INTEGER NOT NULL CHECK (max_advance_days >= 1),
  max_minutes         INTEGER NOT NULL CHECK (max_minutes >= 1),
  cancel_minutes      INTEGER NOT NULL CHECK (cancel_minutes >= 0),
  early_entry_minutes INTEGER NOT NULL CHECK (early_entry_minutes >= 0),
  no_show_minutes     INTEGER NOT NULL CHECK (no_show_minutes >= 1),
  no_show_charged     INTEGER NOT NULL CHECK (no_show_charged IN (0, 1)),
  rate_per_hour       INTEGER NOT NULL CHECK (rate_per_hour >= 0),
  active              INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
) WITHOUT ROWID;
-- state: booked (ahead, or running before its no-show check), held (someone named on it came
-- in), no_show (nobody came by start + no_show_minutes: released), cancelled.
CREATE TABLE bookings (
  id              INTEGER PRIMARY KEY,
  room_id         TEXT NOT NULL REFERENCES rooms(id),
  member_id       INTEGER NOT NULL REFERENCES members(id),
  start_ms        INTEGER NOT NULL,
  end_ms          INTEGER NOT NULL,
  state           TEXT NOT NULL DEFAULT 'booked'
                  CHECK (state IN ('booked', 'held', 'no_show', 'cancelled')),
  note            TEXT NOT NULL DEFAULT '',
  created_at_ms   INTEGER NOT NULL,
  created_by      TEXT NOT NULL,
  changed_at_ms   INTEGER,
  CHECK (end_ms > start_ms)
);
-- The decision path's read: the bookings of a room that may admit someone, by start.
CREATE INDEX bookings_room_live ON bookings(room_id, start_ms) WHERE state IN ('booked', 'held');
CREATE INDEX bookings_member ON bookings(member_id, start_ms);
CREATE INDEX bookings_start ON bookings(start_ms);
CREATE TABLE booking_guests (
  booking_id INTEGER NOT NULL REFERENCES bookings(id),
  member_id  INTEGER NOT NULL REFERENCES members(id),
  PRIMARY KEY (booking_id, member_id)
) WITHOUT ROWID;
-- One row per grid step a live booking covers: the primary key is what makes two bookings of
-- one slot impossible, whatever the checks before the insert saw.
CREATE TABLE booking_slots (
  room_id    TEXT NOT NULL REFERENCES rooms(id),
  slot_ms    INTEGER NOT NULL,
  booking_id INTEGER NOT NULL REFERENCES bookings(id),
  PRIMARY KEY (room_id, slot_ms)
) WITHOUT ROWID;
CREATE INDEX booking_slots_booking ON booking_slots(booking_id);
CREATE TABLE lockers (
  id             TEXT PRIMARY KEY,
  name           TEXT NOT NULL,
  door_id        TEXT,
  rate_per_month INTEGER NOT NULL CHECK (rate_per_month >= 0),
  active         INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
) WITHOUT ROWID;
-- A loan from from_date to until_date (local days, inclusive) until staff take it back.
CREATE TABLE locker_loans (
  id             INTEGER PRIMARY KEY,
  locker_id      TEXT NOT NULL REFERENCES lockers(id),
  member_id      INTEGER NOT NULL REFERENCES members(id),
  from_date      TEXT NOT NULL,
  until_date     TEXT NOT NULL CHECK (until_date >= from_date),
  lent_at_ms     INTEGER NOT NULL,
  returned_at_ms INTEGER
);
CREATE UNIQUE INDEX locker_loans_one_open ON locker_loans(locker_id) WHERE returned_at_ms IS NULL;
CREATE INDEX locker_loans_member ON locker_loans(member_id, from_date);
)sql",
    // ---- version 12: effective-dated rates of rooms and lockers (docs/BOOKINGS.md, "Rates") ----
    R"sql(
-- A room's price per hour or a locker's per month, effective-dated like `rates`: a booking is
-- billed under the room's rate in force at its start, a locker month under the locker's rate in
-- force at that month's first local midnight. Rows are never edited except effective_until_ms,
-- set when a newer rate of the same resource supersedes this one. rooms.rate_per_hour and
-- lockers.rate_per_month stay the config's number, which only seeds the first rate.
CREATE TABLE resource_rates (
  id                 INTEGER PRIMARY KEY,
  kind               TEXT NOT NULL CHECK (kind IN ('room', 'locker')),
  resource_id        TEXT NOT NULL,
  effective_from_ms  INTEGER NOT NULL,
  effective_until_ms INTEGER,
  price              INTEGER NOT NULL CHECK (price >= 0),
  note               TEXT NOT NULL DEFAULT '',
  created_at_ms      INTEGER NOT NULL,
  created_by         TEXT NOT NULL,
  CHECK (effective_until_ms IS NULL OR effective_until_ms > effective_from_ms)
);
CREATE INDEX resource_rates_target ON resource_rates(kind, resource_id, effective_from_ms);
-- What the site billed so far stays what it bills: each recorded room and locker gets its
-- current number as a rate in force since always.
INSERT INTO resource_rates (kind, resource_id, effective_from_ms, price, note, created_at_ms,
                            created_by)
  SELECT 'room', id, 0, rate_per_hour, 'from the config', 0, 'config' FROM rooms;
INSERT INTO resource_rates (kind, resource_id, effective_from_ms, price, note, created_at_ms,
                            created_by)
  SELECT 'locker', id, 0, rate_per_month, 'from the config', 0, 'config' FROM lockers;
)sql",
    // ---- version 13: statement bodies apart from the statements that refer to them ----
    R"sql(
-- A month of 10^6 sessions has several hundred MB of statement bodies. Issuing writes them here
-- in short transactions before the one that writes the statements, which then only refers to
-- them by sha256: the write lock is never held for the whole month's bytes. A body is immutable
-- and kept while a statement refers to it; one written by an issue that then failed is
-- unreferenced and may be dropped.
CREATE TABLE statement_bodies (
  id     INTEGER PRIMARY KEY,
  sha256 TEXT NOT NULL UNIQUE,
  body   TEXT NOT NULL
);
INSERT OR IGNORE INTO statement_bodies (sha256, body) SELECT sha256, body_json FROM statements
  ORDER BY id;
ALTER TABLE statements DROP COLUMN body_json;
CREATE INDEX statements_sha256 ON statements(sha256);
CREATE TRIGGER statements_need_body BEFORE INSERT ON statements
  WHEN NOT EXISTS (SELECT 1 FROM statement_bodies WHERE sha256 = NEW.sha256)
BEGIN
  SELECT RAISE(ABORT, 'statement body missing: write it to statement_bodies first');
END;
CREATE TRIGGER statement_bodies_immutable BEFORE UPDATE ON statement_bodies
BEGIN
  SELECT RAISE(ABORT, 'statement bodies are never changed');
END;
CREATE TRIGGER statement_bodies_kept BEFORE DELETE ON statement_bodies
  WHEN EXISTS (SELECT 1 FROM statements WHERE sha256 = OLD.sha256)
BEGIN
  SELECT RAISE(ABORT, 'a statement refers to this body');
END;
)sql",
    // ---- version 14: statement bodies compressed ----
    R"sql(
-- Issuing stores each body as one zstd frame (a BLOB): a month of 10^6 lines is about 500 MB of
-- JSON and a ninth of that compressed, which is what the disk and the checkpoint then carry. The
-- sha256 stays that of the JSON, which is what a member downloads; bodies stored before stay as
-- they are ('identity').
ALTER TABLE statement_bodies ADD COLUMN encoding TEXT NOT NULL DEFAULT 'identity'
  CHECK (encoding IN ('identity', 'zstd'));
)sql",
};

}  // namespace labgate::gateway::store::detail
