// NfcReader against the emulated PN532 over a pty through real libnfc: presentations, removal,
// timing bounds and every fault mode of the emulator.
#include <catch2/catch.hpp>
#include <cstdio>
#include <thread>

#include "labgate/drivers/nfc/nfc_reader.hpp"
#include "support.hpp"

using namespace nfc_test;
using labgate::drivers::CardTechnology;
using labgate::drivers::from_hex;
using labgate::drivers::nfc::NfcReader;
using labgate::drivers::nfc::NfcReaderConfig;
using Kind = ReaderEvent::Kind;

namespace {

// Generous bounds so a loaded 2-core machine stays green; the targets are 50 ms and 250 ms.
constexpr auto kPresentBound = 200ms;
constexpr auto kRemovedBound = 500ms;
constexpr auto kDownBound = 2000ms;
constexpr auto kUpBound = 3000ms;

NfcReaderConfig config_for(const EmuFixture& f) {
  NfcReaderConfig c;
  c.id = "door-1";
  c.connstring = f.emu.connstring();
  c.backoff_initial = 100ms;
  c.backoff_max = 800ms;
  return c;
}

struct Rig {
  explicit Rig(const std::string& tag) : emu(tag), reader(config_for(emu)) {
    reader.start(log.sink());
    REQUIRE(log.wait_for(Kind::kReaderUp, 0, kUpBound) >= 0);
  }
  ~Rig() { reader.stop(); }

  // Places a card and returns how long the reader took to report it (or fails).
  long long place_and_wait(const std::string& line, const std::string& hex_uid,
                           CardTechnology tech) {
    const std::size_t from = log.size();
    const auto t0 = Clock::now();
    REQUIRE(emu.run(line).rfind("ok", 0) == 0);
    const int i = log.wait_for(Kind::kCardPresent, from, kPresentBound);
    REQUIRE(i >= 0);
    const ReaderEvent e = log.at(static_cast<std::size_t>(i));
    REQUIRE(e.card);
    CHECK(e.card->identifier == *from_hex(hex_uid));
    CHECK(e.card->technology == tech);
    CHECK(e.reader_id == "door-1");
    return ms_between(t0, e.at);
  }
  long long remove_and_wait() {
    // Let the card sit in the field for a while so removal lands between presence checks,
    // not on the check that immediately follows the presentation.
    std::this_thread::sleep_for(137ms);
    const std::size_t from = log.size();
    const auto t0 = Clock::now();
    emu.run("remove");
    const int i = log.wait_for(Kind::kCardRemoved, from, kRemovedBound);
    REQUIRE(i >= 0);
    CHECK_FALSE(log.at(static_cast<std::size_t>(i)).reader_lost);  // seen to leave
    return ms_between(t0, log.at(static_cast<std::size_t>(i)).at);
  }
  // Every card the reader ever reported must be one that was placed.
  void check_no_bogus_cards(const std::vector<std::string>& placed) {
    for (const auto& e : log.all()) {
      if (e.kind != Kind::kCardPresent) continue;
      REQUIRE(e.card);
      bool known = false;
      for (const auto& p : placed) known = known || e.card->identifier == *from_hex(p);
      CHECK(known);
    }
  }

  EmuFixture emu;
  EventLog log;
  NfcReader reader;
};

}  // namespace

