#include "seed.hpp"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <utility>

#include "labgate/gateway/app/clock.hpp"
#include "labgate/gateway/mqtt/topics.hpp"
#include "labgate/gateway/policy/time_windows.hpp"

namespace labgate::bench::decision {

namespace store = gateway::store;

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kBatch = 50'000;
constexpr std::int64_t kRevokedEvery = 97;  // about 1 % of the second cards are lost
constexpr std::int64_t kCertValidityDays = 365;
// Shares of members certified per type (percent), by type index, cycled.
constexpr std::array<std::uint64_t, 3> kCertShare = {15, 30, 6};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void check(const store::Status& s, const std::string& what) {
  if (!s.ok()) throw std::runtime_error(what + ": " + s.error().message);
}

template <typename T>
T take(store::Result<T> r, const std::string& what) {
  if (!r.ok()) throw std::runtime_error(what + ": " + r.error().message);
  return std::move(r).value();
}

std::int32_t day_number(const gateway::policy::LocalDate& d) {
  return static_cast<std::int32_t>(std::chrono::sys_days(d).time_since_epoch().count());
}

std::string date_of_day(std::int32_t day) {
  return gateway::policy::to_string(
      gateway::policy::LocalDate(std::chrono::sys_days(std::chrono::days(day))));
}

std::string random_uuid(SplitMix64& rng) {
  const std::uint64_t a = rng.next();
  const std::uint64_t b = rng.next();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff,
                     a & 0x0fff, 0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffull);
}

// Runs body(i) for i in [0, count) in transactions of kBatch rows.
template <typename Body>
void in_batches(store::Database& db, std::int64_t count, const std::string& what, Body body) {
  for (std::int64_t start = 0; start < count; start += kBatch) {
    auto tx = take(store::Transaction::begin(db), what + ": begin");
    const std::int64_t end = std::min(count, start + kBatch);
    for (std::int64_t i = start; i < end; ++i) body(i);
    check(tx.commit(), what + ": commit");
  }
}

struct DoorReader {
  std::string reader;
  std::string door;
  bool entry{true};
};

}  // namespace

CertFact* Population::cert(std::int64_t member, const std::string& type_code) {
  for (std::size_t t = 0; t < cert_types.size(); ++t) {
    if (cert_types[t] != type_code) continue;
    auto& c = certs[static_cast<std::size_t>(member) * cert_types.size() + t];
    return c.present ? &c : nullptr;
  }
  return nullptr;
}

std::string member_no(std::int64_t member) {
  return fmt::format("M{:06d}", member + 1);
}

std::int64_t member_index(const std::string& no) {
  if (no.size() < 2 || no[0] != 'M') return -1;
  std::int64_t v = 0;
  for (std::size_t i = 1; i < no.size(); ++i) {
    if (no[i] < '0' || no[i] > '9') return -1;
    v = v * 10 + (no[i] - '0');
  }
  return v - 1;
}

drivers::Card member_card(std::int64_t member, int which) {
  const auto m = static_cast<std::uint32_t>(member);
  const auto b = [m](int shift) { return static_cast<std::uint8_t>(m >> shift); };
  drivers::Card c;
  if (which == 0) {
    c.technology = drivers::CardTechnology::kFelica;
    c.identifier = {0x01, 0x2E, 0x4C, 0x47, b(24), b(16), b(8), b(0)};
  } else {
    c.technology = drivers::CardTechnology::kIso14443aUid;
    c.identifier = {0x04, 0x4C, 0x47, b(24), b(16), b(8), b(0)};
  }
  return c;
}

bool card_revoked(std::int64_t member, int which) {
  return which == 1 && member % kRevokedEvery == kRevokedEvery - 1;
}

drivers::Card unknown_card(std::uint64_t bits) {
  drivers::Card c;
  c.technology = drivers::CardTechnology::kIso14443aUid;
  c.identifier = {0x08};
  for (int i = 0; i < 6; ++i) c.identifier.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
  return c;
}

