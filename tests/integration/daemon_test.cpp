// Integration tests: the real labgated binary on a generated config, across the real SQLite
// file. Cards are read through real libnfc from one emulated PN532 (pn532-emu) per reader;
// doors' and machines' inputs and outputs are the simulated devices of the control socket.

#include "daemon.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "emulated_reader.hpp"
#include "text_match.hpp"

using namespace labgate::testing;
namespace store = labgate::gateway::store;

namespace {

// A fresh site with the standard cast, running at Tuesday 2026-11-24 10:00 JST, every reader an
// emulated PN532 behind libnfc.
struct Site {
  TempDir dir{"labgate-it"};
  EmulatedReaders readers{
      PN532_EMU_PATH, dir.path(), {"front-in", "front-out", "lab-in", "laser", "printer"}};
  Daemon daemon{dir};
  explicit Site(const std::string& clock = "2026-11-24 10:00", bool confirm = true) {
    {
      auto s = daemon.open_store();
      seed_cast(*s);
    }
    daemon.set_extra_args(readers.daemon_args());
    daemon.start(clock);
    if (confirm) {
      REQUIRE(daemon.cmd("confirm laser") == "ok confirm laser");
      REQUIRE(daemon.cmd("confirm printer") == "ok confirm printer");
    }
  }
  // "<reader> <tech> <hex>": the card is placed on the reader's emulator; the reply is the
  // daemon's outcome once the event is recorded ("ok granted front M1 granted seq=3").
  std::string place(const std::string& card) {
    std::istringstream in(card);
    std::string reader, tech, hex;
    in >> reader >> tech >> hex;
    return place_and_await([this](const std::string& l) { return daemon.cmd(l); },
                           readers.at(reader), reader, tech, hex);
  }
  // The card leaves the field once its read is acknowledged; returns when the daemon handled it.
  std::string tap(const std::string& card) {
    auto reply = place(card);
    remove(card.substr(0, card.find(' ')));
    return reply;
  }
  void remove(const std::string& reader) {
    REQUIRE(remove_and_await([this](const std::string& l) { return daemon.cmd(l); },
                             readers.at(reader), reader));
  }

