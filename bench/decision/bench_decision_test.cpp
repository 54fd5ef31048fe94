// Unit tests of the decision benchmark's parts: percentiles, card and member helpers, the seeded
// database (lookups match, the sequence carries on) and the site setup mapping.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>

#include "labgate/gateway/app/clock.hpp"
#include "labgate/gateway/app/site.hpp"
#include "labgate/gateway/config/site_config.hpp"
#include "labgate/gateway/store/store.hpp"
#include "latency.hpp"
#include "seed.hpp"

namespace decision = labgate::bench::decision;
namespace store = labgate::gateway::store;
namespace config = labgate::gateway::config;
namespace fs = std::filesystem;

TEST_CASE("percentile uses the nearest rank") {
  std::vector<double> v;
  for (int i = 1; i <= 1000; ++i) v.push_back(i);
  CHECK(decision::percentile(v, 50) == 500);
  CHECK(decision::percentile(v, 90) == 900);
  CHECK(decision::percentile(v, 99) == 990);
  CHECK(decision::percentile(v, 99.9) == 999);
  CHECK(decision::percentile(v, 100) == 1000);
  CHECK(decision::percentile({}, 50) == 0);
  CHECK(decision::percentile({7}, 99.9) == 7);
  // 10 samples: p99 and p99.9 are the largest, p50 the fifth.
  std::vector<double> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  CHECK(decision::percentile(ten, 50) == 5);
  CHECK(decision::percentile(ten, 99) == 10);
}

TEST_CASE("LatencySet summarises unsorted samples") {
  decision::LatencySet s;
  for (int i = 100; i >= 1; --i) s.add(i);
  auto sum = s.summary();
  CHECK(sum.count == 100);
  CHECK(sum.p50 == 50);
  CHECK(sum.p90 == 90);
  CHECK(sum.p99 == 99);
  CHECK(sum.p999 == 100);
  CHECK(sum.max == 100);
  CHECK(decision::LatencySet{}.summary().count == 0);
  CHECK(decision::format_row("door", sum).find("0.050") != std::string::npos);
}

