// Behaviour of the simulated devices themselves, without the control socket.

#include <catch2/catch.hpp>

#include "labgate/drivers/sim/sim_devices.hpp"
#include "support.hpp"

using namespace labgate::drivers;
using namespace labgate::drivers::sim;
using labgate::drivers::test::Recorder;
using Kind = ReaderEvent::Kind;

namespace {

Card uid(std::vector<std::uint8_t> bytes) {
  return Card{CardTechnology::kIso14443aUid, bytes};
}

}  // namespace

TEST_CASE("SimReader reports presentations, removals and failures", "[sim]") {
  SimReader reader("door-in");
  Recorder<ReaderEvent> rec;

  SECTION("stimuli before start are refused and leave no card") {
    CHECK(reader.present(uid({1, 2, 3, 4})) == SimResult::kNotStarted);
    CHECK_FALSE(reader.card());
    CHECK(reader.remove() == SimResult::kNoChange);
  }

  SECTION("present, replace and remove") {
    reader.start(rec.sink());
    CHECK(rec.size() == 0);  // nothing in the field, nothing to report
    const auto at = Clock::now();
    CHECK(reader.present(uid({1, 2, 3, 4}), at) == SimResult::kDelivered);
    REQUIRE(rec.size() == 1);
    auto e = rec.events()[0];
    CHECK(e.kind == Kind::kCardPresent);
    CHECK(e.reader_id == "door-in");
    CHECK(e.at == at);
    REQUIRE(e.card);
    CHECK(e.card->technology == CardTechnology::kIso14443aUid);
    CHECK(e.card->identifier == std::vector<std::uint8_t>{1, 2, 3, 4});
    CHECK(reader.presentation() == 1);

    CHECK(reader.present(Card{CardTechnology::kFelica, {1, 2, 3, 4, 5, 6, 7, 8}}) ==
          SimResult::kDelivered);
    REQUIRE(rec.size() == 3);
    CHECK(rec.events()[1].kind == Kind::kCardRemoved);
    CHECK(rec.events()[2].kind == Kind::kCardPresent);
    CHECK(rec.events()[2].card->technology == CardTechnology::kFelica);
    CHECK(reader.presentation() == 2);

    CHECK(reader.remove() == SimResult::kDelivered);
    REQUIRE(rec.size() == 4);
    CHECK(rec.events()[3].kind == Kind::kCardRemoved);
    CHECK_FALSE(rec.events()[3].card);
    CHECK(reader.remove() == SimResult::kNoChange);
    CHECK(rec.size() == 4);
  }

  SECTION("a card lying on the reader is reported at start") {
    reader.start(rec.sink());
    reader.present(uid({9, 9, 9, 9}));
    reader.stop();
    Recorder<ReaderEvent> again;
    reader.start(again.sink());
    REQUIRE(again.size() == 1);
    CHECK(again.events()[0].kind == Kind::kCardPresent);
    CHECK(again.events()[0].card->identifier == std::vector<std::uint8_t>{9, 9, 9, 9});
  }

  SECTION("failure and recovery") {
    reader.start(rec.sink());
    reader.present(uid({1, 2, 3, 4}));
    CHECK(reader.fail("usb unplugged") == SimResult::kDelivered);
    CHECK(reader.down());
    CHECK_FALSE(reader.card());  // forgotten, not reported as removed
    CHECK(reader.fail("again") == SimResult::kNoChange);
    CHECK(reader.present(uid({5, 6, 7, 8})) == SimResult::kDown);
    CHECK(reader.recover() == SimResult::kDelivered);
    CHECK(reader.recover() == SimResult::kNoChange);
    const auto events = rec.events();
    REQUIRE(events.size() == 3);
    CHECK(events[1].kind == Kind::kReaderDown);
    CHECK(events[1].detail == "usb unplugged");
    CHECK(events[2].kind == Kind::kReaderUp);
  }

  SECTION("a reader that failed while stopped reports it at start") {
    reader.fail("no answer");
    reader.start(rec.sink());
    REQUIRE(rec.size() == 1);
    CHECK(rec.events()[0].kind == Kind::kReaderDown);
    CHECK(rec.events()[0].detail == "no answer");
  }

  SECTION("the sink may stop the reader from inside a callback") {
    int calls = 0;
    reader.start([&](ReaderEvent) {
      ++calls;
      reader.stop();
    });
    reader.present(uid({1, 2, 3, 4}));
    CHECK_FALSE(reader.started());
    CHECK(reader.present(uid({1, 2, 3, 5})) == SimResult::kNotStarted);
    CHECK(calls == 1);
  }

  SECTION("the sink may stimulate the reader again from inside a callback") {
    std::vector<Kind> kinds;
    reader.start([&](ReaderEvent e) {
      kinds.push_back(e.kind);
      if (e.kind == Kind::kCardPresent) reader.remove();
    });
    reader.present(uid({1, 2, 3, 4}));
    CHECK(kinds == std::vector<Kind>{Kind::kCardPresent, Kind::kCardRemoved});
  }
}

TEST_CASE("SimOutput records level, bounded history and injected faults", "[sim]") {
  SimOutput out("strike", 3);
  CHECK(out.id() == "strike");
  CHECK_FALSE(out.level());
  CHECK(out.history().empty());

  for (int i = 0; i < 5; ++i) CHECK(out.set(i % 2 == 0) == IoResult::kDone);
  CHECK(out.set(true) == IoResult::kDone);  // already on: not a change
  CHECK(out.change_count() == 5);
  const auto history = out.history();
  REQUIRE(history.size() == 3);
  CHECK(history[0].on == true);
  CHECK(history[1].on == false);
  CHECK(history[2].on == true);
  CHECK(history[0].at <= history[1].at);
  CHECK(history[1].at <= history[2].at);

  out.inject_fault(IoResult::kRetry);
  CHECK(out.set(false) == IoResult::kRetry);
  CHECK_FALSE(out.commanded());
  CHECK(out.level());  // the relay did not move
  out.inject_fault(IoResult::kFatal);
  CHECK(out.set(false) == IoResult::kFatal);
  out.inject_fault(std::nullopt);
  CHECK_FALSE(out.fault());
  CHECK(out.set(false) == IoResult::kDone);
  CHECK_FALSE(out.level());
  CHECK(out.change_count() == 6);
}

TEST_CASE("SimInput reports its level at start and changes only", "[sim]") {
  SimInput in("exit", InputKind::kExitButton);
  CHECK(in.kind() == InputKind::kExitButton);
  CHECK(in.set(true) == SimResult::kNotStarted);  // level changes even while stopped
  Recorder<InputEvent> rec;
  in.start(rec.sink());
  REQUIRE(rec.size() == 1);
  CHECK(rec.events()[0].active);
  CHECK(rec.events()[0].input_id == "exit");
  CHECK(in.set(true) == SimResult::kNoChange);
  CHECK(in.set(false) == SimResult::kDelivered);
  REQUIRE(rec.size() == 2);
  CHECK_FALSE(rec.events()[1].active);
  in.stop();
  CHECK(in.set(true) == SimResult::kNotStarted);
  CHECK(rec.size() == 2);
  CHECK(std::string(to_string(InputKind::kFireAlarm)) == "fire-alarm");
  CHECK(std::string(to_string(SimResult::kDown)) == "down");
}
