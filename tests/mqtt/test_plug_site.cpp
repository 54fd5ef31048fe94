// A machine whose relay is a smart plug, through the real Site, Store and SmartPlugOutput over
// an in-memory transport: the session is committed only when the plug confirms ON, a silent
// plug refuses the tap, raises an alarm and commands OFF; an unconfirmed OFF is an alarm too.

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fake_transport.hpp"
#include "labgate/gateway/app/site.hpp"
#include "labgate/gateway/mqtt/smart_plug.hpp"
#include "must.hpp"
#include "process.hpp"
#include "seed.hpp"

namespace app = labgate::gateway::app;
namespace store = labgate::gateway::store;
namespace fw = labgate::firmware;
namespace drivers = labgate::drivers;
using labgate::testing::FakeTransport;
using labgate::testing::TempDir;
using namespace std::chrono_literals;

using labgate::testing::must;

namespace {

constexpr const char* kSiteKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const std::vector<std::uint8_t> kCard{0x04, 0x00, 0x00, 0x01};
const std::vector<std::uint8_t> kOtherCard{0x04, 0x00, 0x00, 0x02};

void seed(store::Store& s) {
  labgate::testing::seed_plan_all(s);
  labgate::testing::seed_certification_type(s, "printer");
  labgate::testing::seed_member(s, {"M1", "all", kCard, {"printer"}});
  labgate::testing::seed_member(s, {"M2", "all", kOtherCard, {"printer"}});
  store::NewMachine printer{"printer", "Printer", std::string("printer"), "tap", 0, false};
  (void)must(s.staff().add_machine(printer, "test"));
}

struct Rig {
  TempDir dir{"labgate-plugsite"};
  boost::asio::io_context io;
  FakeTransport link;
  app::ManualClock clock{std::chrono::sys_days(std::chrono::year{2026} / 11 / 24) + 1h};
  std::unique_ptr<store::Store> db;
  std::unique_ptr<app::Site> site;
  std::shared_ptr<labgate::gateway::mqtt::SmartPlugOutput> plug;

  Rig() {
    store::StoreOptions so;
    so.site_key = must(store::parse_site_key(kSiteKey));
    so.clock = [this] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall().time_since_epoch())
          .count();
    };
    db = must(store::Store::open(dir.path() / "lab.db", so));
    seed(*db);
    link.connect();
    labgate::gateway::mqtt::SmartPlugConfig pc;
    pc.output_id = "printer";
    pc.device_id = "printer-plug";
    pc.protocol = labgate::gateway::mqtt::PlugProtocol::kTasmota;
    pc.confirm_timeout = 150ms;
    labgate::gateway::mqtt::SmartPlugCallbacks cb;
    cb.confirmed = [this](const std::string& id, bool on) { site->relay_confirmed(id, on); };
    cb.timed_out = [this](const std::string& id, bool on) { site->relay_unconfirmed(id, on); };
    plug = std::make_shared<labgate::gateway::mqtt::SmartPlugOutput>(io, link, pc, cb);

    app::SiteSetup setup;
    setup.site_id = "test";
    setup.gateway_id = "gw";
    setup.accepted.insert(labgate::gateway::policy::Technology::kIso14443a);
    app::MachineSetup m;
    m.id = "printer";
    m.name = "Printer";
    m.reader = "printer";
    m.controller.mode = fw::SessionMode::kTapOnTapOff;
    m.controller.idle_timeout = fw::Millis{0};
    m.certification = "printer";
    setup.machines.push_back(m);
    site = std::make_unique<app::Site>(setup, *db, clock);
    site->attach_relay("printer", plug, true);
    site->start();
    REQUIRE(site->confirm("printer", "test"));
  }

  // Taps and returns the outcome once `done` ran (nullopt while it has not).
  std::shared_ptr<std::optional<app::TapOutcome>> tap(const std::vector<std::uint8_t>& card) {
    auto out = std::make_shared<std::optional<app::TapOutcome>>();
    drivers::ReaderEvent ev;
    ev.kind = drivers::ReaderEvent::Kind::kCardPresent;
    ev.reader_id = "printer";
    ev.card = drivers::Card{drivers::CardTechnology::kIso14443aUid, card};
    site->on_reader_event(ev, [out](const app::TapOutcome& o) { *out = o; });
    return out;
  }

  // Runs the loop (real time: the plug's timer) until `cond` holds, at most `limit`.
  template <typename F>
  bool run_until(F cond, std::chrono::milliseconds limit = 3000ms) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!cond()) {
      if (std::chrono::steady_clock::now() > end) return false;
      io.restart();
      io.run_for(10ms);
    }
    return true;
  }

  std::vector<store::Session> sessions() {
    store::HistoryFilter f;
    f.limit = 1000;
    return must(db->events().list_sessions(f));
  }

  // Every outbox payload as JSON, in seq order.
  std::vector<nlohmann::json> outbox() {
    std::vector<nlohmann::json> out;
    for (const auto& r : must(db->events().fetch_unsent(0, 100000))) {
      auto j = nlohmann::json::parse(r.payload, nullptr, false);
      j["_topic"] = r.topic;
      out.push_back(j);
    }
    return out;
  }

  std::size_t count_kind(const std::string& kind) {
    std::size_t n = 0;
    for (const auto& j : outbox()) {
      if (j.is_object() && j.value("kind", "") == kind) ++n;
    }
    return n;
  }

  // Plug commands published so far.
  std::vector<std::string> commands() {
    std::vector<std::string> out;
    for (const auto& p : link.log()) {
      if (p.topic == "cmnd/printer-plug/POWER") out.push_back(p.payload);
    }
    return out;
  }

  std::string machine_status() {
    for (const auto& l : site->status_lines()) {
      if (l.rfind("machine printer ", 0) == 0) return l;
    }
    return {};
  }
};

}  // namespace

