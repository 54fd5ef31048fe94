#pragma once
// Helpers shared by the billing tests: local Tokyo instants, engine inputs, a scratch database.

#include <date/date.h>
#include <date/tz.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "labgate/gateway/billing/engine.hpp"
#include "labgate/gateway/store/store.hpp"
#include "process.hpp"

namespace labgate::test::billing {

namespace bl = labgate::gateway::billing;
namespace st = labgate::gateway::store;

inline const date::time_zone* tokyo() {
  return date::locate_zone("Asia/Tokyo");
}

/// ms since the epoch of a local Tokyo wall time.
inline std::int64_t jst(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0,
                        int ms = 0) {
  const date::local_days day{date::year{y} / date::month{mo} / date::day{d}};
  const auto local = date::local_time<std::chrono::milliseconds>{day} + std::chrono::hours{h} +
                     std::chrono::minutes{mi} + std::chrono::seconds{s} +
                     std::chrono::milliseconds{ms};
  return date::zoned_time<std::chrono::milliseconds>{tokyo(), local}
      .get_sys_time()
      .time_since_epoch()
      .count();
}

/// 2026-11-<day> hh:mm:ss in Tokyo.
inline std::int64_t nov(unsigned day, int h, int mi = 0, int s = 0, int ms = 0) {
  return jst(2026, 11, day, h, mi, s, ms);
}

/// A machine session of `duration_ms` on `target`.
inline bl::SessionUsage session(std::int64_t id, std::string target, std::int64_t start,
                                std::int64_t duration_ms, std::optional<bl::RateTerms> rate) {
  bl::SessionUsage s;
  s.id = id;
  s.target = std::move(target);
  s.started_at_ms = start;
  s.ended_at_ms = start + duration_ms;
  s.rate = std::move(rate);
  return s;
}

/// 15-minute units at 300 yen, nothing else.
inline bl::RateTerms simple_rate(std::int64_t id = 1) {
  bl::RateTerms r;
  r.id = id;
  r.unit_seconds = 900;
  r.price_per_unit = 300;
  return r;
}

/// Bills one November 2026 member-month.
inline bl::Statement bill(std::vector<bl::SessionUsage> sessions,
                          std::vector<bl::SaleItem> sales = {}) {
  bl::StatementInput in;
  in.member_no = "M0001";
  in.name = "Aiko Tanaka";
  in.plan = "fablab";
  in.month = "2026-11";
  in.sessions = std::move(sessions);
  in.sales = std::move(sales);
  return bl::Engine{tokyo()}.bill(in);
}

/// Runs SQL and requires success.
inline void sql(st::Database& db, const std::string& text) {
  auto r = db.execute_script(text);
  INFO(text);
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.ok());
}

/// A store in a scratch directory, with an injectable clock.
struct DbFixture {
  labgate::testing::TempDir dir{"labgate-billing"};
  std::int64_t now{jst(2026, 12, 1, 9)};
  std::unique_ptr<st::Store> store;

  DbFixture() {
    st::StoreOptions o;
    st::SiteKey key{};
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i + 1);
    o.site_key = key;
    o.clock = [this] { return now; };
    auto s = st::Store::open(dir.path() / "labgate.db", o);
    INFO((s ? std::string() : s.error().message));
    REQUIRE(s.ok());
    store = std::move(*s);
  }
  st::Database& db() { return store->database(); }
};

/// Inserts a closed (or open when end is absent) session row.
inline void insert_session(st::Database& db, std::int64_t id, std::int64_t member_id,
                           const std::optional<std::string>& machine, std::int64_t start,
                           std::optional<std::int64_t> end,
                           std::optional<std::int64_t> busy = std::nullopt,
                           std::optional<std::int64_t> rate_id = std::nullopt) {
  auto stmt = db.prepare(
      "INSERT INTO sessions (id, uuid, member_id, machine_id, kind, started_at_ms, ended_at_ms, "
      "end_reason, measured_seconds, busy_seconds, rate_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
      "?8, ?9, ?10, ?11)");
  REQUIRE(stmt.ok());
  stmt->bind(1, id)
      .bind(2, "s-" + std::to_string(id))
      .bind(3, member_id)
      .bind(4, machine)
      .bind(5, machine ? "machine" : "coworking")
      .bind(6, start)
      .bind(7, end)
      .bind(8, end ? std::optional<std::string>("tap_off") : std::nullopt)
      .bind(9, end ? std::optional<std::int64_t>((*end - start) / 1000) : std::nullopt)
      .bind(10, busy)
      .bind(11, rate_id);
  auto r = stmt->run();
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.ok());
}

}  // namespace labgate::test::billing