  std::vector<store::AccessEvent> events(store::HistoryFilter f = {}) {
    auto s = daemon.open_store();
    f.limit = 1000;
    auto r = s->events().list_events(f);
    REQUIRE(r.ok());
    return r.value();
  }
  // The kinds of a machine's recorded events, oldest first, each followed by a space.
  std::string event_kinds(const std::string& machine) {
    store::HistoryFilter f;
    f.machine_id = machine;
    auto evs = events(f);
    std::sort(evs.begin(), evs.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
    std::string kinds;
    for (const auto& e : evs) kinds += e.kind + " ";
    return kinds;
  }
  std::vector<store::Session> sessions(store::HistoryFilter f = {}) {
    auto s = daemon.open_store();
    f.limit = 1000;
    auto r = s->events().list_sessions(f);
    REQUIRE(r.ok());
    return r.value();
  }
};

}  // namespace

TEST_CASE("door: grants and refusals are decided, driven and recorded", "[integration]") {
  Site site;
  auto& d = site.daemon;

  auto granted = site.tap("front-in iso14443a 04000001");
  CHECK(starts_with(granted, "ok granted front M1 granted seq="));
  CHECK(d.cmd("output front.strike") == "ok front.strike on");
  CHECK(d.cmd("clock advance 4999ms").rfind("ok", 0) == 0);
  CHECK(d.cmd("output front.strike") == "ok front.strike on");
  d.cmd("clock advance 1ms");
  CHECK(d.cmd("output front.strike") == "ok front.strike off");

  CHECK(
      starts_with(site.tap("front-in iso14443a 04000003"), "ok denied front M3 member_suspended"));
  CHECK(
      starts_with(site.tap("front-in iso14443a 04999999"), "ok denied front - unknown_credential"));
  CHECK(d.cmd("output front.strike") == "ok front.strike off");

  // M2's plan is weekdays 09:00-17:00: refused in the evening, let out whatever the hour.
  d.cmd("clock set 2026-11-24 17:30");
  CHECK(starts_with(site.tap("front-in iso14443a 04000002"),
                    "ok denied front M2 outside_plan_hours"));
  CHECK(starts_with(site.tap("front-out iso14443a 04000002"), "ok granted front M2"));

  auto evs = site.events();
  int taps = 0;
  for (const auto& e : evs) {
    if (e.kind == "tap_entry" || e.kind == "tap_exit") ++taps;
  }
  CHECK(taps == 5);
  bool unknown_logged = false;
  for (const auto& e : evs) {
    unknown_logged = unknown_logged || (e.reason == "unknown_credential" && !e.member_id);
  }
  CHECK(unknown_logged);
}

TEST_CASE("door: held open and forced open raise alarms; the exit button releases",
          "[integration]") {
  Site site;
  auto& d = site.daemon;
  CHECK(d.cmd("input front.contact on") == "ok front.contact on");
  CHECK(contains(d.cmd("status"), "door front forced_open"));
  d.cmd("input front.contact off");
  CHECK(contains(d.cmd("status"), "door front locked"));

  CHECK(d.cmd("press front.exit_button") == "ok front.exit_button pressed");
  CHECK(d.cmd("output front.strike") == "ok front.strike on");
  d.cmd("input front.contact on");
  d.cmd("clock advance 29s");
  CHECK(contains(d.cmd("status"), "door front open"));
  d.cmd("clock advance 2s");
  CHECK(contains(d.cmd("status"), "door front held_open"));
  d.cmd("input front.contact off");

  store::HistoryFilter f;
  f.door_id = "front";
  auto evs = site.events(f);
  std::string kinds;
  for (const auto& e : evs) kinds += e.kind + " ";
  INFO(kinds);
  auto has = [&](const std::string& kind) {
    for (const auto& e : evs) {
      if (e.kind == kind) return true;
    }
    return false;
  };
  CHECK(has("forced_open"));
  CHECK(has("held_open"));
  CHECK(has("exit_released"));
  CHECK(has("held_open_cleared"));
}

TEST_CASE("machine: certification, inspection and the session lifecycle", "[integration]") {
  Site site;
  auto& d = site.daemon;

  SECTION("uncertified and expired members are refused; the relay stays off") {
    CHECK(
        starts_with(site.place("laser iso14443a 04000002"), "ok denied laser M2 no_certification"));
    site.remove("laser");
    CHECK(starts_with(site.place("laser iso14443a 04000004"),
                      "ok denied laser M4 certification_expired"));
    site.remove("laser");
    CHECK(d.cmd("output laser.relay") == "ok laser.relay off");
  }

  SECTION("card removed mid-job: grace, then off; billed until removal") {
    CHECK(starts_with(site.place("laser iso14443a 04000001"), "ok granted laser M1 granted"));
    CHECK(d.cmd("output laser.relay") == "ok laser.relay on");
    d.cmd("clock advance 9m");  // under the 10 min idle timeout
    site.remove("laser");
    d.cmd("clock advance 9999ms");
    CHECK(d.cmd("output laser.relay") == "ok laser.relay on");
    CHECK(contains(d.cmd("status"), "machine laser grace"));
    d.cmd("clock advance 1ms");
    CHECK(d.cmd("output laser.relay") == "ok laser.relay off");
    auto ss = site.sessions();
    REQUIRE(ss.size() == 1);
    INFO(ss[0].end_reason.value_or("(open)"));
    CHECK(ss[0].end_reason == std::optional<std::string>("card_removed"));
    CHECK(ss[0].measured_seconds == std::optional<std::int64_t>(540));
  }

  SECTION("the busy input defers power-off; billing still stops at the end") {
    site.place("laser iso14443a 04000001");
    d.cmd("input laser.busy on");
    d.cmd("clock advance 5m");
    site.remove("laser");
    d.cmd("clock advance 11s");
    CHECK(d.cmd("output laser.relay") == "ok laser.relay on");
    CHECK(contains(d.cmd("status"), "machine laser busy_hold"));
    d.cmd("input laser.busy off");
    CHECK(d.cmd("output laser.relay") == "ok laser.relay off");
    auto ss = site.sessions();
    REQUIRE(ss.size() == 1);
    CHECK(ss[0].measured_seconds == std::optional<std::int64_t>(300));
  }

  SECTION("busy hold ends at its limit, with an alarm") {
    site.place("laser iso14443a 04000001");
    d.cmd("input laser.busy on");
    d.cmd("clock advance 5m");
    site.remove("laser");
    d.cmd("clock advance 10s");  // grace over: the running job holds the relay
    CHECK(contains(d.cmd("status"), "machine laser busy_hold"));
    REQUIRE(starts_with(d.cmd("clock advance 1799s"), "ok"));
    CHECK(d.cmd("output laser.relay") == "ok laser.relay on");
    d.cmd("clock advance 1s");  // busy_hold_max_s = 1800: one stuck sensor cannot hold for ever
    CHECK(d.cmd("output laser.relay") == "ok laser.relay off");
    d.cmd("input laser.busy off");
    CHECK(site.event_kinds("laser") ==
          "reader_up session_started tap_machine grace_started session_ended "
          "busy_hold_limit busy_hold_limit_cleared ");
  }

  SECTION("a busy input already high at the start holds no power after tap-off") {
    d.cmd("input laser.busy on");  // stuck: nothing runs on an idle machine
    CHECK(starts_with(site.place("laser iso14443a 04000001"), "ok granted laser M1 granted"));
    CHECK(d.cmd("output laser.relay") == "ok laser.relay on");
    site.remove("laser");
    d.cmd("clock advance 10s");
    CHECK(d.cmd("output laser.relay") == "ok laser.relay off");
    d.cmd("input laser.busy off");
    CHECK(site.event_kinds("laser") ==
          "reader_up session_started busy_sensor tap_machine grace_started "
          "session_ended busy_sensor_cleared ");
  }

  SECTION("tap on, tap off; another member cannot take a running machine") {
    CHECK(starts_with(site.tap("printer iso14443a 04000001"), "ok granted printer M1 granted"));
    CHECK(d.cmd("output printer.relay") == "ok printer.relay on");
    CHECK(starts_with(site.tap("printer iso14443a 04000002"), "ok denied printer M2"));
    d.cmd("clock advance 45m");
    CHECK(
        starts_with(site.tap("printer iso14443a 04000001"), "ok granted printer M1 session_ended"));
    CHECK(d.cmd("output printer.relay") == "ok printer.relay off");
    auto ss = site.sessions();
    REQUIRE(ss.size() == 1);
    CHECK(ss[0].end_reason == std::optional<std::string>("tap_off"));
    CHECK(ss[0].measured_seconds == std::optional<std::int64_t>(2700));
  }

  SECTION("an overdue inspection refuses everybody") {
    d.cmd("clock set 2026-11-24 10:00");
    {
      auto s = d.open_store();
      store::NewInspection in;
      in.machine_id = "laser";
      in.done_on = "2026-11-21";
      in.inspector = "Inspector";
      in.result = "pass";
      in.next_due = "2026-11-23";
      REQUIRE(s->staff().record_inspection(in, "test").ok());
    }
    CHECK(starts_with(site.place("laser iso14443a 04000001"), "ok denied laser M1"));
    CHECK(wait_until([&] { return contains(d.cmd("status"), "machine laser out_of_service"); },
                     std::chrono::seconds(5)));
    CHECK(d.cmd("output laser.relay") == "ok laser.relay off");
  }
}

TEST_CASE("machines start in startup and need staff confirmation", "[integration]") {
  Site site("2026-11-24 10:00", /*confirm=*/false);
  auto& d = site.daemon;
  CHECK(contains(d.cmd("status"), "machine laser startup relay=off"));
  {
    // labgated records each machine's busy input from its configuration: rates check idle
    // prices against it.
    auto store = d.open_store();
    CHECK(store->taps().machine("laser").value()->busy_input);
    CHECK_FALSE(store->taps().machine("printer").value()->busy_input);
  }
  CHECK(
      starts_with(site.place("laser iso14443a 04000001"), "ok denied laser M1 machine_not_ready"));
  site.remove("laser");
  CHECK(d.cmd("confirm laser") == "ok confirm laser");
  CHECK(starts_with(site.place("laser iso14443a 04000001"), "ok granted laser M1"));
  CHECK(d.cmd("confirm nosuch") == "err unknown machine nosuch");

  // Staff confirm with labgatectl, which reaches the daemon through its control socket.
  CHECK(contains(d.cmd("status"), "machine printer startup"));
  auto r = labgatectl(d, {"machines", "confirm", "--id", "printer"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(d.cmd("status"), "machine printer idle"));
  r = labgatectl(d, {"machines", "confirm", "--id", "nosuch"});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "unknown machine nosuch"));
}

