// A meeting room through the real daemon: a booking made with labgatectl opens the room's door
// through real libnfc (pn532-emu) for its member and named guest from its early entry to its
// end, and nobody else; outside the window the card is refused as outside_booking.

#include <catch2/catch.hpp>
#include <optional>
#include <thread>

#include "nfc_rig.hpp"

using namespace labgate::testing;
namespace store = labgate::gateway::store;
using namespace std::chrono_literals;

namespace {

std::string room_config(const std::string& connstring) {
  return "\n[[readers]]\nid = \"room-in\"\ndevice = \"" + connstring +
         "\"\n\n[[doors]]\nid = \"room-a\"\nname = \"Meeting room A\"\n"
         "entry_reader = \"room-in\"\nstrike = \"sim\"\npresence = false\n\n"
         "[[rooms]]\nid = \"room-a\"\nname = \"Meeting room A\"\ndoor = \"room-a\"\n"
         "capacity = 4\nhours = \"mon-fri 09:00-21:00\"\ngrid_minutes = 30\n"
         "early_entry_minutes = 10\nno_show_minutes = 15\nrate_per_hour = 1200\n";
}

}  // namespace

TEST_CASE("room: the booking's member and guest enter in its window, nobody outside it", "[room]") {
  TempDir dir{"labgate-room"};
  EmulatedReader emu(PN532_EMU_PATH, dir.path(), "room-in", {});
  Daemon d(dir, test_config(dir.path().string(), room_config(emu.connstring())));
  {
    auto s = d.open_store();
    seed_cast(*s);
  }
  d.start("2026-11-24 10:00");  // a Tuesday
  REQUIRE(wait_until([&] { return count_events(d, "reader_up", "room-in") >= 1; }, 15s));

  // M2 books 11:00-12:00 with M4 as guest, through labgatectl like desk staff.
  auto booked = labgatectl(d, {"bookings", "add", "--room", "room-a", "--member", "M2", "--start",
                               "2026-11-24T11:00", "--end", "2026-11-24T12:00", "--guest", "M4"});
  INFO(booked.out << booked.err);
  REQUIRE(booked.exit_code == 0);
  auto overlap = labgatectl(d, {"bookings", "add", "--room", "room-a", "--member", "M1", "--start",
                                "2026-11-24T11:30", "--end", "2026-11-24T12:30"});
  CHECK(overlap.exit_code != 0);
  CHECK(overlap.err.find("overlap") != std::string::npos);

  int taps = 0;
  auto tap = [&](const std::string& uid) {
    REQUIRE(emu.cmd("place classic " + uid) == "ok placed");
    const int n = ++taps;
    REQUIRE(wait_until([&] { return count_events(d, "tap_entry", "room-in") >= n; }, 10s));
    std::optional<store::AccessEvent> newest;
    for (auto& e : events_of(d)) {
      if (e.kind == "tap_entry" && e.reader_id == std::optional<std::string>("room-in") &&
          (!newest || e.seq > newest->seq))
        newest = e;
    }
    REQUIRE(emu.cmd("remove") == "ok removed");
    // Let the reader see the empty field before the next card.
    std::this_thread::sleep_for(400ms);
    REQUIRE(newest);
    return *newest;
  };

  // 10:49:59, one second before the early entry: refused with its own reason.
  REQUIRE(d.cmd("clock set 2026-11-24 10:49").rfind("ok", 0) == 0);
  REQUIRE(d.cmd("clock advance 59s").rfind("ok", 0) == 0);
  auto early = tap("04000002");
  CHECK(early.decision == store::Decision::kDenied);
  CHECK(early.reason == "outside_booking");
  // 10:50: the early entry opens.
  REQUIRE(d.cmd("clock set 2026-11-24 10:50").rfind("ok", 0) == 0);
  auto in = tap("04000002");
  CHECK(in.decision == store::Decision::kGranted);
  CHECK(in.door_id == std::optional<std::string>("room-a"));
  // The guest, and someone not named on the booking.
  REQUIRE(d.cmd("clock set 2026-11-24 11:30").rfind("ok", 0) == 0);
  CHECK(tap("04000004").decision == store::Decision::kGranted);
  auto stranger = tap("04000001");
  CHECK(stranger.decision == store::Decision::kDenied);
  CHECK(stranger.reason == "outside_booking");
  // 11:59:59 still inside; 12:00 outside.
  REQUIRE(d.cmd("clock set 2026-11-24 11:59").rfind("ok", 0) == 0);
  REQUIRE(d.cmd("clock advance 59s").rfind("ok", 0) == 0);
  CHECK(tap("04000002").decision == store::Decision::kGranted);
  REQUIRE(d.cmd("clock set 2026-11-24 12:00").rfind("ok", 0) == 0);
  auto after = tap("04000002");
  CHECK(after.decision == store::Decision::kDenied);
  CHECK(after.reason == "outside_booking");
  // A suspended member is refused as such, booking or not.
  CHECK(tap("04000003").reason == "member_suspended");

  auto list = labgatectl(d, {"bookings", "list", "--room", "room-a", "--from", "2026-11-24"});
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("M2") != std::string::npos);
}

