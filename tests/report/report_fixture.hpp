#pragma once
// A store filled row by row with exact local times, for hand-computed ward-report figures.

#include <date/date.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "labgate/gateway/store/store.hpp"
#include "process.hpp"

namespace labgate::test {

using labgate::testing::TempDir;

namespace st = labgate::gateway::store;

/// Milliseconds of a local Asia/Tokyo time "YYYY-MM-DD HH:MM" (UTC+9, no DST since 1951).
inline std::int64_t tokyo(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0;
  REQUIRE(std::sscanf(text.c_str(), "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi) == 5);
  const date::sys_days day{date::year{y} / date::month{static_cast<unsigned>(mo)} /
                           date::day{static_cast<unsigned>(d)}};
  const auto t = day + std::chrono::hours{h - 9} + std::chrono::minutes{mi};
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

inline constexpr std::int64_t kHourMs = 3'600'000;

/// An empty labgate database and helpers that insert rows with chosen times.
class ReportDb {
 public:
  explicit ReportDb(const std::string& name = "report.db") : path_(dir_.file(name)) {
    auto s = st::Store::open(path_);
    REQUIRE(s.ok());
    store_ = std::move(s).value();
  }

  st::Store& store() { return *store_; }
  const std::filesystem::path& path() const { return path_; }
  const TempDir& dir() const { return dir_; }

  void exec(const std::string& sql) { REQUIRE(store_->database().execute_script(sql).ok()); }

  std::int64_t member(const std::string& created, const std::string& status = "active",
                      std::optional<std::string> approved = std::nullopt) {
    auto q = store_->database().prepare(
        "INSERT INTO members (member_no, name, status, created_at, approved_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    REQUIRE(q.ok());
    // Built by appending, not `"M" + std::to_string(n)`: GCC 12 at -O3 reports a false
    // -Wrestrict in the inlined insert at the front of a temporary string.
    std::string no = "M";
    no += std::to_string(++members_);
    std::string name = "会員 ";
    name += no;
    q->bind(1, no).bind(2, name).bind(3, status).bind(4, tokyo(created));
    if (approved) {
      q->bind(5, tokyo(*approved));
    } else {
      q->bind(5, tokyo(created));
    }
    REQUIRE(q->run().ok());
    return store_->database().last_insert_rowid();
  }

  void cert_type(const std::string& code, const std::string& name) {
    auto q = store_->database().prepare(
        "INSERT INTO certification_types (code, name, validity_days) VALUES (?1, ?2, 365)");
    REQUIRE(q.ok());
    q->bind(1, code).bind(2, name);
    REQUIRE(q->run().ok());
  }

  void machine(const std::string& id, const std::string& name, std::int64_t interval_days,
               const std::string& created = "2026-04-01 00:00") {
    auto q = store_->database().prepare(
        "INSERT INTO machines (id, name, session_mode, inspection_interval_days, created_at) "
        "VALUES (?1, ?2, 'hold', ?3, ?4)");
    REQUIRE(q.ok());
    q->bind(1, id).bind(2, name).bind(3, interval_days).bind(4, tokyo(created));
    REQUIRE(q->run().ok());
  }

  /// A machine session (machine non-empty) or a coworking session; no end: still open.
  void session(std::int64_t member, const std::string& machine, const std::string& start,
               std::optional<std::string> end) {
    auto q = store_->database().prepare(
        "INSERT INTO sessions (uuid, member_id, machine_id, kind, started_at_ms, ended_at_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    REQUIRE(q.ok());
    q->bind(1, "s-" + std::to_string(++uuids_)).bind(2, member);
    if (machine.empty()) {
      q->bind_null(3).bind(4, "coworking");
    } else {
      q->bind(3, machine).bind(4, "machine");
    }
    q->bind(5, tokyo(start));
    if (end) {
      q->bind(6, tokyo(*end));
    } else {
      q->bind_null(6);
    }
    REQUIRE(q->run().ok());
  }

  void event(std::optional<std::int64_t> member, const std::string& door,
             const std::string& machine, const std::string& decision, const std::string& at) {
    auto q = store_->database().prepare(
        "INSERT INTO access_events (uuid, at_ms, seq, door_id, machine_id, member_id, kind, "
        "decision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'tap', ?7)");
    REQUIRE(q.ok());
    ++uuids_;
    q->bind(1, "e-" + std::to_string(uuids_)).bind(2, tokyo(at)).bind(3, uuids_);
    if (door.empty()) {
      q->bind_null(4);
    } else {
      q->bind(4, door);
    }
    if (machine.empty()) {
      q->bind_null(5);
    } else {
      q->bind(5, machine);
    }
    q->bind(6, member).bind(7, decision);
    REQUIRE(q->run().ok());
  }

  void cert(std::int64_t member, const std::string& type, const std::string& granted_on,
            std::optional<std::string> revoked_at = std::nullopt) {
    auto q = store_->database().prepare(
        "INSERT INTO certifications (member_id, type_code, trainer, granted_on, revoked_at) "
        "VALUES (?1, ?2, 'trainer', ?3, ?4)");
    REQUIRE(q.ok());
    q->bind(1, member).bind(2, type).bind(3, granted_on);
    if (revoked_at) {
      q->bind(4, tokyo(*revoked_at));
    } else {
      q->bind_null(4);
    }
    REQUIRE(q->run().ok());
  }

  void inspection(const std::string& machine, const std::string& done_on, const std::string& result,
                  std::optional<std::string> next_due) {
    auto q = store_->database().prepare(
        "INSERT INTO inspections (machine_id, done_on, inspector, result, next_due) "
        "VALUES (?1, ?2, 'inspector', ?3, ?4)");
    REQUIRE(q.ok());
    q->bind(1, machine).bind(2, done_on).bind(3, result).bind(4, next_due);
    REQUIRE(q->run().ok());
  }

 private:
  TempDir dir_;
  std::filesystem::path path_;
  std::unique_ptr<st::Store> store_;
  int members_{0};
  std::int64_t uuids_{0};
};

/// The May 2026 dataset whose figures report_test.cpp computes by hand.
inline void fill_may_2026(ReportDb& db) {
  db.cert_type("laser", "レーザー加工機 講習");
  db.cert_type("printer", "3D printer");
  db.machine("laser", "レーザー加工機", 30);
  db.machine("printer", "3D プリンター", 0);
  // Members 1..5 before May (5 suspended since), 6 in May, 7 on 06-01 00:00, 8 on 04-30 23:59.
  for (int i = 1; i <= 4; ++i) db.member("2026-04-01 00:00");
  db.member("2026-04-01 00:00", "suspended");
  db.member("2026-05-10 09:00", "active", "2026-05-10 10:00");
  db.member("2026-06-01 00:00");
  db.member("2026-04-30 23:59");
  // Machine sessions.
  db.session(1, "laser", "2026-04-30 23:00", "2026-05-01 01:00");
  db.session(2, "laser", "2026-05-10 10:00", "2026-05-10 12:30");
  db.session(1, "printer", "2026-05-31 23:00", "2026-06-01 02:00");
  db.session(3, "printer", "2026-05-15 23:30", "2026-05-16 00:30");
  db.session(3, "printer", "2026-06-02 10:00", "2026-06-02 11:00");  // June: not in May
  // Coworking: peak 3 at 05-20 10:30, tied on 05-22 14:00; c1 and c3 are back to back.
  db.session(4, "", "2026-05-20 09:00", "2026-05-20 12:00");
  db.session(5, "", "2026-05-20 10:00", "2026-05-20 11:00");
  db.session(2, "", "2026-05-20 10:30", "2026-05-20 10:45");
  db.session(6, "", "2026-05-20 12:00", "2026-05-20 13:00");
  db.session(4, "", "2026-05-21 09:00", "2026-05-21 10:00");
  db.session(1, "", "2026-05-22 14:00", "2026-05-22 15:00");
  db.session(2, "", "2026-05-22 14:00", "2026-05-22 15:00");
  db.session(3, "", "2026-05-22 14:00", "2026-05-22 15:00");
  // Door events: 5 and 8 granted; 7 denied; 7 granted at a machine (no door).
  db.event(5, "main", "", "granted", "2026-05-03 10:00");
  db.event(8, "main", "", "granted", "2026-05-04 10:00");
  db.event(7, "main", "", "denied", "2026-05-05 10:00");
  db.event(7, "", "laser", "granted", "2026-05-05 11:00");
  db.event(std::nullopt, "", "", "info", "2026-05-05 12:00");
  // Trainings.
  db.cert(1, "laser", "2026-05-02");
  db.cert(2, "laser", "2026-05-31", "2026-06-05 10:00");
  db.cert(3, "laser", "2026-04-30");
  db.cert(4, "laser", "2026-06-01");
  db.cert(3, "printer", "2026-05-15");
  db.cert(4, "printer", "2026-01-10", "2026-05-20 10:00");
  // Inspections: laser overdue 05-02..05-10, 05-21..05-24, 05-31 (14 days); printer never.
  db.inspection("laser", "2026-04-01", "pass", "2026-05-01");
  db.inspection("laser", "2026-05-11", "pass", "2026-05-20");
  db.inspection("laser", "2026-05-25", "fail", "2026-05-30");
}

}  // namespace labgate::test
