// The database becomes unwritable while the daemon runs (another connection holds its write
// lock, as a backup or a long staff transaction would): the site falls into its fault mode —
// doors in their fail mode, every machine off — and once the lock is gone it comes back and
// commits, in order, the events it held in memory.

#include <signal.h>

#include <catch2/catch.hpp>
#include <future>
#include <iostream>

#include "emulated_reader.hpp"
#include "kill_support.hpp"
#include "text_match.hpp"

using namespace labgate::testing;
using namespace labgate::testing::kill;
using namespace std::chrono_literals;

TEST_CASE("labgated faults while the store is locked and recovers with its pending events",
          "[store_unavailable]") {
  const int scale = time_scale();
  TempDir dir("labgate-lock");
  const auto db = dir / "lab.db";
  const auto sock = dir / "ctl.sock";
  const Seed seed = prepare_site(db, sock, dir / "daemon-0.log");
  const auto log = dir / "daemon-1.log";
  EmulatedReaders readers(PN532_EMU_PATH, dir.path(), {"main-in", "laser", "printer-1"});
  auto started = start_daemon(db, sock, sim_time(60s), log, readers.daemon_args());
  Daemon& daemon = *started;
  REQUIRE(daemon.wait_ready(20s * scale));
  REQUIRE(confirm_machines(daemon));
  // Every write stalls the loop for the store's busy timeout while the lock is held, so the
  // replies below can take many seconds.
  const auto patient = 60s * scale;
  // Cards go on the readers' emulated PN532s; the reply is the daemon's outcome of that read
  // once its event is committed ("err timeout" when that did not happen within 5 s, as the
  // simulated readers' acknowledgement deadline).
  auto control = [&](const std::string& line) { return daemon.request(line, patient); };
  auto place = [&](const std::string& reader, const std::string& card) {
    return place_and_await(control, readers.at(reader), reader, "iso14443a", card, 5s * scale);
  };
  auto tap = [&](const std::string& reader, const std::string& card) {
    auto reply = place(reader, card);
    remove_and_await(readers.at(reader), 10s * scale);
    return reply;
  };

  // A running laser session, and the door pulse of an entry, then time for the pulse to end.
  const auto& member = seed.members[0];
  auto entry = parse_ack("main-in", tap("main-in", member.card_hex));
  REQUIRE(entry);
  REQUIRE(entry->granted);
  auto laser = parse_ack("laser", place("laser", member.card_hex));
  REQUIRE(laser);
  REQUIRE(laser->granted);
  REQUIRE(contains(daemon.request("clock advance 10s"), "10:01:10"));
  auto outputs = daemon.request("outputs");
  INFO("before the lock: " << outputs);
  REQUIRE(contains(outputs, "laser.relay=on"));
  REQUIRE(contains(outputs, "main.strike=off"));
  const auto baseline = entry->seq > laser->seq ? entry->seq : laser->seq;

  WriteLock lock(db);
  const auto locked_at = std::chrono::steady_clock::now();
  // An unknown card at the main door: refused, but its event cannot be written. The hub stops
  // waiting for the acknowledgement after its own deadline.
  auto held = std::async(std::launch::async, [&] { return tap("main-in", seed.unknown_cards[0]); });
  std::string status;
  REQUIRE(wait_until(
      [&] {
        status = daemon.request("status", patient);
        return contains(status, "site fault=yes");
      },
      patient));
  const auto stalled_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - locked_at)
                              .count();
  INFO("status in fault: " << status);
  CHECK(contains(status, "door main fault strike=locked"));      // fail-secure
  CHECK(contains(status, "door fablab fault strike=released"));  // fail-safe
  for (const auto& m : kMachines) CHECK(contains(status, "machine " + m + " fault relay=off"));
  outputs = daemon.request("outputs", patient);
  INFO("outputs in fault: " << outputs);
  CHECK(contains(outputs, "main.strike=off"));
  CHECK(contains(outputs, "fablab.strike=on"));
  for (const auto& m : kMachines) CHECK(contains(outputs, m + ".relay=off"));

  // A certified member at a printer while the site is in fault: refused, not recorded yet.
  const auto printer_reply = tap("printer-1", seed.members[1].card_hex);
  INFO("printer tap in fault: " << printer_reply);
  auto printer_ack = parse_ack("printer-1", printer_reply);
  CHECK((printer_reply == "err timeout" || (printer_ack && !printer_ack->granted)));
  CHECK_FALSE((printer_ack && printer_ack->seq > 0));  // nothing is durable under the lock
  const auto held_reply = held.get();
  INFO("held tap: " << held_reply);
  CHECK(held_reply == "err timeout");
  status = daemon.request("status", patient);
  CHECK(contains(status, "site fault=yes"));
  CHECK_FALSE(contains(status, "pending=0"));
  lock.release();

  // Retries run on the daemon's (manual) clock: move it until the site leaves its fault.
  REQUIRE(wait_until(
      [&] {
        daemon.request("clock advance 2s", patient);
        status = daemon.request("status", patient);
        return contains(status, "site fault=no");
      },
      patient));
  INFO("status after the lock: " << status);
  CHECK(contains(status, "pending=0"));
  CHECK(contains(status, "door main locked strike=locked"));

  // The site works again, and records what it does at once.
  // The member takes the card off the laser and presents it again.
  REQUIRE(remove_and_await(readers.at("laser"), 10s * scale));
  auto again = parse_ack("laser", place("laser", member.card_hex));
  REQUIRE(again);
  CHECK(again->granted);
  CHECK(again->seq > baseline);
  CHECK(contains(daemon.request("outputs"), "laser.relay=on"));
  daemon.child().signal(SIGTERM);
  REQUIRE(daemon.child().wait(20s * scale) == std::optional<int>(0));

  std::cout << "kill.store_unavailable: the event loop answered its first status " << stalled_ms
            << " ms after the lock was taken\n";

  ReadOnlyDb check(db);
  CHECK(check.text("PRAGMA integrity_check") == "ok");
  // The events held in memory were committed after the lock, in the order they happened.
  const auto held_seq = check.integer(
      "SELECT coalesce(min(seq), 0) FROM access_events WHERE seq > ?1 AND kind = 'tap_entry' "
      "AND reader_id = 'main-in' AND decision = 'denied' AND member_id IS NULL",
      {baseline});
  CHECK(held_seq > baseline);
  const auto ended_seq = check.integer(
      "SELECT coalesce(min(seq), 0) FROM access_events WHERE seq > ?1 AND kind = 'session_ended' "
      "AND machine_id = 'laser' AND reason = 'fault'",
      {baseline});
  CHECK(ended_seq > held_seq);
  const auto printer_seq = check.integer(
      "SELECT coalesce(min(e.seq), 0) FROM access_events e JOIN members m ON m.id = e.member_id "
      "WHERE e.seq > ?1 AND e.kind = 'tap_machine' AND e.reader_id = 'printer-1' "
      "AND e.decision = 'denied' AND m.member_no = 'M0002'",
      {baseline});
  CHECK(printer_seq > ended_seq);
  const auto recovered_seq = check.integer(
      "SELECT coalesce(min(seq), 0) FROM access_events WHERE kind = 'store_recovered' "
      "AND seq > ?1",
      {baseline});
  CHECK(recovered_seq > printer_seq);
  CHECK(again->seq > recovered_seq);
  // The laser session ended when the relay was cut, not when the store came back.
  CHECK(check.integer("SELECT count(*) FROM sessions WHERE machine_id = 'laser' "
                      "AND end_reason = 'fault'") == 1);
  CHECK(check.integer("SELECT count(*) FROM sessions WHERE ended_at_ms IS NULL "
                      "AND kind = 'machine'") == 0);
  // Nothing was lost or numbered twice: the shared sequence is still gapless.
  const auto last = check.integer("SELECT last_seq FROM gateway_seq WHERE id = 1");
  CHECK(check.integer("SELECT count(*) FROM outbox") == last);
  CHECK(check.integer("SELECT max(seq) FROM outbox") == last);
  CHECK(check.integer("SELECT count(*) FROM access_events e LEFT JOIN outbox o ON o.seq = e.seq "
                      "WHERE o.seq IS NULL") == 0);
}