TEST_CASE("room: a locker's lock opens for its holder during the loan only", "[room]") {
  TempDir dir{"labgate-locker"};
  EmulatedReader emu(PN532_EMU_PATH, dir.path(), "locker-in", {});
  const std::string extra =
      "\n[[readers]]\nid = \"locker-in\"\ndevice = \"" + emu.connstring() +
      "\"\n\n[[doors]]\nid = \"locker-7\"\nentry_reader = \"locker-in\"\n"
      "strike = \"sim\"\nstrike_pulse_s = 3\npresence = false\n\n"
      "[[lockers]]\nid = \"l7\"\ndoor = \"locker-7\"\nrate_per_month = 1500\n";
  Daemon d(dir, test_config(dir.path().string(), extra));
  {
    auto s = d.open_store();
    seed_cast(*s);
  }
  d.start("2026-11-24 10:00");
  REQUIRE(wait_until([&] { return count_events(d, "reader_up", "locker-in") >= 1; }, 15s));
  auto lent = labgatectl(d, {"lockers", "lend", "--locker", "l7", "--member", "M2", "--from",
                             "2026-11-24", "--until", "2026-11-30"});
  INFO(lent.out << lent.err);
  REQUIRE(lent.exit_code == 0);

  int taps = 0;
  auto tap = [&](const std::string& uid) {
    REQUIRE(emu.cmd("place classic " + uid) == "ok placed");
    const int n = ++taps;
    REQUIRE(wait_until([&] { return count_events(d, "tap_entry", "locker-in") >= n; }, 10s));
    std::optional<store::AccessEvent> newest;
    for (auto& e : events_of(d)) {
      if (e.kind == "tap_entry" && e.reader_id == std::optional<std::string>("locker-in") &&
          (!newest || e.seq > newest->seq))
        newest = e;
    }
    REQUIRE(emu.cmd("remove") == "ok removed");
    std::this_thread::sleep_for(400ms);
    REQUIRE(newest);
    return *newest;
  };
  auto holder = tap("04000002");
  CHECK(holder.decision == store::Decision::kGranted);
  CHECK(d.cmd("output locker-7.strike") == "ok locker-7.strike on");
  auto other = tap("04000001");
  CHECK(other.decision == store::Decision::kDenied);
  CHECK(other.reason == "no_locker_loan");
  // The day after the loan's last day: refused, and the locker map shows it overdue.
  REQUIRE(d.cmd("clock set 2026-12-01 09:00").rfind("ok", 0) == 0);
  auto late = tap("04000002");
  CHECK(late.decision == store::Decision::kDenied);
  CHECK(late.reason == "no_locker_loan");
  auto map = labgatectl(d, {"--simulated-clock", "2026-12-01 09:00", "lockers", "list"});
  CHECK(map.exit_code == 0);
  CHECK(map.out.find("overdue") != std::string::npos);
  // Staff take it back; the locker is free again.
  auto back = labgatectl(d, {"lockers", "return", "--locker", "l7"});
  CHECK(back.exit_code == 0);
  map = labgatectl(d, {"lockers", "list"});
  CHECK(map.out.find("free") != std::string::npos);
}