SeedTimings seed_database(store::Store& st, const gateway::config::SiteConfig& cfg,
                          const SeedOptions& o, Population& pop) {
  SeedTimings t;
  const auto t_all = Clock::now();
  auto& db = st.database();
  SplitMix64 rng(o.seed);
  const std::int32_t first_day = day_number(o.first_day);
  // History ends the day before the run starts.
  const std::int64_t history_end_ms = o.first_day_ms - kDayMs;
  const std::int64_t history_span_ms = 365 * kDayMs;
  const std::int64_t history_start_ms = history_end_ms - history_span_ms;
  const std::string actor = "bench-seed";

  // A bigger page cache makes the random-key index inserts (uuid, id_hash) cheap; the daemon's
  // own setting is restored before anything is measured.
  const std::int64_t cache_size = take(db.query_int64("PRAGMA cache_size"), "cache_size");
  check(db.execute_script("PRAGMA cache_size = -262144"), "cache_size");

  // ---- plans, certification types, machines, inspections: through the Store API ----
  auto t0 = Clock::now();
  for (const auto& p : cfg.plans) {
    store::NewPlan np;
    np.code = p.id;
    np.name = p.name;
    np.windows = gateway::policy::to_string(p.access.windows);
    np.holidays_allowed = p.access.holidays;
    np.closure_allowed = p.access.closure;
    (void)take(st.staff().add_plan(np, actor), "plan " + p.id);
  }
  std::vector<std::int64_t> plan_ids;
  for (const auto& p : take(st.staff().list_plans(), "list plans")) plan_ids.push_back(p.id);
  if (plan_ids.empty()) throw std::runtime_error("the configuration has no plans");

  for (const auto& m : cfg.machines) {
    if (m.certification.empty()) continue;
    bool seen = false;
    for (const auto& c : pop.cert_types) seen = seen || c == m.certification;
    if (seen) continue;
    const std::size_t index = pop.cert_types.size();
    store::CertificationType ct;
    ct.code = m.certification;
    ct.name = m.certification;
    ct.validity_days = kCertValidityDays;
    ct.renew_by_use = index % 2 == 1;  // exercise the renewal UPDATE on some session starts
    (void)take(st.staff().add_certification_type(ct, actor), "certification type " + ct.code);
    pop.cert_types.push_back(ct.code);
    pop.cert_validity_days.push_back(ct.validity_days);
    pop.cert_renew_by_use.push_back(ct.renew_by_use);
  }
  for (const auto& m : cfg.machines) {
    store::NewMachine nm;
    nm.id = m.id;
    nm.name = m.name;
    if (!m.certification.empty()) nm.certification_type = m.certification;
    nm.session_mode = m.mode == gateway::config::SessionMode::kTapOnOff ? "tap" : "hold";
    nm.inspection_interval_days = m.inspection_interval_days;
    nm.needs_checkoff = m.needs_checkoff;
    (void)take(st.staff().add_machine(nm, actor), "machine " + m.id);
    store::NewInspection in;
    in.machine_id = m.id;
    in.done_on = date_of_day(first_day - 1);
    in.inspector = "bench inspector";
    in.result = "pass";
    (void)take(st.staff().record_inspection(in, actor), "inspection of " + m.id);
  }
  t.setup_s = seconds_since(t0);

  // Bulk mode for the direct inserts: no journal (a scratch file: a crash means seeding again),
  // no foreign-key lookups (the generator only writes valid references), and the secondary
  // indexes dropped and rebuilt afterwards from their own stored definitions, which sorts once
  // instead of inserting a million random keys. Constraint indexes (UNIQUE) stay in place.
  std::vector<std::string> index_sql;
  {
    auto list = take(db.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND "
                                "sql IS NOT NULL AND tbl_name IN ('members', 'credentials', "
                                "'certifications', 'sessions', 'access_events', 'outbox')"),
                     "list indexes");
    std::vector<std::string> names;
    for (;;) {
      if (!take(list.step(), "list indexes")) break;
      names.push_back(list.column_text(0));
      index_sql.push_back(list.column_text(1));
    }
    for (const auto& name : names) {
      check(db.execute_script(fmt::format("DROP INDEX \"{}\"", name)), "drop index " + name);
    }
  }
  const auto journal_mode = [&db](const char* mode) {
    auto stmt = take(db.prepare(fmt::format("PRAGMA journal_mode = {}", mode)), "journal_mode");
    (void)take(stmt.step(), "journal_mode");
    const std::string now = stmt.column_text(0);
    stmt.reset();
    if (now != mode) throw std::runtime_error(fmt::format("journal_mode {}: got {}", mode, now));
  };
  journal_mode("off");
  check(db.execute_script("PRAGMA foreign_keys = OFF"), "foreign_keys");

  // ---- members ----
  t0 = Clock::now();
  pop.members = o.members;
  {
    auto stmt = take(db.prepare("INSERT INTO members (id, member_no, name, email, status, plan_id, "
                                "valid_from, valid_until, created_at, approved_at) "
                                "VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6, ?7, ?8, ?8)"),
                     "prepare members");
    const std::string valid_from = date_of_day(first_day - 400);
    const std::string valid_until = date_of_day(first_day + 365);
    in_batches(db, o.members, "members", [&](std::int64_t i) {
      const std::string no = member_no(i);
      stmt.bind(1, i + 1)
          .bind(2, no)
          .bind(3, "Member " + no)
          .bind(4, no + "@example.org")
          .bind(5, plan_ids[rng.below(plan_ids.size())])
          .bind(6, valid_from)
          .bind(7, valid_until)
          .bind(8, history_start_ms - kDayMs);
      check(stmt.run(), "insert member");
    });
  }
  t.members_s = seconds_since(t0);

  // ---- credentials ----
  t0 = Clock::now();
  {
    auto stmt = take(db.prepare("INSERT INTO credentials (id, member_id, technology, id_hash, "
                                "label, enrolled_at, revoked_at, revoked_reason) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                     "prepare credentials");
    in_batches(db, o.members * kCardsPerMember, "credentials", [&](std::int64_t k) {
      const std::int64_t member = k / kCardsPerMember;
      const int which = static_cast<int>(k % kCardsPerMember);
      const auto card = member_card(member, which);
      const char* tech = drivers::to_string(card.technology);
      const auto hash = take(st.credential_hash(tech, card.identifier), "credential hash");
      const bool revoked = card_revoked(member, which);
      stmt.bind(1, k + 1)
          .bind(2, member + 1)
          .bind(3, tech)
          .bind(4, std::span<const std::uint8_t>(hash))
          .bind(5, which == 0 ? "IC card" : "member card")
          .bind(6, history_start_ms - kDayMs)
          .bind(7, revoked ? std::optional<std::int64_t>(history_end_ms) : std::nullopt)
          .bind(8, revoked ? std::optional<std::string>("lost") : std::nullopt);
      check(stmt.run(), "insert credential");
    });
  }
  t.credentials_s = seconds_since(t0);

  // ---- certifications ----
  t0 = Clock::now();
  const std::size_t types = pop.cert_types.size();
  pop.certs.assign(static_cast<std::size_t>(o.members) * types, CertFact{});
  pop.holders.assign(types, {});
  {
    auto stmt = take(db.prepare("INSERT INTO certifications (member_id, type_code, trainer, "
                                "granted_on, expires_on, revoked_at, revoked_reason) "
                                "VALUES (?1, ?2, 'bench trainer', ?3, ?4, ?5, ?6)"),
                     "prepare certifications");
    in_batches(db, o.members, "certifications", [&](std::int64_t i) {
      for (std::size_t ty = 0; ty < types; ++ty) {
        if (rng.below(100) >= kCertShare[ty % kCertShare.size()]) continue;
        CertFact f;
        f.present = true;
        // Granted up to 420 days ago with a 365-day validity: about one in seven has expired.
        f.granted_day = first_day - 1 - static_cast<std::int32_t>(rng.below(420));
        f.expires_day = f.granted_day + static_cast<std::int32_t>(pop.cert_validity_days[ty]);
        f.revoked = rng.below(50) == 0;
        stmt.bind(1, i + 1)
            .bind(2, pop.cert_types[ty])
            .bind(3, date_of_day(f.granted_day))
            .bind(4, date_of_day(f.expires_day))
            .bind(5, f.revoked ? std::optional<std::int64_t>(history_end_ms) : std::nullopt)
            .bind(6, f.revoked ? std::optional<std::string>("bench") : std::nullopt);
        check(stmt.run(), "insert certification");
        pop.certs[static_cast<std::size_t>(i) * types + ty] = f;
        pop.holders[ty].push_back(i);
      }
    });
  }
  t.certifications_s = seconds_since(t0);

  // ---- past sessions, all closed ----
  t0 = Clock::now();
  {
    auto stmt = take(db.prepare("INSERT INTO sessions (uuid, member_id, machine_id, kind, "
                                "started_at_ms, ended_at_ms, end_reason, measured_seconds) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                     "prepare sessions");
    in_batches(db, o.sessions, "sessions", [&](std::int64_t i) {
      const bool machine = !cfg.machines.empty() && rng.below(3) == 0;
      const std::int64_t start =
          history_start_ms + i * (history_span_ms / std::max<std::int64_t>(1, o.sessions));
      const std::int64_t seconds = 600 + static_cast<std::int64_t>(rng.below(4 * 3600));
      stmt.bind(1, random_uuid(rng))
          .bind(2, static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(o.members))) + 1)
          .bind(3, machine
                       ? std::optional<std::string>(cfg.machines[rng.below(cfg.machines.size())].id)
                       : std::nullopt)
          .bind(4, machine ? "machine" : "coworking")
          .bind(5, start)
          .bind(6, start + seconds * 1000)
          .bind(7, machine ? "tap_off" : "exit")
          .bind(8, seconds);
      check(stmt.run(), "insert session");
    });
  }
  t.sessions_s = seconds_since(t0);

  // ---- past events and their sent outbox rows, continuing the gapless sequence ----
  t0 = Clock::now();
  {
    std::vector<DoorReader> door_readers;
    for (const auto& d : cfg.doors) {
      if (d.entry_reader) door_readers.push_back({*d.entry_reader, d.id, true});
      if (d.exit_reader) door_readers.push_back({*d.exit_reader, d.id, false});
    }
    const gateway::mqtt::Topics topics(cfg.site.id, cfg.site.gateway);
    const std::int64_t base = take(st.events().last_seq(), "last seq");
    auto event = take(db.prepare("INSERT INTO access_events (uuid, at_ms, seq, reader_id, door_id, "
                                 "machine_id, member_id, credential_id, kind, decision, reason, "
                                 "detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                                 "'')"),
                      "prepare events");
    auto outbox = take(db.prepare("INSERT INTO outbox (seq, topic, payload, retain, "
                                  "created_at_ms, sent_at_ms) VALUES (?1, ?2, ?3, 0, ?4, ?5)"),
                       "prepare outbox");
    auto seq_row = take(db.prepare("UPDATE gateway_seq SET last_seq = ?1 WHERE id = 1"),
                        "prepare gateway_seq");
    in_batches(db, o.events, "events", [&](std::int64_t i) {
      const std::int64_t seq = base + i + 1;
      const std::int64_t at =
          history_start_ms + i * (history_span_ms / std::max<std::int64_t>(1, o.events));
      const std::string uuid = random_uuid(rng);
      std::optional<std::string> reader, door, machine;
      std::string kind;
      std::string topic;
      const bool at_door = door_readers.empty()   ? false
                           : cfg.machines.empty() ? true
                                                  : rng.below(100) < 78;
      if (at_door) {
        const auto& dr = door_readers[rng.below(door_readers.size())];
        reader = dr.reader;
        door = dr.door;
        kind = dr.entry ? "tap_entry" : "tap_exit";
        topic = topics.door_event(dr.door);
      } else {
        const auto& m = cfg.machines[rng.below(cfg.machines.size())];
        reader = m.reader;
        machine = m.id;
        kind = "tap_machine";
        topic = topics.machine_session(m.id);
      }
      const auto roll = rng.below(100);
      const bool unknown = roll < 3;
      const bool denied = unknown || roll >= 96;
      const char* reason = unknown ? "unknown_credential" : denied ? "outside_plan_hours" : "ok";
      const char* decision = denied ? "denied" : "granted";
      std::optional<std::int64_t> member, credential;
      std::string member_json;
      if (!unknown) {
        const auto m = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(o.members)));
        member = m + 1;
        credential = m * kCardsPerMember + 1 + static_cast<std::int64_t>(rng.below(2));
        member_json = fmt::format(R"(,"member":"{}")", member_no(m));
      }
      event.bind(1, uuid)
          .bind(2, at)
          .bind(3, seq)
          .bind(4, reader)
          .bind(5, door)
          .bind(6, machine)
          .bind(7, member)
          .bind(8, credential)
          .bind(9, kind)
          .bind(10, decision)
          .bind(11, reason);
      check(event.run(), "insert event");
      // The same shape as the payloads labgated writes (Site::payload).
      const std::string payload =
          fmt::format(R"({{"decision":"{}","{}":"{}","event_id":"{}","gateway":"{}","kind":"{}"{},)"
                      R"("reader":"{}","reason":"{}","seq":{},"site":"{}","time":"{}"}})",
                      decision, door ? "door" : "machine", door ? *door : *machine, uuid,
                      cfg.site.gateway, kind, member_json, *reader, reason, seq, cfg.site.id,
                      gateway::app::iso8601_utc(
                          std::chrono::system_clock::time_point(std::chrono::milliseconds(at))));
      outbox.bind(1, seq).bind(2, topic).bind(3, payload).bind(4, at).bind(5, at + 40);
      check(outbox.run(), "insert outbox row");
      if (i + 1 == o.events || (i + 1) % kBatch == 0) {
        seq_row.bind(1, seq);
        check(seq_row.run(), "advance gateway_seq");
      }
    });
  }
  t.events_s = seconds_since(t0);

  t0 = Clock::now();
  for (const auto& sql : index_sql) check(db.execute_script(sql), "rebuild index");
  check(db.execute_script("PRAGMA foreign_keys = ON"), "foreign_keys");
  journal_mode("wal");
  // SQLite 3.40 refuses a checkpoint (SQLITE_LOCKED, "database table is locked") on a connection
  // that altered a table (the store's migrations drop a column) and then switched its journal off
  // and back to WAL, until that connection has read the database again.
  (void)take(db.query_int64("SELECT count(*) FROM sqlite_schema"), "read after the switch");
  t.indexes_s = seconds_since(t0);

  t0 = Clock::now();
  check(db.execute_script(fmt::format("PRAGMA cache_size = {}", cache_size)), "cache_size");
  auto checkpoint = take(db.prepare("PRAGMA wal_checkpoint(TRUNCATE)"), "checkpoint");
  (void)take(checkpoint.step(), "checkpoint");
  checkpoint.reset();
  t.checkpoint_s = seconds_since(t0);
  t.total_s = seconds_since(t_all);
  return t;
}

}  // namespace labgate::bench::decision
