#pragma once
// Contract tests (one per interface) that every backend must pass: run each against the simulated
// device and against the real backend wherever one can be constructed.

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <thread>

#include "labgate/drivers/devices.hpp"
#include "support.hpp"

namespace labgate::drivers::test {

/// Output contract. `Maker` provides: static std::unique_ptr<Output-like> make(id) and
/// static bool level(const T&) (the physical level the backend drove).
template <class Maker>
void check_output_contract() {
  auto out = Maker::make("relay-1");
  REQUIRE(out);
  Output& o = *out;
  CHECK(o.id() == "relay-1");
  CHECK_FALSE(o.commanded());
  CHECK_FALSE(Maker::level(*out));

  CHECK(o.set(true) == IoResult::kDone);
  CHECK(o.commanded());
  CHECK(Maker::level(*out));
  CHECK(o.set(true) == IoResult::kDone);  // idempotent
  CHECK(o.commanded());
  CHECK(Maker::level(*out));

  CHECK(o.set(false) == IoResult::kDone);
  CHECK_FALSE(o.commanded());
  CHECK_FALSE(Maker::level(*out));
  CHECK(o.id() == "relay-1");
}

/// Reader contract. `Maker` provides: static std::unique_ptr<R> make(id) and
/// static void stimulate(R&) which makes the reader report at least one event when started.
template <class Maker>
void check_reader_contract() {
  auto reader = Maker::make("reader-1");
  REQUIRE(reader);
  Reader& r = *reader;
  CHECK(r.id() == "reader-1");

  SECTION("stop before start and stop twice are harmless") {
    r.stop();
    r.stop();
  }

  SECTION("events carry the reader id; a second start() changes nothing") {
    Recorder<ReaderEvent> first;
    Recorder<ReaderEvent> second;
    r.start(first.sink());
    r.start(second.sink());
    Maker::stimulate(*reader);
    REQUIRE(first.wait_for_count(1));
    CHECK(second.size() == 0);
    for (const auto& e : first.events()) CHECK(e.reader_id == "reader-1");
    r.stop();
    r.stop();
  }

  SECTION("restart after stop delivers again") {
    Recorder<ReaderEvent> first;
    r.start(first.sink());
    r.stop();
    const auto before = first.size();
    Maker::stimulate(*reader);
    Recorder<ReaderEvent> again;
    r.start(again.sink());
    Maker::stimulate(*reader);
    CHECK(again.wait_for_count(1));
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
        Maker::stimulate(*reader);
        ++attempts;
      }
    });
    REQUIRE(wait_until([&] { return delivered > 50; }));
    r.stop();
    stopped = true;
    const int at_stop = delivered;
    // Keep stimulating after stop(): none of these may reach the sink.
    const long target = attempts + 200;
    REQUIRE(wait_until([&] { return attempts >= target; }));
    run = false;
    hammer.join();
    CHECK(late == 0);
    CHECK(delivered == at_stop);
  }
}

/// Input contract. `Maker` provides: static std::unique_ptr<I> make(id, bool initial) and
/// static void drive(I&, bool active).
template <class Maker>
void check_input_contract() {
  SECTION("initial level is reported at start, then each change") {
    for (bool initial : {false, true}) {
      auto input = Maker::make("contact-1", initial);
      Input& in = *input;
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
    REQUIRE(wait_until([&] { return delivered > 50; }));
    input->stop();
    stopped = true;
    const long target = attempts + 200;
    REQUIRE(wait_until([&] { return attempts >= target; }));
    run = false;
    hammer.join();
    CHECK(late == 0);
  }
}

}  // namespace labgate::drivers::test
