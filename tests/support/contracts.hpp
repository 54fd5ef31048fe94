#pragma once
// Contract tests, one per device interface, that every backend must pass: each runs against the
// simulated device and against the real implementation on its real boundary (libnfc over a pty
// to pn532-emu, a smart plug through a real mosquitto). A backend takes part through a rig, a
// small class that owns it with whatever plays the world behind it.

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "labgate/drivers/devices.hpp"
#include "recorder.hpp"

namespace labgate::testing {

namespace contract_detail {

using drivers::ReaderEvent;

inline bool is_card_event(const ReaderEvent& e) {
  return e.kind == ReaderEvent::Kind::kCardPresent || e.kind == ReaderEvent::Kind::kCardRemoved;
}

/// The card events (presentations and removals) among `events`, in order.
inline std::vector<ReaderEvent> card_events(const std::vector<ReaderEvent>& events) {
  std::vector<ReaderEvent> out;
  std::copy_if(events.begin(), events.end(), std::back_inserter(out), is_card_event);
  return out;
}

/// Waits until `rec` holds at least `n` card events.
inline bool wait_card_events(const Recorder<ReaderEvent>& rec, std::size_t n,
                             std::chrono::milliseconds timeout) {
  return wait_until([&] { return card_events(rec.events()).size() >= n; }, timeout,
                    std::chrono::milliseconds(2));
}

}  // namespace contract_detail

/// Reader contract. `Rig(id)` owns a reader with that id and what plays the cards; it provides
/// `drivers::Reader& reader()`, `drivers::Card card(int n)` (distinct cards it can present),
/// `present(const drivers::Card&)` (the card enters the field), `remove()` (it leaves),
/// `stimulate()` (any change in the field, callable from another thread in a tight loop),
/// `kWait` (how long a reader may take to report) and `kRaceEvents` (how many events make a
/// busy field in the race against stop()).
template <class Rig>
void check_reader_contract() {
  using drivers::ReaderEvent;
  using Kind = ReaderEvent::Kind;
  using contract_detail::card_events;
  using contract_detail::wait_card_events;
  constexpr std::chrono::milliseconds kWait = Rig::kWait;

  Rig rig("reader-1");
  drivers::Reader& r = rig.reader();
  CHECK(r.id() == "reader-1");

  SECTION("stop before start and stop twice are harmless") {
    r.stop();
    r.stop();
  }

  SECTION("one presentation per card, with the reader id and the card; removal follows it") {
    Recorder<ReaderEvent> rec;
    r.start(rec.sink());
    const drivers::Card a = rig.card(1);
    const drivers::Card b = rig.card(2);
    rig.present(a);
    REQUIRE(wait_card_events(rec, 1, kWait));
    // A card that lies in the field is reported once, not once per poll.
    std::this_thread::sleep_for(kWait / 4);
    rig.remove();
    REQUIRE(wait_card_events(rec, 2, kWait));
    rig.present(b);
    REQUIRE(wait_card_events(rec, 3, kWait));
    rig.remove();
    REQUIRE(wait_card_events(rec, 4, kWait));
    r.stop();

    const auto events = card_events(rec.events());
    REQUIRE(events.size() == 4);
    CHECK(events[0].kind == Kind::kCardPresent);
    CHECK(events[1].kind == Kind::kCardRemoved);
    CHECK(events[2].kind == Kind::kCardPresent);
    CHECK(events[3].kind == Kind::kCardRemoved);
    REQUIRE(events[0].card);
    REQUIRE(events[2].card);
    CHECK(events[0].card->identifier == a.identifier);
    CHECK(events[0].card->technology == a.technology);
    CHECK(events[2].card->identifier == b.identifier);
    CHECK(events[2].card->technology == b.technology);
    for (const auto& e : rec.events()) CHECK(e.reader_id == "reader-1");
    for (std::size_t i = 1; i < events.size(); ++i) CHECK(events[i - 1].at <= events[i].at);
  }

  SECTION("a second start() changes nothing") {
    Recorder<ReaderEvent> first;
    Recorder<ReaderEvent> second;
    r.start(first.sink());
    r.start(second.sink());
    rig.present(rig.card(1));
    REQUIRE(wait_card_events(first, 1, kWait));
    CHECK(second.size() == 0);
    r.stop();
    r.stop();
  }

  SECTION("restart after stop delivers again, and only to the new sink") {
    Recorder<ReaderEvent> first;
    r.start(first.sink());
    const drivers::Card a = rig.card(1);
    rig.present(a);
    REQUIRE(wait_card_events(first, 1, kWait));
    r.stop();
    const auto before = first.size();
    Recorder<ReaderEvent> again;
    r.start(again.sink());
    // The card still lies in the field: reading again reports it.
    REQUIRE(wait_card_events(again, 1, kWait));
    const auto seen = card_events(again.events());
    CHECK(seen[0].kind == Kind::kCardPresent);
    REQUIRE(seen[0].card);
    CHECK(seen[0].card->identifier == a.identifier);
    rig.remove();
    CHECK(wait_card_events(again, 2, kWait));
    CHECK(first.size() == before);
    r.stop();
  }

  SECTION("no callback after stop() returns, even with events racing it") {
    std::atomic<bool> stopped{false};
    std::atomic<int> late{0};
    std::atomic<int> delivered{0};
    r.start([&](ReaderEvent) {
      if (stopped) ++late;
      ++delivered;
    });
    std::atomic<bool> run{true};
    std::atomic<long> attempts{0};
    std::thread hammer([&] {
      while (run) {
        rig.stimulate();
        ++attempts;
      }
    });
    REQUIRE(wait_until([&] { return delivered > Rig::kRaceEvents; }, kWait * Rig::kRaceEvents));
    r.stop();
    stopped = true;
    const int at_stop = delivered;
    // Keep stimulating after stop(): none of these may reach the sink.
    const long target = attempts + 4 * Rig::kRaceEvents;
    REQUIRE(wait_until([&] { return attempts >= target; }, kWait * Rig::kRaceEvents));
    run = false;
    hammer.join();
    CHECK(late == 0);
    CHECK(delivered == at_stop);
  }
}

/// Output contract. `Rig(id)` owns an output with that id; it provides `drivers::Output&
/// output()`, `bool level()` (the level the device behind it is at, as that device tells) and
/// `bool settle(bool on)` (calls set(on) until it answers kDone, running whatever loop the
/// backend needs; false when it never does).
template <class Rig>
void check_output_contract() {
  Rig rig("relay-1");
  drivers::Output& o = rig.output();
  CHECK(o.id() == "relay-1");
  CHECK_FALSE(o.commanded());
  CHECK_FALSE(rig.level());

  REQUIRE(rig.settle(true));
  CHECK(o.commanded());
  CHECK(rig.level());
  CHECK(o.set(true) == drivers::IoResult::kDone);  // idempotent once it took effect
  CHECK(o.commanded());
  CHECK(rig.level());

  REQUIRE(rig.settle(false));
  CHECK_FALSE(o.commanded());
  CHECK_FALSE(rig.level());
  CHECK(o.set(false) == drivers::IoResult::kDone);

  // Commands in quick succession: the last one wins, on the device too.
  o.set(true);
  o.set(false);
  o.set(true);
  REQUIRE(rig.settle(true));
  CHECK(rig.level());
  REQUIRE(rig.settle(false));
  CHECK_FALSE(rig.level());
  CHECK(o.id() == "relay-1");
}

/// Input contract. `Maker` provides: static std::unique_ptr<I> make(id, bool initial) and
/// static void drive(I&, bool active).
template <class Maker>
void check_input_contract() {
  using drivers::InputEvent;
  SECTION("initial level is reported at start, then each change") {
    for (bool initial : {false, true}) {
      auto input = Maker::make("contact-1", initial);
      drivers::Input& in = *input;
      CHECK(in.id() == "contact-1");
      Recorder<InputEvent> rec;
      in.start(rec.sink());
      REQUIRE(rec.wait_for_count(1));
      CHECK(rec.events()[0].input_id == "contact-1");
      CHECK(rec.events()[0].active == initial);
      Maker::drive(*input, !initial);
      REQUIRE(rec.wait_for_count(2));
      CHECK(rec.events()[1].active == !initial);
      Maker::drive(*input, initial);
      REQUIRE(rec.wait_for_count(3));
      CHECK(rec.events()[2].active == initial);
      in.stop();
      in.stop();
    }
  }

  SECTION("no callback after stop") {
    auto input = Maker::make("contact-1", false);
    std::atomic<bool> stopped{false};
    std::atomic<int> late{0};
    std::atomic<int> delivered{0};
    input->start([&](InputEvent) {
      if (stopped) ++late;
      ++delivered;
    });
    std::atomic<bool> run{true};
    std::atomic<long> attempts{0};
    std::thread hammer([&] {
      bool level = false;
      while (run) {
        level = !level;
        Maker::drive(*input, level);
        ++attempts;
      }
    });
    REQUIRE(wait_until([&] { return delivered > 50; }, std::chrono::seconds(3)));
    input->stop();
    stopped = true;
    const long target = attempts + 200;
    REQUIRE(wait_until([&] { return attempts >= target; }, std::chrono::seconds(3)));
    run = false;
    hammer.join();
    CHECK(late == 0);
  }
}

}  // namespace labgate::testing