TEST_CASE("reader reports each card technology once per presentation", "[reader]") {
  Rig rig("techs");
  long long worst_present = 0, worst_removed = 0;
  struct Case {
    const char* line;
    const char* uid;
    CardTechnology tech;
  };
  const Case cases[] = {
      {"place classic 04a1b2c3", "04a1b2c3", CardTechnology::kIso14443aUid},
      {"place ultralight 04112233445566", "04112233445566", CardTechnology::kIso14443aUid},
      {"place desfire 04c0ffee123456", "04c0ffee123456", CardTechnology::kDesfire},
      {"place felica 012e4cd3f1a2b3c4", "012e4cd3f1a2b3c4", CardTechnology::kFelica},
      {"place felica 0102030405060708 baud=424", "0102030405060708", CardTechnology::kFelica},
  };
  for (const auto& c : cases) {
    INFO(c.line);
    worst_present = std::max(worst_present, rig.place_and_wait(c.line, c.uid, c.tech));
    const long long removed_ms = rig.remove_and_wait();
    std::printf("nfc.reader: %s removed after %lld ms\n", c.line, removed_ms);
    worst_removed = std::max(worst_removed, removed_ms);
  }
  CHECK(rig.log.count(Kind::kCardPresent) == 5);
  CHECK(rig.log.count(Kind::kCardRemoved) == 5);
  CHECK(rig.log.count(Kind::kReaderDown) == 0);
  std::printf("nfc.reader: worst place->present %lld ms, remove->removed %lld ms\n", worst_present,
              worst_removed);
}

TEST_CASE("a card that stays is reported once; hold cancels a tap", "[reader]") {
  Rig rig("hold");
  rig.place_and_wait("place classic 04a1b2c3 tap=150", "04a1b2c3", CardTechnology::kIso14443aUid);
  REQUIRE(rig.emu.run("hold").rfind("ok", 0) == 0);
  // Over a second of presence checks: still exactly one presentation and no removal.
  CHECK(rig.log.wait_for(Kind::kCardRemoved, 0, 1200ms) == -1);
  CHECK(rig.log.count(Kind::kCardPresent) == 1);
  rig.remove_and_wait();
  // A tap leaves by itself.
  rig.place_and_wait("place felica 0102030405060708 tap=100", "0102030405060708",
                     CardTechnology::kFelica);
  CHECK(rig.log.wait_for(Kind::kCardRemoved, 3, 100ms + kRemovedBound) >= 0);
  // The next presentation counts again.
  rig.place_and_wait("place classic 04a1b2c3", "04a1b2c3", CardTechnology::kIso14443aUid);
  CHECK(rig.log.count(Kind::kCardPresent) == 3);
}

TEST_CASE("a card swapped for another is two presentations", "[reader]") {
  Rig rig("swap");
  rig.place_and_wait("place classic 04a1b2c3", "04a1b2c3", CardTechnology::kIso14443aUid);
  const std::size_t from = rig.log.size();
  rig.emu.run("place classic 0a0b0c0d");
  REQUIRE(rig.log.wait_for(Kind::kCardRemoved, from, kRemovedBound) >= 0);
  const int i = rig.log.wait_for(Kind::kCardPresent, from, kRemovedBound);
  REQUIRE(i >= 0);
  CHECK(rig.log.at(static_cast<std::size_t>(i)).card->identifier == *from_hex("0a0b0c0d"));
}

TEST_CASE("stop() returns promptly with and without a card", "[reader]") {
  for (bool with_card : {false, true}) {
    EmuFixture emu("stop");
    EventLog log;
    NfcReader reader(config_for(emu));
    reader.start(log.sink());
    REQUIRE(log.wait_for(Kind::kReaderUp, 0, kUpBound) >= 0);
    if (with_card) {
      emu.run("place desfire 04c0ffee123456");
      REQUIRE(log.wait_for(Kind::kCardPresent, 0, kPresentBound) >= 0);
    }
    const auto t0 = Clock::now();
    reader.stop();
    CHECK(ms_between(t0, Clock::now()) < 1000);
    reader.stop();  // idempotent
  }
}

TEST_CASE("an unreachable reader is reported down and retried", "[reader]") {
  quiet_libnfc();
  labgate::testing::TempDir dir("labgate-nfc-absent");
  NfcReaderConfig c;
  c.id = "door-1";
  c.connstring = "pn532_uart:" + (dir / "nothing-here").string();
  c.backoff_initial = 50ms;
  c.backoff_max = 200ms;
  EventLog log;
  NfcReader reader(c);
  reader.start(log.sink());
  const int i = log.wait_for(Kind::kReaderDown, 0, kDownBound);
  REQUIRE(i >= 0);
  CHECK_FALSE(log.at(static_cast<std::size_t>(i)).detail.empty());
  // Retries do not repeat the down event.
  CHECK(log.wait_for(Kind::kReaderUp, 0, 600ms) == -1);
  CHECK(log.count(Kind::kReaderDown) == 1);
  reader.stop();
}

