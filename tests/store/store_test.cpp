#include "labgate/gateway/store/store.hpp"

#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "labgate/gateway/store/statement_body.hpp"
#include "must.hpp"
#include "process.hpp"
#include "schema.hpp"

using namespace labgate::gateway::store;
using labgate::testing::TempDir;

using labgate::testing::must;

namespace {

// 2026-04-01 00:00:00 UTC (09:00 in Tokyo).
constexpr std::int64_t kT0 = 1775001600000;

SiteKey test_key(std::uint8_t fill = 0x5a) {
  SiteKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(fill + i);
  return k;
}

struct Fixture {
  TempDir dir;
  std::filesystem::path path = dir.file("labgate.db");
  std::int64_t now = kT0;

  StoreOptions options(std::chrono::milliseconds busy = std::chrono::milliseconds(2000)) {
    StoreOptions o;
    o.site_key = test_key();
    o.database.busy_timeout = busy;
    o.clock = [this] { return now; };
    return o;
  }
  std::unique_ptr<Store> open(std::chrono::milliseconds busy = std::chrono::milliseconds(2000)) {
    auto s = Store::open(path, options(busy));
    INFO((s ? std::string() : s.error().message));
    REQUIRE(s.ok());
    return std::move(*s);
  }
};

const std::vector<std::uint8_t> kUid = {0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6};

// Members, a plan, a card, a laser with its certification type.
struct Seeded {
  Member member;
  Credential credential;
};

Seeded seed(Store& store) {
  must(store.staff().add_plan(
      {"FULL", "Full time", "mon-fri 08:30-17:15; sat 10:00-16:00", true, false}, "staff"));
  auto member =
      must(store.staff().add_member({"M0001", "Hanako Yamada", "hanako@example.jp",
                                     std::string("FULL"), std::nullopt, std::string("2027-03-31")},
                                    "staff"));
  member = must(store.staff().approve_member("M0001", "staff"));
  auto cred =
      must(store.staff().enroll_credential("M0001", "iso14443a", kUid, "blue tag", "staff"));
  must(store.staff().add_certification_type({"laser", "Laser cutter", 365, false}, "staff"));
  must(store.staff().add_machine(
      {"laser1", "Laser cutter 1", std::string("laser"), "hold", 30, false}, "staff"));
  return {member, cred};
}

AccessEvent tap_event(const std::string& uuid, std::int64_t at) {
  AccessEvent e;
  e.uuid = uuid;
  e.at_ms = at;
  e.reader_id = "r1";
  e.door_id = "front";
  e.kind = "tap";
  e.decision = Decision::kGranted;
  e.reason = "ok";
  return e;
}

OutboxMessage event_msg(const std::string& body = "{}") {
  return OutboxMessage{"labgate/v1/site/gw/door/front/event", body, false};
}

std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("migrations create the schema and a re-open keeps it", "[store]") {
  Fixture f;
  {
    auto store = f.open();
    CHECK(must(store->schema_version()) == kSchemaVersion);
    CHECK(must(store->database().query_int64("PRAGMA application_id")) == kApplicationId);
    CHECK(must(store->database().query_int64("PRAGMA foreign_keys")) == 1);
    CHECK(must(store->database().query_int64("PRAGMA synchronous")) == 2);  // FULL
    CHECK(must(store->database().query_int64("PRAGMA busy_timeout")) == 2000);
    {
      auto mode = must(store->database().prepare("PRAGMA journal_mode"));
      REQUIRE(must(mode.step()));
      CHECK(mode.column_text(0) == "wal");
    }  // a statement left mid-row would keep COMMIT from running
    seed(*store);
  }
  auto store = f.open();
  CHECK(must(store->schema_version()) == kSchemaVersion);
  CHECK(must(store->staff().list_members()).size() == 1);
  auto check = must(store->database().prepare("PRAGMA integrity_check"));
  REQUIRE(must(check.step()));
  CHECK(check.column_text(0) == "ok");
}

TEST_CASE("a database newer than the code, or not ours, is refused", "[store]") {
  Fixture f;
  {
    auto store = f.open();
    must(store->database().execute_script("PRAGMA user_version = 99"));
  }
  auto newer = Store::open(f.path, f.options());
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.error().kind == ErrorKind::kUnavailable);
  CHECK_THAT(newer.error().message, Catch::Contains("newer"));

  const auto other = f.dir.file("other.db");
  {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(other.c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw, "CREATE TABLE t(x)", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
  }
  auto foreign = Store::open(other, f.options());
  REQUIRE_FALSE(foreign.ok());
  CHECK_THAT(foreign.error().message, Catch::Contains("not a labgate database"));
}

TEST_CASE("a different site key is refused; no key cannot hash", "[store]") {
  Fixture f;
  { auto store = f.open(); }
  auto o = f.options();
  o.site_key = test_key(0x11);
  auto wrong = Store::open(f.path, o);
  REQUIRE_FALSE(wrong.ok());
  CHECK_THAT(wrong.error().message, Catch::Contains("site key"));
  o.site_key.reset();
  auto keyless = must(Store::open(f.path, o));
  auto r = keyless->taps().find_credential("iso14443a", kUid);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::kInvalid);
}

