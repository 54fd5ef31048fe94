#pragma once
// The MqttTransport contract (the interface the outbox drainer, the command router and the smart
// plugs use), run against the in-memory transport and against MqttLink on a real mosquitto.

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "labgate/gateway/mqtt/transport.hpp"

namespace labgate::testing {

/// `Rig(name)` owns a transport and the broker behind it, with topics under "contract/<name>/";
/// it provides `gateway::mqtt::MqttTransport& transport()`, `up()` (the broker is reachable;
/// returns once the transport could connect), `down()` (the connection is lost), `bool
/// pump(std::function<bool()> until, std::chrono::milliseconds limit)` (runs the transport's
/// loop on this thread until the condition holds), `settle()` (the broker acknowledges what it
/// holds), `inject(topic, payload)` (another client publishes) and `received()` (the (topic,
/// payload) pairs another client subscribed to "contract/#" got, in order).
template <class Rig>
void check_transport_contract() {
  namespace mq = gateway::mqtt;
  using std::chrono::milliseconds;
  constexpr milliseconds kWait = Rig::kWait;

  // Everything a handler writes to is declared before the rig and so outlives it: the rig's
  // teardown may still call handlers (a last "down", a publish resolved as lost).
  const auto loop_thread = std::this_thread::get_id();
  std::vector<bool> ups;
  bool off_loop = false;
  int refused_calls = 0;
  std::vector<int> acks;
  std::map<int, int> calls;
  std::vector<std::pair<std::string, std::string>> got;
  std::vector<std::string> texts;
  std::vector<std::string> marker;

  Rig rig("t1");
  mq::MqttTransport& t = rig.transport();
  const std::string root = "contract/t1/";
  // Publishes `messages` from another client until `arrived` holds: the broker learns of a
  // subscription a little after subscribe() returns.
  const auto probe = [&](const std::vector<std::pair<std::string, std::string>>& messages,
                         const std::function<bool()>& arrived) {
    return rig.pump(
        [&] {
          if (arrived()) return true;
          for (const auto& [topic, payload] : messages) rig.inject(topic, payload);
          return rig.pump(arrived, milliseconds(300));
        },
        kWait);
  };
  const auto observer = t.observe_connection([&](bool up) {
    off_loop = off_loop || std::this_thread::get_id() != loop_thread;
    ups.push_back(up);
  });

  SECTION("nothing is accepted before the first connection; the connection is announced") {
    CHECK_FALSE(t.connected());
    CHECK_FALSE(t.publish(root + "early", "x", 1, false, [&](bool) { ++refused_calls; }));
    const auto gen = t.generation();
    rig.up();
    REQUIRE(rig.pump([&] { return !ups.empty(); }, kWait));
    CHECK(ups == std::vector<bool>{true});
    CHECK(t.connected());
    CHECK(t.generation() > gen);
    rig.pump([] { return false; }, milliseconds(50));
    CHECK(refused_calls == 0);  // a refused publish never calls back
  }

  SECTION("publishes are acknowledged once each, in order, and reach subscribers in order") {
    rig.up();
    REQUIRE(rig.pump([&] { return t.connected(); }, kWait));
    constexpr int kCount = 25;
    for (int i = 0; i < kCount; ++i) {
      REQUIRE(t.publish(root + "seq", "m" + std::to_string(i), 1, false, [&, i](bool ok) {
        off_loop = off_loop || std::this_thread::get_id() != loop_thread;
        ++calls[i];
        if (ok) acks.push_back(i);
      }));
    }
    rig.settle();
    REQUIRE(rig.pump([&] { return acks.size() == kCount; }, kWait));
    for (int i = 0; i < kCount; ++i) CHECK(acks[static_cast<std::size_t>(i)] == i);
    rig.pump([] { return false; }, milliseconds(50));
    for (const auto& [i, n] : calls) CHECK(n == 1);
    std::vector<std::string> seen;
    REQUIRE(rig.pump(
        [&] {
          seen.clear();
          for (const auto& [topic, payload] : rig.received()) {
            if (topic == root + "seq") seen.push_back(payload);
          }
          return seen.size() >= kCount;
        },
        kWait));
    REQUIRE(seen.size() == kCount);
    for (int i = 0; i < kCount; ++i)
      CHECK(seen[static_cast<std::size_t>(i)] == "m" + std::to_string(i));
  }

  SECTION("a subscription gets matching topics only, on the loop; unsubscribe ends it") {
    rig.up();
    REQUIRE(rig.pump([&] { return t.connected(); }, kWait));
    const auto id =
        t.subscribe(root + "in/+/x", 1, [&](const std::string& tp, const std::string& p) {
          off_loop = off_loop || std::this_thread::get_id() != loop_thread;
          got.emplace_back(tp, p);
        });
    // The broker learns of the subscription a little later: probe until one arrives.
    REQUIRE(probe({{root + "in/probe/x", "probe"}}, [&] { return !got.empty(); }));
    got.clear();
    rig.inject(root + "in/a/y", "no: last level differs");
    rig.inject(root + "in/a/b/x", "no: one level too many");
    rig.inject(root + "other/a/x", "no: another branch");
    rig.inject(root + "in/a/x", "yes");
    REQUIRE(rig.pump([&] { return !got.empty() && got.back().second == "yes"; }, kWait));
    for (const auto& [tp, p] : got) {
      if (p == "probe") continue;  // a late copy of a probe is a matching message too
      CHECK(tp == root + "in/a/x");
      CHECK(p == "yes");
    }

    t.unsubscribe(id);
    t.unsubscribe(id);  // unknown by now: ignored
    t.subscribe(root + "marker", 1,
                [&](const std::string&, const std::string& p) { marker.push_back(p); });
    const auto before = got.size();
    // Once a later message on another subscription arrived, the unsubscribed one had its chance.
    REQUIRE(probe({{root + "in/a/x", "after unsubscribe"}, {root + "marker", "m"}},
                  [&] { return !marker.empty(); }));
    CHECK(got.size() == before);
  }

  SECTION(
      "a lost connection resolves every publish once, refuses new ones, and a reconnect "
      "restores subscriptions under a new generation") {
    rig.up();
    REQUIRE(rig.pump([&] { return t.connected(); }, kWait));
    t.subscribe(root + "cmd", 1,
                [&](const std::string&, const std::string& p) { texts.push_back(p); });
    REQUIRE(probe({{root + "cmd", "probe"}}, [&] { return !texts.empty(); }));
    const auto gen = t.generation();
    for (int i = 0; i < 10; ++i) {
      REQUIRE(
          t.publish(root + "inflight", std::to_string(i), 1, false, [&, i](bool) { ++calls[i]; }));
    }
    ups.clear();
    rig.down();
    REQUIRE(rig.pump([&] { return !ups.empty(); }, kWait));
    CHECK(ups.front() == false);
    CHECK_FALSE(t.connected());
    REQUIRE(rig.pump([&] { return calls.size() == 10; }, kWait));
    CHECK_FALSE(t.publish(root + "down", "x", 1, false, [&](bool) { ++refused_calls; }));

    texts.clear();
    rig.up();
    REQUIRE(rig.pump([&] { return t.connected(); }, kWait));
    CHECK(ups.back() == true);
    CHECK(t.generation() > gen);
    // Not subscribed again by the caller: the transport re-made the subscription.
    REQUIRE(probe({{root + "cmd", "after reconnect"}}, [&] { return !texts.empty(); }));
    CHECK(texts.front() == "after reconnect");
    rig.pump([] { return false; }, milliseconds(50));
    for (const auto& [i, n] : calls) CHECK(n == 1);
    CHECK(refused_calls == 0);
  }

  SECTION("an observer removed is not called again") {
    t.unobserve_connection(observer);
    rig.up();
    REQUIRE(rig.pump([&] { return t.connected(); }, kWait));
    rig.pump([] { return false; }, milliseconds(50));
    CHECK(ups.empty());
  }

  CHECK_FALSE(off_loop);
}

}  // namespace labgate::testing
