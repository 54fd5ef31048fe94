// Faults are a set of causes (issue 20, 2b and 2c), through the real daemon, real SQLite and
// readers that are emulated PN532s behind real libnfc:
//  - a door leaves its fail mode only when neither its reader nor the store is at fault, in
//    whichever order the two faults come and go;
//  - a machine whose reader goes down winds its session down through Grace, as after a card
//    removal, and records why.

#include <signal.h>

#include <catch2/catch.hpp>

#include "emulated_reader.hpp"
#include "kill_support.hpp"
#include "text_match.hpp"

using namespace labgate::testing;
using namespace labgate::testing::kill;
using namespace std::chrono_literals;

namespace {

struct FaultSite {
  int scale = time_scale();
  TempDir dir{"labgate-causes"};
  std::filesystem::path db = dir / "lab.db";
  std::filesystem::path log = dir / "daemon-1.log";
  Seed seed = prepare_site(db, dir / "ctl.sock", dir / "daemon-0.log");
  EmulatedReaders readers{PN532_EMU_PATH, dir.path(), {"main-in", "laser"}};
  std::unique_ptr<Daemon> daemon =
      start_daemon(db, dir / "ctl.sock", sim_time(60s), log, readers.daemon_args());
  std::chrono::milliseconds patient = 60s * scale;

  FaultSite() {
    REQUIRE(daemon->wait_ready(20s * scale));
    REQUIRE(confirm_machines(*daemon));
  }
  std::string status() { return daemon->request("status", patient); }
  // Waits until the status holds `part`; the failure message shows the last status.
  void await_status(const std::string& part) {
    std::string last;
    const bool ok = wait_until(
        [&] {
          last = status();
          return contains(last, part);
        },
        patient);
    INFO("waiting for '" << part << "', status: " << last << "\nlog:\n" << log_tail(log));
    REQUIRE(ok);
  }
  // Waits until the daemon has logged `line` (the reader thread's events reach the log whatever
  // the store does).
  void await_log(const std::string& line) {
    const bool ok = wait_until([&] { return contains(read_file(log), line); }, 30s * scale);
    INFO("waiting for log line '" << line << "'\n" << log_tail(log));
    REQUIRE(ok);
  }
  // Holds the store's write lock until the site is in its fault mode; the heartbeat is the
  // write that meets the lock.
  std::unique_ptr<WriteLock> lock_store() {
    auto lock = std::make_unique<WriteLock>(db);
    daemon->request("clock advance 6s", patient);
    await_status("site fault=yes");
    return lock;
  }
  // Releases the lock and moves the clock until the pending writes are retried and committed.
  void release_store(std::unique_ptr<WriteLock> lock) {
    lock->release();
    std::string last;
    const bool ok = wait_until(
        [&] {
          daemon->request("clock advance 2s", patient);
          last = status();
          return contains(last, "site fault=no");
        },
        patient);
    INFO("status: " << last);
    REQUIRE(ok);
  }
  void unplug(const std::string& reader) {
    REQUIRE(readers.at(reader).cmd("fault unplug") == "ok unplugged");
    await_log("reader " + reader + " down");
  }
  void replug(const std::string& reader) {
    REQUIRE(readers.at(reader).cmd("fault replug").rfind("ok replugged", 0) == 0);
    await_log("reader " + reader + " up");
  }
};

}  // namespace

TEST_CASE("a door leaves its fail mode only when no fault cause is left", "[fault_causes]") {
  FaultSite site;
  site.await_status("door main locked strike=locked");

  SECTION("the store fails, then the reader; the store recovers first") {
    auto lock = site.lock_store();
    site.unplug("main-in");
    site.release_store(std::move(lock));
    // The store answers again, but the door still cannot read cards: it stays in its fail mode.
    CHECK(contains(site.status(), "door main fault strike=locked"));
    site.replug("main-in");
    site.await_status("door main locked strike=locked");
  }

  SECTION("the reader fails, then the store; the reader recovers first") {
    site.unplug("main-in");
    site.await_status("door main fault strike=locked");
    auto lock = site.lock_store();
    site.replug("main-in");
    // The reader is back, but the store cannot record a decision: still the fail mode.
    CHECK(contains(site.status(), "door main fault strike=locked"));
    site.release_store(std::move(lock));
    site.await_status("door main locked strike=locked");
  }

  // Every fault and recovery is on record once the store answers.
  site.daemon->child().signal(SIGTERM);
  REQUIRE(site.daemon->child().wait(20s * site.scale) == std::optional<int>(0));
  ReadOnlyDb ro(site.db);
  CHECK(ro.integer("SELECT count(*) FROM access_events WHERE kind = 'reader_down' "
                   "AND reader_id = 'main-in'") == 1);
  CHECK(ro.integer("SELECT count(*) FROM access_events WHERE kind = 'reader_up' "
                   "AND reader_id = 'main-in' AND seq > (SELECT seq FROM access_events "
                   "WHERE kind = 'reader_down' AND reader_id = 'main-in')") == 1);
  CHECK(ro.integer("SELECT count(*) FROM access_events WHERE kind = 'store_recovered'") == 1);
}

TEST_CASE("a machine whose reader goes down winds its session down through grace",
          "[fault_causes]") {
  FaultSite site;
  auto control = [&](const std::string& line) { return site.daemon->request(line, site.patient); };
  const auto& member = site.seed.members[0];
  auto laser = parse_ack("laser", place_and_await(control, site.readers.at("laser"), "laser",
                                                  "iso14443a", member.card_hex, 5s * site.scale));
  REQUIRE(laser);
  REQUIRE(laser->granted);

  site.unplug("laser");
  // As after a card removal: Grace with the relay still on, then off at the Grace end (30 s).
  site.await_status("machine laser grace relay=on");
  control("clock advance 29s");
  CHECK(contains(control("outputs"), "laser.relay=on"));
  control("clock advance 1s");
  site.await_status("machine laser idle relay=off");
  CHECK(contains(control("outputs"), "laser.relay=off"));

  // Back: the card that stayed on the reader is a fresh presentation, and a new session starts.
  site.replug("laser");
  site.await_status("machine laser in_use relay=on");

  site.daemon->child().signal(SIGTERM);
  REQUIRE(site.daemon->child().wait(20s * site.scale) == std::optional<int>(0));
  ReadOnlyDb ro(site.db);
  CHECK(ro.integer("SELECT count(*) FROM sessions WHERE machine_id = 'laser' "
                   "AND end_reason = 'reader_down'") == 1);
  CHECK(ro.integer("SELECT count(*) FROM access_events WHERE kind = 'grace_started' "
                   "AND machine_id = 'laser' AND reason = 'reader_down'") == 1);
  // The alarm names the machine.
  CHECK(ro.integer("SELECT count(*) FROM access_events WHERE kind = 'reader_down' "
                   "AND machine_id = 'laser'") == 1);
}