TEST_CASE("fire alarm: egress doors released, every machine cut, logged", "[integration]") {
  Site site;
  auto& d = site.daemon;
  site.place("laser iso14443a 04000001");
  site.tap("printer iso14443a 04000001");
  CHECK(d.cmd("output laser.relay") == "ok laser.relay on");
  d.cmd("clock advance 1m");
  CHECK(d.cmd("input fire_alarm.input on") == "ok fire_alarm.input on");
  CHECK(d.cmd("output front.strike") == "ok front.strike on");
  CHECK(d.cmd("output lab.strike") == "ok lab.strike on");
  CHECK(d.cmd("output laser.relay") == "ok laser.relay off");
  CHECK(d.cmd("output printer.relay") == "ok printer.relay off");
  auto ss = site.sessions();
  REQUIRE(ss.size() == 2);
  for (const auto& s : ss) CHECK(s.end_reason == std::optional<std::string>("fire_alarm"));
  d.cmd("input fire_alarm.input off");
  CHECK(d.cmd("output front.strike") == "ok front.strike off");
  CHECK(contains(d.cmd("status"), "machine laser startup"));
  bool logged = false;
  for (const auto& e : site.events()) logged = logged || e.kind == "fire_alarm";
  CHECK(logged);
}

// An escape-route door whose exit reader checks plans (egress = false) must still release on
// fire: fire release is its own key, not the exit reader's policy. A perimeter door may opt out.
TEST_CASE("fire alarm: release follows fire_release, not the exit reader's egress policy",
          "[integration]") {
  TempDir dir{"labgate-fire"};
  std::string config = test_config(dir.path().string());
  const std::string safe_door = "fail_mode = \"safe\"\n";
  const std::string secure_door = "fail_mode = \"secure\"\n";
  REQUIRE(config.find(safe_door) != std::string::npos);
  REQUIRE(config.find(secure_door) != std::string::npos);
  config.replace(config.find(safe_door), safe_door.size(), safe_door + "egress = false\n");
  config.replace(config.find(secure_door), secure_door.size(),
                 secure_door + "fire_release = false\n");
  Daemon d(dir, config);
  d.start();
  CHECK(d.cmd("output lab.strike") == "ok lab.strike off");
  CHECK(d.cmd("input fire_alarm.input on") == "ok fire_alarm.input on");
  CHECK(d.cmd("output lab.strike") == "ok lab.strike on");
  CHECK(d.cmd("output front.strike") == "ok front.strike off");
  d.cmd("input fire_alarm.input off");
  CHECK(d.cmd("output lab.strike") == "ok lab.strike off");
  CHECK(d.stop() == 0);
}

