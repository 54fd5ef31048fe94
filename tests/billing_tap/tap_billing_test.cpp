// Money at the machine: the daemon's credit check refuses a machine (never a door) when the
// member's balance and credit do not cover the minimum charge, counting what is owed but not yet
// invoiced; a session keeps the rate it started under; busy seconds are measured for busy/idle
// rates. The real Site, Store and billing library, in process, on a manual clock.

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "labgate/drivers/sim/sim_devices.hpp"
#include "labgate/gateway/app/clock.hpp"
#include "labgate/gateway/app/credit.hpp"
#include "labgate/gateway/app/site.hpp"
#include "labgate/gateway/store/store.hpp"
#include "must.hpp"
#include "process.hpp"
#include "seed.hpp"
#include "test_keys.hpp"

namespace app = labgate::gateway::app;
namespace store = labgate::gateway::store;
namespace fw = labgate::firmware;
namespace drivers = labgate::drivers;
using labgate::testing::TempDir;
using namespace std::chrono_literals;

using labgate::testing::must;

namespace {

const std::vector<std::uint8_t> kCard{0x04, 0x00, 0x00, 0x01};

struct Rig {
  TempDir dir{"labgate-billtap"};
  // Tuesday 2026-11-24 09:00 JST.
  app::ManualClock clock{std::chrono::sys_days(std::chrono::year{2026} / 11 / 24)};
  std::unique_ptr<store::Store> db;
  std::unique_ptr<app::Site> site;
  std::shared_ptr<drivers::sim::SimOutput> relay =
      std::make_shared<drivers::sim::SimOutput>("printer.relay");
  std::shared_ptr<drivers::sim::SimOutput> strike =
      std::make_shared<drivers::sim::SimOutput>("main.strike");

  Rig() {
    store::StoreOptions so;
    so.site_key = must(store::parse_site_key(labgate::testing::test_key()));
    so.clock = [this] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall().time_since_epoch())
          .count();
    };
    db = must(store::Store::open(dir.path() / "lab.db", so));
    labgate::testing::seed_plan_all(*db);
    labgate::testing::seed_certification_type(*db, "printer");
    labgate::testing::seed_member(*db, {"M1", "all", kCard, {"printer"}});
    store::NewMachine printer{"printer", "Printer", std::string("printer"), "tap", 0, false};
    (void)must(db->staff().add_machine(printer, "test"));
    // 300 yen per 30 min busy, 100 idle, minimum 500.
    store::NewRate rate;
    rate.kind = store::SessionKind::kMachine;
    rate.machine_id = "printer";
    rate.unit_seconds = 1800;
    rate.price_per_unit = 300;
    rate.idle_price_per_unit = 100;
    rate.minimum_charge = 500;
    (void)must(db->ledger().set_rate(rate, "manager"));

    app::SiteSetup setup;
    setup.site_id = "test";
    setup.gateway_id = "gw";
    setup.accepted.insert(labgate::gateway::policy::Technology::kIso14443a);
    app::DoorSetup door;
    door.id = "main";
    door.name = "Main";
    door.entry_reader = "main-in";
    setup.doors.push_back(door);
    app::MachineSetup m;
    m.id = "printer";
    m.name = "Printer";
    m.reader = "printer";
    m.controller.mode = fw::SessionMode::kTapOnTapOff;
    m.controller.idle_timeout = fw::Millis{0};
    m.controller.has_busy_input = true;
    m.certification = "printer";
    setup.machines.push_back(m);
    site = std::make_unique<app::Site>(setup, *db, clock);
    site->attach_relay("printer", relay);
    site->attach_strike("main", strike);
    site->bind_input("printer.busy", drivers::InputKind::kBusy, "printer");
    site->set_credit_check(app::make_credit_check(*db, "Asia/Tokyo"));
    site->start();
    REQUIRE(site->confirm("printer", "test"));
  }

  app::TapOutcome tap(const std::string& reader) {
    std::optional<app::TapOutcome> out;
    drivers::ReaderEvent ev;
    ev.kind = drivers::ReaderEvent::Kind::kCardPresent;
    ev.reader_id = reader;
    ev.card = drivers::Card{drivers::CardTechnology::kIso14443aUid, kCard};
    site->on_reader_event(ev, [&out](const app::TapOutcome& o) { out = o; });
    REQUIRE(out.has_value());
    return *out;
  }

  void busy(bool on) {
    drivers::InputEvent ev;
    ev.input_id = "printer.busy";
    ev.active = on;
    site->on_input(ev);
  }

  void advance(std::chrono::milliseconds d) {
    clock.advance(d);
    site->tick();
  }

  std::vector<store::Session> sessions() {
    store::HistoryFilter f;
    f.limit = 100;
    return must(db->events().list_sessions(f));
  }

  std::optional<std::int64_t> session_column(std::int64_t id, const char* column) {
    auto stmt = must(
        db->database().prepare(std::string("SELECT ") + column + " FROM sessions WHERE id = ?1"));
    stmt.bind(1, id);
    REQUIRE(must(stmt.step()));
    std::optional<std::int64_t> v;
    if (!stmt.is_null(0)) v = stmt.column_int64(0);
    stmt.reset();
    return v;
  }
};

}  // namespace