TEST_CASE("plug site: the session starts only when the plug confirms ON", "[unit][plugsite]") {
  Rig rig;
  auto granted = rig.tap(kCard);
  REQUIRE(rig.commands() == std::vector<std::string>{"ON"});
  // Decided and commanded, but nothing committed and nobody answered yet.
  CHECK_FALSE(granted->has_value());
  CHECK(rig.sessions().empty());
  CHECK(rig.count_kind("session_started") == 0);
  CHECK(rig.count_kind("tap_machine") == 0);

  SECTION("a second tap while the plug has not answered is refused") {
    auto other = rig.tap(kOtherCard);
    REQUIRE(other->has_value());
    CHECK_FALSE((*other)->granted);
    CHECK((*other)->reason == "relay_pending");
    CHECK(rig.commands() == std::vector<std::string>{"ON"});
  }

  // A stale report of the old state changes nothing.
  rig.link.deliver("stat/printer-plug/POWER", "OFF");
  CHECK_FALSE(granted->has_value());
  rig.link.deliver("stat/printer-plug/POWER", "ON");
  REQUIRE(granted->has_value());
  CHECK((*granted)->granted);
  CHECK((*granted)->seq > 0);
  auto s = rig.sessions();
  REQUIRE(s.size() == 1);
  CHECK_FALSE(s[0].ended_at_ms.has_value());
  CHECK(rig.count_kind("session_started") == 1);
  CHECK(rig.count_kind("relay_unconfirmed") == 0);
  CHECK(rig.machine_status().find("relay=on user=M1") != std::string::npos);
  // Past the confirmation timeout nothing else happens.
  rig.run_until([] { return false; }, 300ms);
  CHECK(rig.count_kind("relay_unconfirmed") == 0);

  SECTION("OFF confirmed at tap-off: session closed, no alarm") {
    rig.clock.advance(60s);
    auto off = rig.tap(kCard);
    REQUIRE(off->has_value());
    CHECK((*off)->reason == "session_ended");
    CHECK(rig.commands() == std::vector<std::string>{"ON", "OFF"});
    rig.link.deliver("stat/printer-plug/POWER", "OFF");
    rig.run_until([] { return false; }, 300ms);
    auto closed = rig.sessions();
    REQUIRE(closed.size() == 1);
    REQUIRE(closed[0].ended_at_ms.has_value());
    CHECK(closed[0].measured_seconds == 60);
    CHECK(rig.count_kind("relay_unconfirmed") == 0);
  }

  SECTION("OFF never confirmed: the session still closes at tap-off, and an alarm is raised") {
    rig.clock.advance(60s);
    const auto tap_off_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(rig.clock.wall().time_since_epoch())
            .count();
    auto off = rig.tap(kCard);
    REQUIRE(off->has_value());
    CHECK((*off)->granted);
    REQUIRE(rig.run_until([&] { return rig.count_kind("relay_unconfirmed") == 1; }));
    auto closed = rig.sessions();
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].ended_at_ms == tap_off_ms);
    CHECK(closed[0].end_reason == "tap_off");
    for (const auto& j : rig.outbox()) {
      if (j.value("kind", "") != "relay_unconfirmed") continue;
      CHECK(j["reason"] == "plug_no_confirm");
      CHECK(j["detail"] == "off");
      CHECK(j["_topic"] == "labgate/v1/test/gw/alarm");
    }
  }
}