TEST_CASE("member numbers and cards are distinct and round-trip") {
  CHECK(decision::member_no(0) == "M000001");
  CHECK(decision::member_index("M000001") == 0);
  CHECK(decision::member_index(decision::member_no(99'999)) == 99'999);
  CHECK(decision::member_index("X12") == -1);
  CHECK(decision::member_index("M1a") == -1);
  // Strings rather than byte vectors: g++ 12 at -O3 warns falsely on comparing vectors in a set.
  const auto key = [](const std::vector<std::uint8_t>& id) {
    return std::string(id.begin(), id.end());
  };
  std::set<std::string> seen;
  for (std::int64_t m = 0; m < 2000; ++m) {
    for (int which = 0; which < decision::kCardsPerMember; ++which) {
      CHECK(seen.insert(key(decision::member_card(m, which).identifier)).second);
    }
  }
  auto unknown = decision::unknown_card(0x0102030405060708ull);
  CHECK(unknown.identifier.size() == 7);
  CHECK_FALSE(seen.count(key(unknown.identifier)));
  int revoked = 0;
  for (std::int64_t m = 0; m < 9700; ++m) {
    CHECK_FALSE(decision::card_revoked(m, 0));
    revoked += decision::card_revoked(m, 1) ? 1 : 0;
  }
  CHECK(revoked == 100);
}

namespace {

config::SiteConfig demo() {
  auto loaded = config::load_config_string(config::embedded_demo_config(), "demo");
  REQUIRE(loaded.has_value());
  return loaded.value();
}

struct TempDb {
  TempDb() {
    dir = fs::temp_directory_path() /
          ("labgate-bench-test-" + std::to_string(::getpid()) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(dir);
  }
  ~TempDb() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path dir;
};

}  // namespace

TEST_CASE("the seeded database answers the tap path and continues the sequence") {
  const auto cfg = demo();
  TempDb tmp;
  std::chrono::system_clock::time_point start;
  REQUIRE(labgate::gateway::app::parse_time("2026-06-02 10:00", cfg.site.timezone, start));
  const std::int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(start.time_since_epoch()).count();
  store::StoreOptions so;
  so.site_key = cfg.site.key;
  so.clock = [now_ms] { return now_ms; };
  auto opened = store::Store::open(tmp.dir / "t.db", so);
  REQUIRE(opened.ok());
  auto& st = *opened.value();

  decision::SeedOptions o;
  o.members = 500;
  o.events = 3000;
  o.sessions = 200;
  o.first_day = cfg.calendar.to_local(start).date;
  o.first_day_ms = now_ms;
  decision::Population pop;
  auto timings = decision::seed_database(st, cfg, o, pop);
  CHECK(timings.total_s >= 0);

  auto& db = st.database();
  CHECK(db.query_int64("SELECT count(*) FROM members WHERE status = 'active'").value() == 500);
  CHECK(db.query_int64("SELECT count(*) FROM credentials").value() == 1000);
  CHECK(db.query_int64("SELECT count(*) FROM access_events").value() == 3000);
  CHECK(db.query_int64("SELECT count(*) FROM outbox WHERE sent_at_ms IS NOT NULL").value() == 3000);
  CHECK(db.query_int64("SELECT count(*) FROM sessions WHERE ended_at_ms IS NULL").value() == 0);
  CHECK(st.events().last_seq().value() == 3000);
  CHECK(st.events().unsent_count().value() == 0);
  CHECK(db.query_int64("SELECT count(*) FROM plans").value() ==
        static_cast<std::int64_t>(cfg.plans.size()));

  // Card lookups find the member; the revoked card is marked revoked.
  for (std::int64_t m : {0, 96, 250, 499}) {
    for (int which = 0; which < decision::kCardsPerMember; ++which) {
      const auto card = decision::member_card(m, which);
      auto found =
          st.taps().find_credential(labgate::drivers::to_string(card.technology), card.identifier);
      REQUIRE(found.ok());
      REQUIRE(found.value().has_value());
      CHECK(found.value()->member.member_no == decision::member_no(m));
      CHECK(found.value()->credential.revoked_at_ms.has_value() ==
            decision::card_revoked(m, which));
      CHECK(found.value()->plan.has_value());
    }
  }
  const auto unknown = decision::unknown_card(12345);
  auto none = st.taps().find_credential("iso14443a", unknown.identifier);
  REQUIRE(none.ok());
  CHECK_FALSE(none.value().has_value());

  // Certification facts agree with the store's own answer.
  REQUIRE(pop.cert_types.size() == 3);
  const std::string today = st.today();
  int checked = 0;
  for (std::int64_t m = 0; m < 500; ++m) {
    for (const auto& type : pop.cert_types) {
      const auto* fact = pop.cert(m, type);
      auto valid = st.taps().valid_certification(m + 1, type, today);
      REQUIRE(valid.ok());
      const std::int32_t day =
          static_cast<std::int32_t>(std::chrono::sys_days(o.first_day).time_since_epoch().count());
      const bool expected =
          fact && !fact->revoked && fact->granted_day <= day && fact->expires_day >= day;
      CHECK(valid.value().has_value() == expected);
      ++checked;
    }
  }
  CHECK(checked == 1500);

  // Machines are in the store with a passed inspection due in the future.
  for (const auto& m : cfg.machines) {
    auto row = st.taps().machine(m.id);
    REQUIRE(row.ok());
    REQUIRE(row.value().has_value());
    REQUIRE(row.value()->next_inspection_due.has_value());
    CHECK(*row.value()->next_inspection_due > today);
  }

  // The next event continues the gapless sequence.
  store::AccessEvent e;
  e.uuid = "after-seed";
  e.at_ms = now_ms;
  e.kind = "tap_entry";
  e.decision = store::Decision::kGranted;
  e.reason = "ok";
  auto seq = st.events().record_access(e, {"labgate/v1/demo/gw1/door/main/event", "{}", false});
  REQUIRE(seq.ok());
  CHECK(seq.value() == 3001);
}

TEST_CASE("site setup mirrors the configuration") {
  const auto cfg = demo();
  const auto s = labgate::gateway::app::site_setup_from(cfg);
  CHECK(s.site_id == cfg.site.id);
  CHECK(s.gateway_id == cfg.site.gateway);
  REQUIRE(s.doors.size() == cfg.doors.size());
  REQUIRE(s.machines.size() == cfg.machines.size());
  for (std::size_t i = 0; i < cfg.doors.size(); ++i) {
    CHECK(s.doors[i].id == cfg.doors[i].id);
    CHECK(s.doors[i].entry_reader == cfg.doors[i].entry_reader);
    CHECK(s.doors[i].exit_reader == cfg.doors[i].exit_reader);
    CHECK(s.doors[i].presence == cfg.doors[i].presence);
  }
  for (std::size_t i = 0; i < cfg.machines.size(); ++i) {
    const auto& m = s.machines[i];
    CHECK(m.reader == cfg.machines[i].reader);
    CHECK((m.controller.mode == labgate::firmware::SessionMode::kTapOnTapOff) ==
          (cfg.machines[i].mode == config::SessionMode::kTapOnOff));
    CHECK(m.certification.value_or("") == cfg.machines[i].certification);
    CHECK(m.controller.needs_checkoff == cfg.machines[i].needs_checkoff);
  }
}