TEST_CASE("tap-path queries", "[store]") {
  Fixture f;
  auto store = f.open();
  const auto seeded = seed(*store);

  SECTION("credential -> member -> plan in one lookup") {
    auto match = must(store->taps().find_credential("iso14443a", kUid));
    REQUIRE(match);
    CHECK(match->credential.id == seeded.credential.id);
    CHECK(match->member.member_no == "M0001");
    CHECK(match->member.status == MemberStatus::kActive);
    CHECK(match->member.valid_until == std::optional<std::string>("2027-03-31"));
    REQUIRE(match->plan);
    CHECK(match->plan->code == "FULL");
    CHECK(match->plan->windows == "mon-fri 08:30-17:15; sat 10:00-16:00");
    CHECK(match->plan->holidays_allowed);
    CHECK_FALSE(match->plan->closure_allowed);
    // Same bytes, other technology: a different credential.
    CHECK_FALSE(must(store->taps().find_credential("felica", kUid)));
    CHECK_FALSE(
        must(store->taps().find_credential("iso14443a", std::vector<std::uint8_t>{1, 2, 3, 4})));
  }
  SECTION("revoked credentials are still found, marked revoked") {
    must(store->staff().revoke_credential("iso14443a", kUid, "lost", "staff"));
    auto match = must(store->taps().find_credential("iso14443a", kUid));
    REQUIRE(match);
    CHECK(match->credential.revoked_at_ms == f.now);
    CHECK(match->credential.revoked_reason == std::optional<std::string>("lost"));
  }
  SECTION("valid certification by member, type and date") {
    const auto id = seeded.member.id;
    CHECK_FALSE(must(store->taps().valid_certification(id, "laser", "2026-04-01")));
    must(store->staff().grant_certification("M0001", "laser", "Sato", std::string("2026-04-01"),
                                            "staff"));
    auto c = must(store->taps().valid_certification(id, "laser", "2026-04-01"));
    REQUIRE(c);
    CHECK(c->expires_on == std::optional<std::string>("2027-03-31"));
    CHECK(must(store->taps().valid_certification(id, "laser", "2027-03-31")));
    CHECK_FALSE(must(store->taps().valid_certification(id, "laser", "2027-04-01")));
    CHECK_FALSE(must(store->taps().valid_certification(id, "laser", "2026-03-31")));
    must(store->staff().revoke_certification("M0001", "laser", "unsafe use", "staff"));
    CHECK_FALSE(must(store->taps().valid_certification(id, "laser", "2026-06-01")));
  }
  SECTION("machine row with lockout and inspection due") {
    auto m = must(store->taps().machine("laser1"));
    REQUIRE(m);
    CHECK(m->certification_type == std::optional<std::string>("laser"));
    CHECK_FALSE(m->locked_out);
    CHECK_FALSE(m->next_inspection_due);
    must(store->staff().record_inspection(
        {"laser1", std::string("2026-04-01"), "Suzuki", "pass", "lens clean", std::nullopt},
        "staff"));
    m = must(store->taps().machine("laser1"));
    CHECK(m->next_inspection_due == std::optional<std::string>("2026-05-01"));
    CHECK(m->last_inspection_on == std::optional<std::string>("2026-04-01"));
    must(store->staff().lockout_machine("laser1", "smoke", "staff"));
    m = must(store->taps().machine("laser1"));
    CHECK(m->locked_out);
    CHECK(m->lockout_reason == std::optional<std::string>("smoke"));
    CHECK_FALSE(must(store->taps().machine("nope")));
  }
  SECTION("a failed inspection locks the machine out") {
    must(store->staff().record_inspection(
        {"laser1", std::string("2026-04-02"), "Suzuki", "fail", "fan dead", std::nullopt}, "s"));
    auto m = must(store->taps().machine("laser1"));
    CHECK(m->locked_out);
    CHECK_THAT(m->lockout_reason.value_or(""), Catch::Contains("inspection failed"));
  }
  SECTION("open sessions for machine and coworking") {
    CHECK_FALSE(must(store->events().open_session_for_machine("laser1")));
    auto w = must(store->events().open_session(
        {"s-1", seeded.member.id, std::string("laser1"), SessionKind::kMachine, f.now},
        tap_event("e-1", f.now), event_msg()));
    auto open = must(store->events().open_session_for_machine("laser1"));
    REQUIRE(open);
    CHECK(open->uuid == "s-1");
    CHECK(open->id == w.session.id);
    CHECK_FALSE(must(store->events().open_coworking_session(seeded.member.id)));
    must(store->events().open_session(
        {"c-1", seeded.member.id, std::nullopt, SessionKind::kCoworking, f.now},
        tap_event("e-2", f.now), event_msg()));
    auto cw = must(store->events().open_coworking_session(seeded.member.id));
    REQUIRE(cw);
    CHECK(cw->uuid == "c-1");
    CHECK_FALSE(cw->machine_id);
  }
}

TEST_CASE("tap-path queries use indexes", "[store]") {
  Fixture f;
  auto store = f.open();
  const auto plan = [&](const std::string& sql) {
    auto stmt = must(store->database().prepare("EXPLAIN QUERY PLAN " + sql));
    std::string all;
    while (must(stmt.step())) all += stmt.column_text(3) + "\n";
    return all;
  };
  const auto credential = plan(
      "SELECT c.id FROM credentials c JOIN members m ON m.id = c.member_id LEFT JOIN plans p "
      "ON p.id = m.plan_id WHERE c.id_hash = x'00'");
  CHECK_THAT(credential, Catch::Contains("USING INDEX sqlite_autoindex_credentials"));
  CHECK_THAT(credential, !Catch::Contains("SCAN"));
  const auto cert = plan(
      "SELECT id FROM certifications WHERE member_id = 1 AND type_code = 'x' AND revoked_at IS "
      "NULL");
  CHECK_THAT(cert, Catch::Contains("certifications_member_type"));
  const auto session =
      plan("SELECT id FROM sessions WHERE machine_id = 'm' AND ended_at_ms IS NULL");
  CHECK_THAT(session, Catch::Contains("sessions_one_open_per_machine"));
  const auto outbox =
      plan("SELECT seq FROM outbox WHERE sent_at_ms IS NULL AND seq > 5 ORDER BY seq LIMIT 10");
  CHECK_THAT(outbox, Catch::Contains("outbox_unsent"));
}