TEST_CASE("billing at the tap: no money, no machine; the door still opens", "[billing][tap]") {
  Rig rig;
  auto refused = rig.tap("printer");
  CHECK_FALSE(refused.granted);
  CHECK(refused.reason == "insufficient_credit");
  CHECK_FALSE(rig.relay->level());
  CHECK(rig.sessions().empty());

  auto door = rig.tap("main-in");
  CHECK(door.granted);

  SECTION("a top-up below the minimum charge is not enough") {
    (void)must(rig.db->ledger().topup("M1", 499, "cash", "desk"));
    CHECK(rig.tap("printer").reason == "insufficient_credit");
    CHECK_FALSE(rig.relay->level());
  }
  SECTION("a top-up covering the minimum charge starts the machine") {
    (void)must(rig.db->ledger().topup("M1", 500, "cash", "desk"));
    auto granted = rig.tap("printer");
    CHECK(granted.granted);
    CHECK(rig.relay->level());
  }
  SECTION("a credit limit counts as money") {
    (void)must(rig.db->ledger().set_credit_limit("M1", 500, "manager"));
    CHECK(rig.tap("printer").granted);
  }
}

TEST_CASE("billing at the tap: usage not yet invoiced is owed", "[billing][tap]") {
  Rig rig;
  (void)must(rig.db->ledger().topup("M1", 1000, "cash", "desk"));
  REQUIRE(rig.tap("printer").granted);
  rig.busy(true);
  rig.advance(20min);
  rig.busy(false);
  rig.advance(10min);
  REQUIRE(rig.tap("printer").reason == "session_ended");
  // 30 min, 20 of them busy: 1 busy unit (300) + 1 idle unit (100) = 400, minimum 500 -> 500
  // owed; 1000 - 500 = 500 still covers the minimum charge once more.
  rig.advance(1min);
  auto second = rig.tap("printer");
  REQUIRE(second.granted);
  rig.advance(10min);
  REQUIRE(rig.tap("printer").reason == "session_ended");
  // Now 500 + 500 owed against 1000: nothing left.
  rig.advance(1min);
  CHECK(rig.tap("printer").reason == "insufficient_credit");
}

TEST_CASE("billing at the tap: busy seconds and the rate are stamped on the session",
          "[billing][tap]") {
  Rig rig;
  (void)must(rig.db->ledger().set_credit_limit("M1", 100000, "manager"));
  const auto first_rate = must(rig.db->ledger().current_rate(
      store::SessionKind::kMachine, std::string_view("printer"), rig.db->now_ms()));
  REQUIRE(first_rate.has_value());
  rig.busy(true);  // busy before the session starts: only the part inside it counts
  rig.advance(5min);
  REQUIRE(rig.tap("printer").granted);
  rig.advance(10min);
  rig.busy(false);
  rig.advance(20min);
  rig.busy(true);
  rig.advance(7min);
  rig.busy(false);
  rig.advance(3min);
  // A new rate set while the session runs does not touch it.
  store::NewRate newer;
  newer.kind = store::SessionKind::kMachine;
  newer.machine_id = "printer";
  newer.unit_seconds = 600;
  newer.price_per_unit = 999;
  (void)must(rig.db->ledger().set_rate(newer, "manager"));
  REQUIRE(rig.tap("printer").reason == "session_ended");
  auto s = rig.sessions();
  REQUIRE(s.size() == 1);
  CHECK(s[0].measured_seconds == 40 * 60);
  CHECK(rig.session_column(s[0].id, "busy_seconds") == (10 + 7) * 60);
  CHECK(rig.session_column(s[0].id, "rate_id") == first_rate->id);

  // The next session is under the new rate, and busy time of the first is not counted again.
  rig.advance(1min);
  REQUIRE(rig.tap("printer").granted);
  rig.advance(5min);
  REQUIRE(rig.tap("printer").reason == "session_ended");
  s = rig.sessions();
  REQUIRE(s.size() == 2);
  const auto& latest = s[0].started_at_ms > s[1].started_at_ms ? s[0] : s[1];
  CHECK(rig.session_column(latest.id, "busy_seconds") == 0);
  CHECK(rig.session_column(latest.id, "rate_id") != first_rate->id);
}