TEST_CASE("labgatectl changes reach the running daemon without a restart", "[integration]") {
  Site site;
  auto& d = site.daemon;
  CHECK(starts_with(site.tap("front-in iso14443a 04000001"), "ok granted"));

  auto r = labgatectl(
      d, {"credentials", "revoke", "--tech", "iso14443a", "--id", "04000001", "--reason", "lost"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(starts_with(site.tap("front-in iso14443a 04000001"),
                    "ok denied front M1 credential_revoked"));

  r = labgatectl(d, {"machines", "lockout", "--id", "printer", "--reason", "nozzle jam"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(wait_until([&] { return contains(d.cmd("status"), "machine printer out_of_service"); },
                   std::chrono::seconds(5)));
  r = labgatectl(d, {"machines", "release", "--id", "printer"});
  REQUIRE(r.exit_code == 0);
  CHECK(wait_until([&] { return !contains(d.cmd("status"), "machine printer out_of_service"); },
                   std::chrono::seconds(5)));

  // A staff typo is refused with a clear message and changes nothing.
  r = labgatectl(d, {"machines", "lockout", "--id", "no-such-machine", "--reason", "x"});
  CHECK(r.exit_code != 0);
  CHECK(contains(r.err, "no-such-machine"));
}

TEST_CASE("a crash mid-session is recovered at the last heartbeat", "[integration]") {
  Site site;
  auto& d = site.daemon;
  CHECK(starts_with(site.place("laser iso14443a 04000001"), "ok granted laser M1"));
  d.cmd("clock advance 2m");
  // Heartbeats are written as the clock runs (every second of daemon time).
  d.kill9();
  d.start("2026-11-24 11:00");
  auto ss = site.sessions();
  REQUIRE(ss.size() == 1);
  CHECK(ss[0].end_reason == std::optional<std::string>("power_loss_recovered"));
  REQUIRE(ss[0].ended_at_ms.has_value());
  auto lasted = *ss[0].ended_at_ms - ss[0].started_at_ms;
  CHECK(lasted >= 119'000);
  CHECK(lasted <= 121'000);
  // Machines come up in startup after a power loss, relay off.
  CHECK(contains(d.cmd("status"), "machine laser startup relay=off"));
  CHECK(d.cmd("output laser.relay") == "ok laser.relay off");
}

TEST_CASE("SIGTERM stops cleanly with every relay off", "[integration]") {
  Site site;
  auto& d = site.daemon;
  site.place("laser iso14443a 04000001");
  CHECK(d.cmd("output laser.relay") == "ok laser.relay on");
  CHECK(d.stop() == 0);
  auto ss = site.sessions();
  REQUIRE(ss.size() == 1);
  CHECK(ss[0].ended_at_ms.has_value());
  bool stopped = false;
  for (const auto& e : site.events()) stopped = stopped || e.kind == "gateway_stopped";
  CHECK(stopped);
  CHECK(contains(d.log(), "every machine relay off"));
}

TEST_CASE("coworking presence opens at entry and closes at exit or closing time", "[integration]") {
  Site site;
  auto& d = site.daemon;
  site.tap("front-in iso14443a 04000001");
  site.tap("front-in iso14443a 04000004");
  d.cmd("clock advance 2h");
  site.tap("front-out iso14443a 04000001");
  d.cmd("clock set 2026-11-24 22:01");
  store::HistoryFilter f;
  auto ss = site.sessions(f);
  REQUIRE(ss.size() == 2);
  for (const auto& s : ss) {
    CHECK(s.kind == store::SessionKind::kCoworking);
    REQUIRE(s.end_reason.has_value());
    if (s.member_no == std::optional<std::string>("M1")) {
      CHECK(*s.end_reason == "exit");
      CHECK(s.measured_seconds == std::optional<std::int64_t>(7200));
    } else {
      CHECK(*s.end_reason == "closing_time");
    }
  }
}

TEST_CASE("--check-config refuses a broken config with its line", "[integration]") {
  TempDir dir("labgate-cfg");
  auto path = dir / "bad.toml";
  auto text = test_config(dir.path().string());
  auto pos = text.find("strike_pulse_s = 5");
  text.replace(pos, 18, "strike_pulse_s = 1");
  write_private_file(path, text);
  auto r = run_command({LABGATED_PATH, "--check-config", path.string()});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "bad.toml:"));
  CHECK(contains(r.err, "strike_pulse"));

  auto good = dir / "good.toml";
  write_private_file(good, test_config(dir.path().string()));
  r = run_command({LABGATED_PATH, "--check-config", good.string()});
  CHECK(r.exit_code == 0);
}

TEST_CASE("the control socket survives hostile input", "[integration]") {
  Site site;
  auto& d = site.daemon;
  CHECK(starts_with(d.cmd("tap front-in iso14443a zz"), "err"));
  CHECK(starts_with(d.cmd("tap nosuch iso14443a 04000001"), "err"));
  CHECK(starts_with(d.cmd("clock set yesterday"), "err"));
  CHECK(starts_with(d.cmd("clock advance -5s"), "err"));
  CHECK(starts_with(d.cmd("frobnicate"), "err"));
  CHECK(d.cmd("output front.strike") == "ok front.strike off");
  CHECK(starts_with(site.tap("front-in iso14443a 04000001"), "ok granted"));
}