TEST_CASE("sequence numbers are gapless across many writes and a re-open", "[store]") {
  Fixture f;
  std::vector<std::int64_t> seqs;
  {
    auto store = f.open();
    seed(*store);
    for (int i = 0; i < 300; ++i) {
      if (i % 7 == 3) {
        seqs.push_back(must(store->events().append_outbox(
            {"labgate/v1/site/gw/door/front/state", R"({"state":"closed"})", true}, f.now)));
      } else {
        seqs.push_back(must(store->events().record_access(
            tap_event("e-" + std::to_string(i), f.now + i), event_msg())));
      }
      // A write that fails (duplicate uuid) must not burn a number.
      if (i == 10) {
        auto dup = store->events().record_access(tap_event("e-0", f.now), event_msg());
        REQUIRE_FALSE(dup.ok());
        CHECK(dup.error().kind == ErrorKind::kConstraint);
      }
    }
  }
  {
    auto store = f.open();
    for (int i = 300; i < 400; ++i) {
      seqs.push_back(must(store->events().record_access(
          tap_event("e-" + std::to_string(i), f.now + i), "topic/x", false,
          [](std::int64_t seq) { return "{\"seq\":" + std::to_string(seq) + "}"; })));
    }
    std::vector<std::int64_t> expect(400);
    std::iota(expect.begin(), expect.end(), 1);
    CHECK(seqs == expect);
    CHECK(must(store->events().last_seq()) == 400);
    auto rows = must(store->events().fetch_unsent(0, 1000));
    REQUIRE(rows.size() == 400);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      CHECK(rows[i].seq == static_cast<std::int64_t>(i + 1));
    }
    CHECK(rows.back().payload == "{\"seq\":400}");
    CHECK(rows[3].retain);
    // Event seqs are the outbox seqs of their rows.
    auto events = must(store->events().list_events({.limit = 1000}));
    CHECK(events.size() == 400 - 43);
    for (const auto& e : events) CHECK(rows[static_cast<std::size_t>(e.seq - 1)].topic != "");
  }
}

TEST_CASE("outbox: fetch, mark sent in one batch, prune, count", "[store]") {
  Fixture f;
  auto store = f.open();
  seed(*store);
  for (int i = 0; i < 2500; ++i) {
    must(store->events().append_outbox({"t", "{\"i\":" + std::to_string(i) + "}", false}, f.now));
  }
  CHECK(must(store->events().unsent_count()) == 2500);
  auto first = must(store->events().fetch_unsent(0, 100));
  REQUIRE(first.size() == 100);
  CHECK(first.front().seq == 1);
  auto next = must(store->events().fetch_unsent(first.back().seq, 100));
  CHECK(next.front().seq == 101);

  auto all = must(store->events().fetch_unsent(0, 5000));
  REQUIRE(all.size() == 2500);
  std::vector<std::int64_t> seqs;
  for (std::size_t i = 0; i < 2000; ++i) seqs.push_back(all[i].seq);
  const auto t0 = std::chrono::steady_clock::now();
  must(store->events().mark_sent(seqs, kT0 + 1000));
  const auto took = std::chrono::steady_clock::now() - t0;
  // The MQTT side needs >= 2000 rows/s; one transaction makes this a single commit.
  CHECK(took < std::chrono::seconds(1));
  CHECK(must(store->events().unsent_count()) == 500);
  CHECK(must(store->events().fetch_unsent(0, 10)).front().seq == 2001);
  CHECK(must(store->events().prune_sent(kT0 + 1000)) == 0);  // strictly older only
  CHECK(must(store->events().prune_sent(kT0 + 1001)) == 2000);
  CHECK(must(store->events().unsent_count()) == 500);
  // Pruning never lets a sequence number come back.
  CHECK(must(store->events().append_outbox({"t", "{}", false}, f.now)) == 2501);
}