namespace {

// Runs one fault: the reader must go down within the bound, come back once the fault is cleared,
// report no card that was never placed, and read a card placed afterwards.
void exercise_fault(const std::string& tag, const std::string& fault_line,
                    const std::string& clear_line, bool card_during_fault) {
  Rig rig(tag);
  if (card_during_fault) {
    rig.place_and_wait("place classic 04a1b2c3", "04a1b2c3", CardTechnology::kIso14443aUid);
  }
  const std::size_t from = rig.log.size();
  const auto t0 = Clock::now();
  REQUIRE(rig.emu.run(fault_line).rfind("ok", 0) == 0);
  const int down = rig.log.wait_for(Kind::kReaderDown, from, kDownBound + 300ms);
  REQUIRE(down >= 0);
  const ReaderEvent down_event = rig.log.at(static_cast<std::size_t>(down));
  const long long down_ms = ms_between(t0, down_event.at);
  CHECK_FALSE(down_event.detail.empty());
  if (card_during_fault) {
    // The presentation is closed before the reader is declared down.
    const int removed = rig.log.wait_for(Kind::kCardRemoved, from, 0ms);
    REQUIRE(removed >= 0);
    CHECK(removed < down);
    // ... and says so: the card was not seen to leave.
    CHECK(rig.log.at(static_cast<std::size_t>(removed)).reader_lost);
    rig.emu.run("remove");
  }
  const auto t1 = Clock::now();
  REQUIRE(rig.emu.run(clear_line).rfind("ok", 0) == 0);
  const int up = rig.log.wait_for(Kind::kReaderUp, static_cast<std::size_t>(down), kUpBound);
  REQUIRE(up >= 0);
  const long long up_ms = ms_between(t1, rig.log.at(static_cast<std::size_t>(up)).at);
  rig.place_and_wait("place felica 0102030405060708", "0102030405060708", CardTechnology::kFelica);
  rig.check_no_bogus_cards({"04a1b2c3", "0102030405060708"});
  std::printf("nfc.faults %s: down after %lld ms (%s), up %lld ms after clearing\n",
              fault_line.c_str(), down_ms, down_event.detail.c_str(), up_ms);
}

}  // namespace

TEST_CASE("fault: garbage instead of responses", "[faults]") {
  exercise_fault("garbage", "fault garbage", "fault none", false);
}

TEST_CASE("fault: garbage with a card in the field", "[faults]") {
  exercise_fault("garbage-card", "fault garbage", "fault none", true);
}

TEST_CASE("fault: dropped responses", "[faults]") {
  exercise_fault("drop", "fault drop", "fault none", false);
}

TEST_CASE("fault: bad data checksums", "[faults]") {
  exercise_fault("badcs", "fault badchecksum", "fault none", true);
}

TEST_CASE("fault: stalled chip", "[faults]") {
  // The stall outlasts the down bound; clearing it early lets the reader come back.
  exercise_fault("stall", "fault stall 4000", "fault none", false);
}

TEST_CASE("fault: unplug and replug", "[faults]") {
  exercise_fault("unplug", "fault unplug", "fault replug", true);
}

TEST_CASE("fault: per-byte delay of a real 115200 baud line keeps working", "[faults]") {
  Rig rig("delay");
  REQUIRE(rig.emu.run("delay on").rfind("ok", 0) == 0);
  rig.place_and_wait("place ultralight 04112233445566", "04112233445566",
                     CardTechnology::kIso14443aUid);
  rig.remove_and_wait();
  CHECK(rig.log.count(Kind::kReaderDown) == 0);
}