TEST_CASE("plug site: a plug that never confirms refuses the tap and raises an alarm",
          "[unit][plugsite]") {
  Rig rig;
  auto out = rig.tap(kCard);
  REQUIRE(rig.commands() == std::vector<std::string>{"ON"});
  CHECK_FALSE(out->has_value());
  // One tick before the deadline the member is still waiting.
  rig.run_until([] { return false; }, 60ms);
  CHECK_FALSE(out->has_value());
  REQUIRE(rig.run_until([&] { return out->has_value(); }));
  CHECK_FALSE((*out)->granted);
  CHECK((*out)->reason == "plug_no_confirm");
  CHECK((*out)->seq > 0);
  // No session, an alarm, the refused tap recorded, and the plug commanded OFF.
  CHECK(rig.sessions().empty());
  CHECK(rig.count_kind("session_started") == 0);
  CHECK(rig.count_kind("session_ended") == 0);
  REQUIRE(rig.count_kind("relay_unconfirmed") == 1);
  bool denied_tap = false;
  for (const auto& j : rig.outbox()) {
    if (j.value("kind", "") == "relay_unconfirmed") {
      CHECK(j["reason"] == "plug_no_confirm");
      CHECK(j["detail"] == "on");
      CHECK(j["machine"] == "printer");
      CHECK(j["_topic"] == "labgate/v1/test/gw/alarm");
    }
    if (j.value("kind", "") == "tap_machine") {
      denied_tap = j["decision"] == "denied" && j["reason"] == "plug_no_confirm";
    }
  }
  CHECK(denied_tap);
  CHECK(rig.commands() == std::vector<std::string>{"ON", "OFF"});
  CHECK_FALSE(rig.plug->commanded());
  CHECK(rig.machine_status() == "machine printer idle relay=off user=-");

  SECTION("a late ON does not start anything; the next tap is decided afresh") {
    rig.link.deliver("stat/printer-plug/POWER", "ON");
    CHECK(rig.sessions().empty());
    rig.link.deliver("stat/printer-plug/POWER", "OFF");
    auto again = rig.tap(kCard);
    CHECK(rig.commands() == std::vector<std::string>{"ON", "OFF", "ON"});
    rig.link.deliver("stat/printer-plug/POWER", "ON");
    REQUIRE(again->has_value());
    CHECK((*again)->granted);
    CHECK(rig.sessions().size() == 1);
  }
}

TEST_CASE("plug site: a fire alarm while the plug is pending refuses the tap", "[unit][plugsite]") {
  Rig rig;
  rig.site->bind_input("fire", drivers::InputKind::kFireAlarm, "site");
  auto out = rig.tap(kCard);
  CHECK_FALSE(out->has_value());
  rig.site->on_input({"fire", true});
  REQUIRE(out->has_value());
  CHECK_FALSE((*out)->granted);
  CHECK((*out)->reason == "session_aborted");
  CHECK(rig.sessions().empty());
  CHECK(rig.commands() == std::vector<std::string>{"ON", "OFF"});
  // The plug's late ON (it may predate the OFF) starts nothing.
  rig.link.deliver("stat/printer-plug/POWER", "ON");
  CHECK(rig.sessions().empty());
}

TEST_CASE("plug site: every outbox payload is built once, with its own seq", "[unit][plugsite]") {
  Rig rig;
  auto granted = rig.tap(kCard);
  rig.link.deliver("stat/printer-plug/POWER", "ON");
  REQUIRE(granted->has_value());
  rig.clock.advance(90s);
  auto off = rig.tap(kCard);
  REQUIRE(off->has_value());
  rig.link.deliver("stat/printer-plug/POWER", "OFF");

  // Session start (held for the plug, then committed), session end, taps and retained states:
  // each names the seq of its own row; state rows get an id of their own, stable per seq.
  std::set<std::string> kinds;
  std::set<std::string> ids;
  std::size_t states = 0;
  for (const auto& r : must(rig.db->events().fetch_unsent(0, 100000))) {
    INFO(r.topic << " " << r.payload);
    auto j = nlohmann::json::parse(r.payload, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j["seq"] == r.seq);
    REQUIRE(j.contains("event_id"));
    CHECK(ids.insert(j["event_id"].get<std::string>()).second);
    if (r.retain) {
      ++states;
      CHECK(j["event_id"].get<std::string>().size() == 32);
    } else {
      kinds.insert(j["kind"].get<std::string>());
    }
    if (j.value("kind", "") == "session_started") CHECK(j["session"] == "open");
    if (j.value("kind", "") == "session_ended") {
      CHECK(j["session"] == "closed");
      CHECK(j["seconds"] == 90);
    }
  }
  CHECK(states >= 2);
  CHECK(kinds.count("session_started") == 1);
  CHECK(kinds.count("session_ended") == 1);
  CHECK(kinds.count("tap_machine") == 1);
}