TEST_CASE("a machine cannot have two open sessions; close and reopen", "[store]") {
  Fixture f;
  auto store = f.open();
  const auto s = seed(*store);
  must(store->staff().add_member({"M0002", "Taro", "", std::nullopt, std::nullopt, std::nullopt},
                                 "st"));
  const auto other = must(store->taps().member_by_no("M0002"))->id;
  must(store->events().open_session(
      {"s-1", s.member.id, std::string("laser1"), SessionKind::kMachine, f.now},
      tap_event("e-1", f.now), event_msg()));
  const auto seq_before = must(store->events().last_seq());
  auto dup = store->events().open_session(
      {"s-2", other, std::string("laser1"), SessionKind::kMachine, f.now + 5},
      tap_event("e-2", f.now + 5), event_msg());
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().kind == ErrorKind::kConstraint);
  CHECK(must(store->events().last_seq()) == seq_before);  // the whole transaction rolled back
  // The raw index refuses it too, whatever the API does.
  auto raw = must(store->database().prepare(
      "INSERT INTO sessions (uuid, member_id, machine_id, kind, started_at_ms) "
      "VALUES ('x', ?1, 'laser1', 'machine', 1)"));
  raw.bind(1, other);
  CHECK(raw.run().error().kind == ErrorKind::kConstraint);

  auto closed = must(store->events().close_session({std::string("s-1"), std::nullopt},
                                                   f.now + 90'500, "tap_off", std::nullopt,
                                                   tap_event("e-3", f.now + 90'500), event_msg()));
  CHECK(closed.session.measured_seconds == std::optional<std::int64_t>(90));
  CHECK(closed.session.end_reason == std::optional<std::string>("tap_off"));
  auto again =
      store->events().close_session({std::nullopt, closed.session.id}, f.now + 100'000, "staff",
                                    std::nullopt, tap_event("e-4", f.now), event_msg());
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().kind == ErrorKind::kConflict);
  must(store->events().open_session(
      {"s-2", other, std::string("laser1"), SessionKind::kMachine, f.now + 100'000},
      tap_event("e-5", f.now + 100'000), event_msg()));
  auto sessions = must(store->events().list_sessions({.machine_id = std::string("laser1")}));
  REQUIRE(sessions.size() == 2);
  CHECK(sessions[0].member_no == std::optional<std::string>("M0002"));
}

TEST_CASE("renew-by-use certifications are extended by a session", "[store]") {
  Fixture f;
  auto store = f.open();
  const auto s = seed(*store);
  must(store->staff().add_certification_type({"cnc", "CNC mill", 90, true}, "st"));
  must(store->staff().add_machine({"cnc1", "CNC", std::string("cnc"), "tap", 0, true}, "st"));
  must(store->staff().grant_certification("M0001", "cnc", "Sato", std::string("2026-03-01"), "st"));
  CHECK(must(store->taps().valid_certification(s.member.id, "cnc", "2026-04-01"))->expires_on ==
        std::optional<std::string>("2026-05-29"));
  must(store->events().open_session(
      {"s-1", s.member.id, std::string("cnc1"), SessionKind::kMachine, f.now},
      tap_event("e-1", f.now), event_msg()));
  CHECK(must(store->taps().valid_certification(s.member.id, "cnc", "2026-04-01"))->expires_on ==
        std::optional<std::string>("2026-06-30"));
}

TEST_CASE("recover_open_sessions closes at the last heartbeat, never before the start", "[store]") {
  Fixture f;
  {
    auto store = f.open();
    const auto s = seed(*store);
    must(store->staff().add_member({"M0002", "Taro", "", std::nullopt, std::nullopt, std::nullopt},
                                   "st"));
    const auto other = must(store->taps().member_by_no("M0002"))->id;
    must(store->events().write_heartbeat(kT0));
    must(store->events().open_session(
        {"s-1", s.member.id, std::string("laser1"), SessionKind::kMachine, kT0 + 1000},
        tap_event("e-1", kT0 + 1000), event_msg()));
    must(store->events().write_heartbeat(kT0 + 61'000));
    must(store->events().open_session(
        {"c-1", other, std::nullopt, SessionKind::kCoworking, kT0 + 70'000},
        tap_event("e-2", kT0 + 70'000), event_msg()));
    must(store->events().write_heartbeat(kT0 + 65'000));
    // The daemon dies here without closing anything.
  }
  auto store = f.open();
  CHECK(must(store->events().last_heartbeat()) == std::optional<std::int64_t>(kT0 + 65'000));
  auto closed = must(store->events().recover_open_sessions());
  REQUIRE(closed.size() == 2);
  CHECK(closed[0].uuid == "s-1");
  CHECK(closed[0].ended_at_ms == std::optional<std::int64_t>(kT0 + 65'000));
  CHECK(closed[0].measured_seconds == std::optional<std::int64_t>(64));
  CHECK(closed[0].end_reason == std::optional<std::string>("power_loss_recovered"));
  CHECK(closed[1].uuid == "c-1");
  CHECK(closed[1].ended_at_ms == std::optional<std::int64_t>(kT0 + 70'000));  // not before start
  CHECK(closed[1].measured_seconds == std::optional<std::int64_t>(0));
  CHECK_FALSE(must(store->events().open_session_for_machine("laser1")));
  CHECK(must(store->events().recover_open_sessions()).empty());
  // A heartbeat never goes backwards.
  must(store->events().write_heartbeat(kT0));
  CHECK(must(store->events().last_heartbeat()) == std::optional<std::int64_t>(kT0 + 65'000));
}

TEST_CASE("audit chain verifies and shows tampering", "[store]") {
  Fixture f;
  auto store = f.open();
  seed(*store);
  must(store->staff().lockout_machine("laser1", "smoke", "alice"));
  must(store->staff().release_machine("laser1", "alice"));
  auto verdict = must(store->audit().verify_audit_chain());
  CHECK(verdict.ok);
  const auto rows = must(store->audit().list_audit());
  CHECK(verdict.rows_checked == static_cast<std::int64_t>(rows.size()));
  REQUIRE(rows.size() >= 7);
  CHECK(rows[0].prev_hash == std::vector<std::uint8_t>(32, 0));
  CHECK(rows[1].prev_hash == rows[0].hash);
  CHECK(rows.back().actor == "alice");
  CHECK(rows.back().action == "machine.release");

  SECTION("an edited row") {
    must(store->database().execute_script("UPDATE audit_log SET actor = 'mallory' WHERE id = 3"));
    auto bad = must(store->audit().verify_audit_chain());
    CHECK_FALSE(bad.ok);
    CHECK(bad.first_bad_id == std::optional<std::int64_t>(3));
    CHECK(bad.rows_checked == 2);
  }
  SECTION("a deleted row") {
    must(store->database().execute_script("DELETE FROM audit_log WHERE id = 4"));
    auto bad = must(store->audit().verify_audit_chain());
    CHECK_FALSE(bad.ok);
    CHECK(bad.first_bad_id == std::optional<std::int64_t>(5));
  }
}

TEST_CASE("the raw UID never reaches the database file", "[store]") {
  Fixture f;
  const std::vector<std::uint8_t> uid = {0xDE, 0xAD, 0xBE, 0xEF, 0x13, 0x37, 0x42};
  const std::string raw(uid.begin(), uid.end());
  const std::string hex_upper = "DEADBEEF133742";
  const std::string hex_lower = "deadbeef133742";
  {
    auto store = f.open();
    seed(*store);
    must(store->staff().enroll_credential("M0001", "felica", uid, "suica", "staff"));
    must(store->staff().revoke_credential("felica", uid, "lost", "staff"));
    // Check the WAL before the checkpoint too.
    for (const auto& p : {f.path, std::filesystem::path(f.path.string() + "-wal")}) {
      const auto bytes = file_bytes(p);
      CHECK(bytes.find(raw) == std::string::npos);
      CHECK(bytes.find(hex_upper) == std::string::npos);
      CHECK(bytes.find(hex_lower) == std::string::npos);
    }
  }
  const auto bytes = file_bytes(f.path);
  REQUIRE(bytes.size() > 4096);
  CHECK(bytes.find(raw) == std::string::npos);
  CHECK(bytes.find(hex_upper) == std::string::npos);
  CHECK(bytes.find(hex_lower) == std::string::npos);
}

TEST_CASE("a write lock held past busy_timeout gives kBusy, not an exception", "[store]") {
  Fixture f;
  auto store = f.open(std::chrono::milliseconds(150));
  seed(*store);
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(f.path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const auto t0 = std::chrono::steady_clock::now();
  Result<std::int64_t> r{0};
  CHECK_NOTHROW(r = store->events().record_access(tap_event("e-1", f.now), event_msg()));
  const auto waited = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::kBusy);
  CHECK(r.error().retryable());
  CHECK_THAT(r.error().message, Catch::Contains("locked"));
  CHECK(waited >= std::chrono::milliseconds(140));
  // Staff operations report the same way.
  auto staff = store->staff().lockout_machine("laser1", "x", "staff");
  REQUIRE_FALSE(staff.ok());
  CHECK(staff.error().kind == ErrorKind::kBusy);
  // Reads still work under WAL while the other writer holds its lock, and so does opening.
  CHECK(must(store->taps().find_credential("iso14443a", kUid)));
  auto second = f.open(std::chrono::milliseconds(150));
  CHECK(must(second->staff().list_members()).size() == 1);
  REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
  CHECK(must(store->events().record_access(tap_event("e-1", f.now), event_msg())) == 1);
}

TEST_CASE("data_version changes when another connection commits", "[store]") {
  Fixture f;
  auto daemon = f.open();
  seed(*daemon);
  const auto v0 = must(daemon->data_version());
  CHECK(must(daemon->data_version()) == v0);
  must(daemon->events().write_heartbeat(kT0));  // our own commits do not count
  CHECK(must(daemon->data_version()) == v0);
  auto ctl = f.open();
  must(ctl->staff().suspend_member("M0001", "unpaid", "staff"));
  CHECK(must(daemon->data_version()) != v0);
  CHECK(must(daemon->taps().find_credential("iso14443a", kUid))->member.status ==
        MemberStatus::kSuspended);
}

TEST_CASE("a corrupt file gives a clear error at open", "[store]") {
  Fixture f;
  {
    std::ofstream out(f.path, std::ios::binary);
    std::string garbage(8192, '\0');
    for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 31 + 7);
    out << garbage;
  }
  Result<std::unique_ptr<Store>> r{Error{}};
  CHECK_NOTHROW(r = Store::open(f.path, f.options()));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::kUnavailable);
  CHECK_THAT(r.error().message, Catch::Contains("not a database"));
  CHECK_THAT(r.error().message, Catch::Contains(f.path.string()));
}

TEST_CASE("a database with a garbled page reports corruption, not a crash", "[store]") {
  Fixture f;
  {
    auto store = f.open();
    seed(*store);
    for (int i = 0; i < 200; ++i) {
      must(store->events().record_access(tap_event("e-" + std::to_string(i), f.now), event_msg()));
    }
    must(store->database().execute_script("PRAGMA wal_checkpoint(TRUNCATE)"));
  }
  {
    std::fstream io(f.path, std::ios::binary | std::ios::in | std::ios::out);
    const std::string junk(4096 * 3, '\x77');
    io.seekp(4096 * 2);
    io.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto r = Store::open(f.path, f.options());
  if (r.ok()) {
    // The schema page survived; the damage shows on the first read of a garbled page.
    auto events = (*r)->events().list_events({.limit = 1000});
    auto members = (*r)->staff().list_members();
    const bool any_error = !events.ok() || !members.ok();
    REQUIRE(any_error);
    const Error& e = !events.ok() ? events.error() : members.error();
    CHECK(e.kind == ErrorKind::kUnavailable);
  } else {
    CHECK(r.error().kind == ErrorKind::kUnavailable);
  }
}

TEST_CASE("read-only and full databases give clear errors", "[store]") {
  Fixture f;
  {
    auto store = f.open();
    seed(*store);
  }
  SECTION("read-only") {
    auto o = f.options();
    o.database.read_only = true;
    auto store = must(Store::open(f.path, o));
    CHECK(must(store->taps().find_credential("iso14443a", kUid)));
    auto r = store->events().record_access(tap_event("e-1", f.now), event_msg());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::kUnavailable);
    CHECK_THAT(r.error().message, Catch::Contains("readonly"));
  }
  SECTION("full") {
    auto store = f.open();
    const auto pages = must(store->database().query_int64("PRAGMA page_count"));
    must(store->database().execute_script("PRAGMA max_page_count = " + std::to_string(pages)));
    Error last{};
    bool failed = false;
    for (int i = 0; i < 2000 && !failed; ++i) {
      auto r = store->events().record_access(tap_event("e-" + std::to_string(i), f.now),
                                             event_msg(std::string(200, 'x')));
      if (!r.ok()) {
        failed = true;
        last = r.error();
      }
    }
    REQUIRE(failed);
    CHECK(last.kind == ErrorKind::kUnavailable);
    CHECK_THAT(last.message, Catch::Contains("full"));
    // The failed transaction left nothing half-written and the store still answers.
    const auto seq = must(store->events().last_seq());
    CHECK(must(store->database().query_int64("SELECT count(*) FROM access_events")) == seq);
    CHECK(must(store->audit().verify_audit_chain()).ok);
  }
}

TEST_CASE("staff operations validate input and change nothing on refusal", "[store]") {
  Fixture f;
  auto store = f.open();
  seed(*store);
  const auto audit_rows = must(store->audit().list_audit()).size();
  const auto expect_error = [&](auto r, ErrorKind kind, const std::string& text) {
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == kind);
    CHECK_THAT(r.error().message, Catch::Contains(text));
  };
  expect_error(store->staff().add_member(
                   {"M0001", "Dup", "", std::nullopt, std::nullopt, std::nullopt}, "st"),
               ErrorKind::kConflict, "already exists");
  expect_error(store->staff().add_member(
                   {"M0009", "X", "", std::string("NOPE"), std::nullopt, std::nullopt}, "st"),
               ErrorKind::kNotFound, "unknown plan");
  expect_error(store->staff().add_member(
                   {"M0009", "X", "", std::nullopt, std::nullopt, std::string("2026-02-30")}, "st"),
               ErrorKind::kInvalid, "2026-02-30");
  expect_error(store->staff().enroll_credential("M0404", "iso14443a", kUid, "", "st"),
               ErrorKind::kNotFound, "unknown member");
  expect_error(store->staff().enroll_credential("M0001", "iso14443a", kUid, "", "st"),
               ErrorKind::kConflict, "already enrolled");
  expect_error(store->staff().enroll_credential("M0001", "mifare", kUid, "", "st"),
               ErrorKind::kInvalid, "unknown card technology");
  expect_error(store->staff().grant_certification("M0001", "welding", "Sato", std::nullopt, "st"),
               ErrorKind::kNotFound, "unknown certification type");
  expect_error(store->staff().revoke_certification("M0001", "laser", "x", "st"),
               ErrorKind::kConflict, "no unrevoked");
  expect_error(store->staff().release_machine("laser1", "st"), ErrorKind::kConflict,
               "not locked out");
  expect_error(store->staff().record_inspection(
                   {"laser1", std::nullopt, "S", "maybe", "", std::nullopt}, "st"),
               ErrorKind::kInvalid, "pass or fail");
  expect_error(store->staff().approve_member("M0001", "st"), ErrorKind::kConflict,
               "already active");
  must(store->staff().revoke_credential("iso14443a", kUid, "lost", "st"));
  expect_error(store->staff().revoke_credential("iso14443a", kUid, "lost", "st"),
               ErrorKind::kConflict, "already revoked");
  CHECK(must(store->audit().list_audit()).size() == audit_rows + 1);
  CHECK(must(store->audit().verify_audit_chain()).ok);
}

TEST_CASE("certifications list and expiring window", "[store]") {
  Fixture f;  // today is 2026-04-01 in Tokyo
  auto store = f.open();
  seed(*store);
  must(store->staff().add_member({"M0002", "Taro", "", std::nullopt, std::nullopt, std::nullopt},
                                 "st"));
  must(store->staff().add_certification_type({"3dp", "3D printer", 30, false}, "st"));
  must(store->staff().add_certification_type({"hand", "Hand tools", 0, false}, "st"));
  must(store->staff().grant_certification("M0001", "laser", "Sato", std::string("2025-04-20"),
                                          "st"));
  must(store->staff().grant_certification("M0002", "3dp", "Sato", std::nullopt, "st"));  // today
  must(store->staff().grant_certification("M0002", "hand", "Sato", std::nullopt, "st"));
  CHECK(store->today() == "2026-04-01");
  auto soon = must(store->staff().list_certifications({.expiring_within_days = 30}));
  REQUIRE(soon.size() == 2);
  CHECK(soon[0].member_no == "M0001");
  CHECK(soon[0].expires_on == std::optional<std::string>("2026-04-19"));
  CHECK(soon[1].expires_on == std::optional<std::string>("2026-04-30"));
  CHECK(must(store->staff().list_certifications({.expiring_within_days = 10})).empty());
  CHECK(must(store->staff().list_certifications({.expiring_within_days = 18})).size() == 1);
  auto m2 = must(store->staff().list_certifications({.member_no = std::string("M0002")}));
  REQUIRE(m2.size() == 2);
  CHECK_FALSE(m2.back().expires_on);  // never expires, sorted last
}

TEST_CASE("command nonces are remembered across a re-open until they expire", "[store]") {
  Fixture f;
  const std::string nonce(32, 'a');
  {
    auto store = f.open();
    CHECK(must(store->events().remember_command_nonce(nonce, kT0 + 60'000, kT0)));
    CHECK_FALSE(must(store->events().remember_command_nonce(nonce, kT0 + 60'000, kT0 + 1'000)));
    CHECK(must(store->events().remember_command_nonce(std::string(32, 'b'), kT0 + 30'000, kT0)));
    CHECK(must(store->events().command_nonce_count()) == 2);
  }
  // A new connection (the daemon after a restart) still refuses the nonce.
  auto store = f.open();
  CHECK_FALSE(must(store->events().remember_command_nonce(nonce, kT0 + 60'000, kT0 + 2'000)));
  // At its expiry it is still remembered (and 'b', expired, is pruned by this insert).
  CHECK_FALSE(must(store->events().remember_command_nonce(nonce, kT0 + 120'000, kT0 + 60'000)));
  CHECK(must(store->events().command_nonce_count()) == 1);
  // One millisecond later it is forgotten: the next insert prunes it.
  CHECK(must(
      store->events().remember_command_nonce(std::string(32, 'c'), kT0 + 90'000, kT0 + 60'001)));
  CHECK(must(store->events().command_nonce_count()) == 1);
  CHECK(must(store->events().remember_command_nonce(nonce, kT0 + 150'000, kT0 + 60'001)));
  auto empty = store->events().remember_command_nonce("", kT0, kT0);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().kind == ErrorKind::kInvalid);
}

TEST_CASE("store: the database and its WAL and SHM files are private whatever the umask",
          "[store][files]") {
  Fixture f;
  const mode_t saved = ::umask(022);
  {
    auto s = f.open();
    must(s->staff().add_plan({"FULL", "Full time", "mon-fri 08:30-17:15"}, "test"));
    for (const char* suffix : {"", "-wal", "-shm"}) {
      struct stat st {};
      const auto p = f.path.string() + suffix;
      INFO(p);
      REQUIRE(::stat(p.c_str(), &st) == 0);
      CHECK((st.st_mode & 0777) == 0640);
    }
    CHECK(s->database().exposure_warning().empty());
  }
  ::umask(saved);

  // A file that every user may read is opened, with a warning that says how to fix it.
  REQUIRE(::chmod(f.path.c_str(), 0644) == 0);
  auto again = f.open();
  const auto& w = again->database().exposure_warning();
  CHECK_THAT(w, Catch::Contains("can be read by every user"));
  CHECK_THAT(w, Catch::Contains("chmod 640 " + f.path.string()));
}

TEST_CASE("a version-1 database upgrades to the current schema and keeps its rows", "[store]") {
  Fixture f;
  // The hash a card had at version 1: the same key hashes the same way in every version.
  std::vector<std::uint8_t> hash;
  {
    Fixture g;
    hash = must(g.open()->credential_hash("iso14443a", kUid));
  }
  {
    // The file exactly as migration 1 left it, with a day of rows written the way that
    // version's code wrote them.
    auto db = must(Database::open(f.path, DatabaseOptions{}));
    must(db->execute_script(detail::kMigrations[0]));
    must(db->execute_script(
        "PRAGMA user_version = 1; PRAGMA application_id = " + std::to_string(kApplicationId) +
        ";"
        "INSERT INTO plans (id, code, name, windows, holidays_allowed, closure_allowed) "
        "  VALUES (1, 'FULL', 'Full time', '24h', 1, 0);"
        "INSERT INTO members (id, member_no, name, email, status, plan_id, created_at, "
        "approved_at) "
        "  VALUES (1, 'M0001', 'Hanako Yamada', 'hanako@example.jp', 'active', 1, 1, 2);"
        "INSERT INTO certification_types (code, name, validity_days, renew_by_use) "
        "  VALUES ('laser', 'Laser cutter', 365, 0);"
        "INSERT INTO certifications (member_id, type_code, trainer, granted_on, expires_on) "
        "  VALUES (1, 'laser', 'Trainer', '2026-01-10', '2027-01-09');"
        "INSERT INTO machines (id, name, certification_type, session_mode, "
        "  inspection_interval_days, created_at) VALUES ('laser1', 'Laser 1', 'laser', 'hold', 30, "
        "1);"
        "INSERT INTO inspections (machine_id, done_on, inspector, result, next_due) "
        "  VALUES ('laser1', '2026-03-20', 'Sato', 'pass', '2026-04-19');"
        "INSERT INTO sessions (uuid, member_id, machine_id, kind, started_at_ms, ended_at_ms, "
        "  end_reason, measured_seconds) VALUES ('s-1', 1, 'laser1', 'machine', 1000, 61000, "
        "  'card_removed', 60);"
        "INSERT INTO access_events (uuid, at_ms, seq, machine_id, member_id, kind, decision, "
        "reason)"
        "  VALUES ('e-1', 1000, 1, 'laser1', 1, 'machine_tap', 'granted', 'ok');"
        "INSERT INTO outbox (seq, topic, payload, retain, created_at_ms) "
        "  VALUES (1, 'labgate/t/event', '{}', 0, 1000);"
        "UPDATE gateway_seq SET last_seq = 1;"));
    auto insert = must(db->prepare(
        "INSERT INTO credentials (id, member_id, technology, id_hash, label, enrolled_at) "
        "VALUES (1, 1, 'iso14443a', ?1, 'blue tag', 3)"));
    insert.bind(1, std::span<const std::uint8_t>(hash));
    must(insert.run());
    // The audit row as version 1 wrote it (no OS user or account columns yet), chained the
    // way that version chained: BLAKE2b-256 over 32 zero bytes and the row as a JSON array.
    const std::string row =
        nlohmann::json::array({1, 3, "staff", "credential.enroll", "M0001", "{}"}).dump();
    std::vector<std::uint8_t> zero(crypto_generichash_BYTES, 0), chained(zero.size());
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, chained.size());
    crypto_generichash_update(&st, zero.data(), zero.size());
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(row.data()), row.size());
    crypto_generichash_final(&st, chained.data(), chained.size());
    auto audit = must(db->prepare(
        "INSERT INTO audit_log (id, at_ms, actor, action, subject, detail, prev_hash, hash) "
        "VALUES (1, 3, 'staff', 'credential.enroll', 'M0001', '{}', ?1, ?2)"));
    audit.bind(1, std::span<const std::uint8_t>(zero))
        .bind(2, std::span<const std::uint8_t>(chained));
    must(audit.run());
  }

  auto store = f.open();
  CHECK(must(store->schema_version()) == kSchemaVersion);
  // The tables of later versions exist and work.
  CHECK(must(store->events().remember_command_nonce("n-1", kT0 + 60000, kT0)));
  CHECK(must(store->ledger().list_rates(std::nullopt, true)).empty());

  auto match = must(store->taps().find_credential("iso14443a", kUid));
  REQUIRE(match);
  CHECK(match->member.member_no == "M0001");
  CHECK(match->credential.label == "blue tag");
  CHECK_FALSE(match->credential.issued_key_version);
  REQUIRE(match->plan);
  CHECK(match->plan->code == "FULL");
  CHECK(must(store->taps().valid_certification(1, "laser", "2026-04-01")));
  auto machine = must(store->taps().machine("laser1"));
  REQUIRE(machine);
  CHECK(machine->next_inspection_due == std::optional<std::string>("2026-04-19"));
  auto sessions = must(store->events().list_sessions({}));
  REQUIRE(sessions.size() == 1);
  CHECK(sessions[0].measured_seconds == std::optional<std::int64_t>(60));
  CHECK(must(store->events().list_events({})).size() == 1);
  CHECK(must(store->events().unsent_count()) == 1);
  // The sequence goes on from where version 1 left it.
  CHECK(must(store->events().last_seq()) == 1);
  CHECK(must(store->events().append_outbox({"labgate/t/state", "{}", true}, kT0)) == 2);
  // The audit chain written at version 1 still verifies, and grows.
  must(store->audit().append_audit("staff", "check", "upgrade", "{}"));
  auto verdict = must(store->audit().verify_audit_chain());
  CHECK(verdict.ok);
  CHECK(verdict.rows_checked == 2);
  // Rows from before version 5 name no OS user; later ones do.
  const auto rows = must(store->audit().list_audit());
  CHECK_FALSE(rows.front().os_uid.has_value());
  CHECK(rows.back().os_uid == static_cast<std::int64_t>(::getuid()));
}

TEST_CASE("a version-8 database upgrades: its price items and sales become standard-rate taxed",
          "[store][tax]") {
  Fixture f;
  {
    // The file as version 8 left it: an item on the price list and a sale of it.
    auto db = must(Database::open(f.path, DatabaseOptions{}));
    for (std::size_t v = 0; v < 8; ++v) must(db->execute_script(detail::kMigrations[v]));
    must(db->execute_script(
        "PRAGMA user_version = 8; PRAGMA application_id = " + std::to_string(kApplicationId) +
        ";"
        "INSERT INTO members (id, member_no, name, status, created_at) "
        "  VALUES (1, 'M0001', 'Hanako Yamada', 'active', 1);"
        "INSERT INTO price_list (code, name, price) VALUES ('ACR3', 'Acrylic', 450);"
        "INSERT INTO sales (member_id, item_code, quantity, unit_price, at_ms, actor) "
        "  VALUES (1, 'ACR3', 2, 450, 1000, 'clerk');"));
  }
  auto store = f.open();
  CHECK(must(store->schema_version()) == kSchemaVersion);
  const auto items = must(store->ledger().list_price_items());
  REQUIRE(items.size() == 1);
  CHECK(items[0].tax_class == "standard");
  const auto sales = must(store->ledger().list_sales());
  REQUIRE(sales.size() == 1);
  CHECK(sales[0].tax_class == "standard");
  CHECK(sales[0].amount() == 900);
  // The column refuses anything but the three classes, whoever writes it.
  CHECK_FALSE(store->database().execute_script("UPDATE price_list SET tax_class = 'luxury'").ok());
}

TEST_CASE("a version-11 database moves its statement bodies to statement_bodies", "[store]") {
  Fixture f;
  const std::string body = R"({"member_no":"M0001","total":540})";
  const std::string sha = sha256_hex(body);  // checked again whenever the body is read
  {
    auto db = must(Database::open(f.path, DatabaseOptions{}));
    for (std::size_t v = 0; v < 11; ++v) must(db->execute_script(detail::kMigrations[v]));
    must(db->execute_script(
        "PRAGMA user_version = 11; PRAGMA application_id = " + std::to_string(kApplicationId) +
        ";"
        "INSERT INTO members (id, member_no, name, status, created_at) VALUES "
        "  (1, 'M0001', 'Hanako Yamada', 'active', 1), (2, 'M0002', 'Taro', 'active', 1);"));
    auto insert = must(db->prepare(
        "INSERT INTO statements (member_id, month, issued_at_ms, issued_by, total, sha256, "
        "body_json) VALUES (?1, ?2, 5, 'manager', 540, ?3, ?4)"));
    insert.bind(1, std::int64_t{1}).bind(2, "2026-10").bind(3, sha).bind(4, body);
    must(insert.run());
  }
  auto store = f.open();
  CHECK(must(store->schema_version()) == kSchemaVersion);
  auto& db = store->database();
  CHECK(must(BillingLedger::statement_body(db, "M0001", "2026-10")) == body);
  CHECK(must(db.query_int64("SELECT count(*) FROM statement_bodies")) == 1);
  CHECK(must(db.query_int64(
            "SELECT count(*) FROM pragma_table_info('statements') WHERE name = 'body_json'")) == 0);
  const auto rows = must(BillingLedger::list_statements(db, std::string{"2026-10"}));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].sha256 == sha);
  CHECK(rows[0].total == 540);
  // The migrated body is referenced: kept.
  CHECK_FALSE(must(BillingLedger::drop_unreferenced_body(db, sha)));
  // Bodies from before version 14 stay as they were stored, and read back the same.
  CHECK(must(db.query_int64("SELECT count(*) FROM statement_bodies WHERE encoding = 'identity' "
                            "AND typeof(body) = 'text'")) == 1);
  // A statement without its body is refused; with it, written (compressed).
  BodyPacker packer;
  const PackedBody packed = must(packer.pack("{}"));
  NewStatement s{2, "M0002", "2026-10", 6, Actor{"manager"}, 100, packed.sha256};
  {
    auto tx = must(Transaction::begin(db));
    CHECK_FALSE(BillingLedger::record_statement(db, s).ok());
  }
  {
    auto tx = must(Transaction::begin(db));
    CHECK(must(BillingLedger::put_statement_body(db, packed)));
    CHECK_FALSE(must(BillingLedger::put_statement_body(db, packed)));
    must(BillingLedger::record_statement(db, s));
    must(tx.commit());
  }
  CHECK(must(db.query_int64("SELECT count(*) FROM statement_bodies WHERE encoding = 'zstd'")) == 1);
  CHECK(must(BillingLedger::statement_body(db, "M0002", "2026-10")) == std::string{"{}"});
}
