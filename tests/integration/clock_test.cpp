// The firmware's time contract through the real daemon: labgated feeds the door and machine
// controllers the monotonic clock (steady_clock), never wall time, so a wall-clock jump (an NTP
// step, a staff member setting the date, an RTC-less boot) neither holds a strike open nor cuts
// or stretches a machine session. Wall time is moved under the running daemon with libfaketime,
// which fakes CLOCK_REALTIME only (FAKETIME_DONT_FAKE_MONOTONIC).

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "daemon.hpp"
#include "emulated_reader.hpp"
#include "text_match.hpp"

using namespace labgate::testing;
using namespace std::chrono_literals;

namespace {

// libfaketime reads this file on every clock call: "@<UTC time>" makes wall time run on from
// there, so writing a new time is a jump of the daemon's wall clock.
void set_wall(const std::filesystem::path& file, const std::string& utc) {
  std::ofstream(file, std::ios::trunc) << "@" << utc << "\n";
}

struct JumpingSite {
  TempDir dir{"labgate-clock"};
  std::filesystem::path wall = dir / "wall-time";
  EmulatedReaders readers{PN532_EMU_PATH, dir.path(), {"front-in", "laser"}};
  Daemon daemon{dir};

  JumpingSite() {
    {
      auto s = daemon.open_store();
      seed_cast(*s);
    }
    set_wall(wall, "2026-11-24 01:00:00");  // Tuesday 10:00 JST
    daemon.set_extra_args(readers.daemon_args());
    daemon.start_on_system_clock({{"LD_PRELOAD", LABGATE_FAKETIME_LIB},
                                  {"FAKETIME_TIMESTAMP_FILE", wall.string()},
                                  {"FAKETIME_NO_CACHE", "1"},
                                  {"FAKETIME_DONT_FAKE_MONOTONIC", "1"},
                                  {"TZ", "UTC"},
                                  // An ASan build loads its runtime first by itself.
                                  {"ASAN_OPTIONS", "verify_asan_link_order=0"}});
  }
  std::string place(const std::string& reader, const std::string& uid) {
    return place_and_await([this](const std::string& l) { return daemon.cmd(l); },
                           readers.at(reader), reader, "iso14443a", uid);
  }
  void remove(const std::string& reader) {
    REQUIRE(remove_and_await([this](const std::string& l) { return daemon.cmd(l); },
                             readers.at(reader), reader));
  }
  bool output_is(const std::string& id, const std::string& state) {
    return daemon.cmd("output " + id) == "ok " + id + " " + state;
  }
};

}  // namespace

TEST_CASE("clock: a wall clock that jumps back does not hold a door's strike open",
          "[integration][clock]") {
  JumpingSite site;
  auto& d = site.daemon;
  // The faker reaches the daemon: it reads 10:00 local time, not today's date.
  REQUIRE(starts_with(d.cmd("clock"), "ok 2026-11-24 10:00"));

  REQUIRE(starts_with(site.place("front-in", "04000001"), "ok granted front M1 granted"));
  site.remove("front-in");
  const auto granted = std::chrono::steady_clock::now();
  REQUIRE(site.output_is("front.strike", "on"));

  // Two hours back. A controller fed wall time would clamp to its latest reading and keep the
  // door released until the wall clock caught up again, two hours later.
  set_wall(site.wall, "2026-11-23 23:00:00");
  REQUIRE(wait_until([&] { return starts_with(d.cmd("clock"), "ok 2026-11-24 08:0"); }, 5s));
  CHECK(wait_until([&] { return site.output_is("front.strike", "off"); }, 10s));
  // The 5 s pulse ran its length on the monotonic clock: not cut short either.
  CHECK(std::chrono::steady_clock::now() - granted >= 4500ms);
}

TEST_CASE("clock: a wall clock that jumps ahead neither ends nor bills a machine session",
          "[integration][clock]") {
  JumpingSite site;
  auto& d = site.daemon;
  REQUIRE(d.cmd("confirm laser") == "ok confirm laser");
  REQUIRE(starts_with(site.place("laser", "04000001"), "ok granted laser M1 granted"));
  REQUIRE(site.output_is("laser.relay", "on"));

  // Four hours ahead: past the laser's 10 min idle timeout on the wall clock, not on the
  // monotonic one. The session must run on, and its measured time must be the real one.
  set_wall(site.wall, "2026-11-24 05:00:00");
  REQUIRE(wait_until([&] { return starts_with(d.cmd("clock"), "ok 2026-11-24 14:0"); }, 5s));
  std::this_thread::sleep_for(1500ms);  // several daemon ticks on the new wall time
  CHECK(site.output_is("laser.relay", "on"));

  REQUIRE(starts_with(d.cmd("lockout laser clock-test"), "ok"));
  CHECK(site.output_is("laser.relay", "off"));
  auto s = d.open_store();
  labgate::gateway::store::HistoryFilter f;
  f.limit = 10;
  auto sessions = s->events().list_sessions(f);
  REQUIRE(sessions.ok());
  REQUIRE(sessions.value().size() == 1);
  REQUIRE(sessions.value()[0].measured_seconds.has_value());
  CHECK(*sessions.value()[0].measured_seconds < 60);
}
