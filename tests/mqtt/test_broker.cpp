// Against the real mosquitto: outage, first connect with the broker down, smart plugs, the ACL,
// and a command signed by labgate-mqtt-sign and sent with mosquitto_pub.

#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "broker.hpp"
#include "fake_transport.hpp"
#include "labgate/gateway/mqtt/command_router.hpp"
#include "labgate/gateway/mqtt/link.hpp"
#include "labgate/gateway/mqtt/outbox_drainer.hpp"
#include "labgate/gateway/mqtt/smart_plug.hpp"

using namespace labgate::gateway::mqtt;
using namespace labgate::testing;
using namespace std::chrono_literals;
using labgate::drivers::IoResult;

namespace {

const std::string kEventTopic = "labgate/v1/fablab/gw1/door/front/event";

// Drives the loop until `pred` holds (bounded).
bool run_until(boost::asio::io_context& io, const std::function<bool()>& pred,
               std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.restart();
    io.run_for(10ms);
  }
  return true;
}

void run_for(boost::asio::io_context& io, std::chrono::milliseconds d) {
  io.restart();
  io.run_for(d);
}

LinkConfig link_config(const MosquittoBroker& broker, const std::string& gateway = "gw1") {
  LinkConfig c;
  c.server_uri = broker.uri();
  c.site = "fablab";
  c.gateway = gateway;
  return c;
}

// First occurrence of each row id, in arrival order.
std::vector<std::int64_t> first_occurrences(const Subscriber& sub, const std::string& topic) {
  std::vector<std::int64_t> out;
  std::set<std::int64_t> seen;
  for (const auto& [t, payload] : sub.messages()) {
    if (t != topic) continue;
    const auto j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded()) continue;
    const auto seq = j["seq"].get<std::int64_t>();
    if (seen.insert(seq).second) out.push_back(seq);
  }
  return out;
}

std::vector<std::int64_t> iota(std::int64_t n) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

// Stops the broker mid-load and checks what a consumer sees after it returns. `max_inflight`
// is Paho's own limit: far below the drainer window, most accepted publishes wait inside Paho
// when the connection drops, which is where a stale publish could overtake the re-sent rows.
void outage_mid_load(int max_inflight, const std::string& observer) {
  MosquittoBroker broker;
  broker.start();
  Subscriber sub(broker, {"labgate/v1/fablab/gw1/door/#"}, {observer, true, "", "", ""});
  sub.wait_ready();

  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  LinkConfig config = link_config(broker);
  config.max_inflight = max_inflight;
  MqttLink link(io, config);
  FakeOutbox outbox;
  OutboxDrainer drainer(io, link, outbox);
  link.start();
  drainer.start();
  outbox.add(3000, kEventTopic);
  drainer.notify();

  REQUIRE(run_until(
      io, [&] { return outbox.sent_count() >= 600; }, 20s));
  broker.stop();
  REQUIRE(run_until(
      io, [&] { return !link.connected(); }, 10s));
  outbox.add(1500, kEventTopic);  // committed during the outage
  drainer.notify();
  run_for(io, 500ms);
  CHECK(outbox.sent_count() < 4500);
  broker.start();

  REQUIRE(run_until(
      io, [&] { return outbox.all_sent(); }, 40s));
  CHECK(drainer.stats().rewinds >= 1);
  CHECK(outbox.double_marks() == 0);
  CHECK(outbox.out_of_order_marks() == 0);
  const bool all =
      wait_until([&] { return first_occurrences(sub, kEventTopic).size() >= 4500; }, 30s, 50ms);
  INFO("broker log:\n" << broker.log());
  REQUIRE(all);
  CHECK(first_occurrences(sub, kEventTopic) == iota(4500));
  WARN("outage test (max_inflight " << max_inflight << "): " << sub.count()
                                    << " messages received for 4500 rows ("
                                    << drainer.stats().resent << " re-sent)");
}

}  // namespace

TEST_CASE("outbox survives a broker outage mid-load: every row once, in order", "[broker]") {
  outage_mid_load(LinkConfig{}.max_inflight, "obs-outage");
}

TEST_CASE("an outage with publishes still queued inside Paho keeps the order", "[broker]") {
  outage_mid_load(64, "obs-outage-queued");
}

TEST_CASE("first connect with the broker down: the loop keeps running, then it drains",
          "[broker]") {
  MosquittoBroker broker;
  broker.start();
  // A persistent session created now keeps queuing for the observer across the outage.
  Subscriber sub(broker, {"labgate/v1/fablab/gw1/door/#"}, {"obs-first", true, "", "", ""});
  sub.wait_ready();
  broker.stop();

  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  MqttLink link(io, link_config(broker));
  FakeOutbox outbox;
  OutboxDrainer drainer(io, link, outbox);
  constexpr std::int64_t kRows = 10'000;
  outbox.add(kRows, kEventTopic);
  link.start();
  drainer.start();

  // A 20 ms ticker measures how late the loop runs its timers while the connect fails.
  boost::asio::steady_timer ticker(io);
  auto worst = 0ms;
  std::function<void(std::chrono::steady_clock::time_point)> tick =
      [&](std::chrono::steady_clock::time_point due) {
        ticker.expires_at(due);
        ticker.async_wait([&, due](const boost::system::error_code& ec) {
          if (ec) return;
          const auto late = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - due);
          worst = std::max(worst, late);
          tick(due + 20ms);
        });
      };
  tick(std::chrono::steady_clock::now() + 20ms);
  run_for(io, 1600ms);
  ticker.cancel();
  CHECK_FALSE(link.connected());
  CHECK(link.failed_connect_attempts() >= 2);  // 0 s, 0.5 s, 1.5 s
  CHECK(worst < 500ms);  // generous: the machine may be busy; a blocking connect would take seconds
  CHECK(outbox.sent_count() == 0);

  broker.start();
  REQUIRE(run_until(
      io, [&] { return link.connected(); }, 20s));
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(run_until(
      io, [&] { return outbox.all_sent(); }, 30s));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rate = static_cast<double>(kRows) / secs;
  WARN("backlog drain after the broker came back: " << kRows << " rows in " << secs << " s = "
                                                    << static_cast<long>(rate) << " rows/s");
  // The target is 2,000 rows/s; the bound here leaves room for sanitizers and a busy machine.
  CHECK(rate > 1000.0);
  const bool all =
      wait_until([&] { return first_occurrences(sub, kEventTopic).size() >= kRows; }, 30s, 50ms);
  REQUIRE(all);
  CHECK(first_occurrences(sub, kEventTopic) == iota(kRows));
}

TEST_CASE("a smart plug confirms through its state topic", "[broker]") {
  MosquittoBroker broker;
  broker.start();
  const auto protocol = GENERATE(PlugProtocol::kTasmota, PlugProtocol::kShellyGen1);
  const std::string device = protocol == PlugProtocol::kTasmota ? "tasmota_laser" : "shelly1-laser";

  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  MqttLink link(io, link_config(broker));
  std::vector<bool> confirmed;
  std::vector<bool> timeouts;
  SmartPlugCallbacks cb;
  cb.confirmed = [&](const std::string&, bool on) { confirmed.push_back(on); };
  cb.timed_out = [&](const std::string&, bool on) { timeouts.push_back(on); };
  SmartPlugOutput plug(io, link, SmartPlugConfig{"laser", device, protocol, 3000ms}, cb);
  link.start();
  REQUIRE(run_until(
      io, [&] { return link.connected(); }, 10s));

  // The plug: a second process that echoes each command to the state topic, as the firmware does.
  TempDir plug_dir;
  Child plug_process({"sh", "-c",
                      "\"$1\" -h 127.0.0.1 -p \"$3\" -q 1 -t \"$4\" | while read -r x; do "
                      "\"$2\" -h 127.0.0.1 -p \"$3\" -q 1 -t \"$5\" -m \"$x\"; done",
                      "plug", MosquittoTools::sub(), MosquittoTools::pub(),
                      std::to_string(broker.port()), plug.command_topic(), plug.state_topic()},
                     plug_dir / "plug.log", SpawnOptions{{}, {}, true});
  // Ready once it answers a probe command (off, the safe state).
  const std::string off = protocol == PlugProtocol::kTasmota ? "OFF" : "off";
  REQUIRE(run_until(
      io,
      [&] {
        if (plug.reported()) return true;
        publish_with_tool(broker, plug.command_topic(), off);
        run_for(io, 200ms);
        return plug.reported().has_value();
      },
      10s));

  CHECK(plug.set(true) == IoResult::kRetry);
  REQUIRE(run_until(
      io, [&] { return !confirmed.empty(); }, 5s));
  CHECK(confirmed == std::vector<bool>{true});
  CHECK(plug.set(true) == IoResult::kDone);
  CHECK(plug.reported() == true);
  CHECK(plug.set(false) == IoResult::kRetry);
  REQUIRE(run_until(
      io, [&] { return confirmed.size() == 2; }, 5s));
  CHECK(plug.set(false) == IoResult::kDone);
  CHECK(timeouts.empty());
}

TEST_CASE("a smart plug that never confirms is reported after the timeout", "[broker]") {
  MosquittoBroker broker;
  broker.start();
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  MqttLink link(io, link_config(broker));
  std::vector<bool> timeouts;
  SmartPlugCallbacks cb;
  cb.timed_out = [&](const std::string&, bool on) { timeouts.push_back(on); };
  SmartPlugOutput plug(io, link, SmartPlugConfig{"drill", "ghost", PlugProtocol::kTasmota, 800ms},
                       cb);
  Subscriber sub(broker, {plug.command_topic()}, {"obs-ghost", false, "", "", ""});
  sub.wait_ready();
  link.start();
  REQUIRE(run_until(
      io, [&] { return link.connected(); }, 10s));

  const auto t0 = std::chrono::steady_clock::now();
  CHECK(plug.set(true) == IoResult::kRetry);
  REQUIRE(run_until(
      io, [&] { return !timeouts.empty(); }, 5s));
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= 800ms);
  CHECK(waited < 2s);
  CHECK(timeouts == std::vector<bool>{true});
  CHECK(plug.set(true) == IoResult::kRetry);  // never kDone without a confirmation
  // The command did reach the broker (the plug is what is missing).
  CHECK(wait_until([&] { return sub.count() >= 1; }, 5s));
  CHECK(sub.messages().at(0).second == "ON");
}

TEST_CASE("the project ACL confines each gateway to its own topics", "[broker]") {
  TempDir secrets;
  const auto passwd = (secrets.path() / "passwd").string();
  REQUIRE(
      run_command({MosquittoTools::passwd(), "-c", "-b", passwd, "gw-a", "secret-a"}).exit_code ==
      0);
  REQUIRE(run_command({MosquittoTools::passwd(), "-b", passwd, "gw-b", "secret-b"}).exit_code == 0);
  REQUIRE(run_command({MosquittoTools::passwd(), "-b", passwd, "labgate-console", "secret-c"})
              .exit_code == 0);
  MosquittoBroker broker(
      "password_file " + passwd + "\nacl_file " + std::string(LABGATE_MOSQUITTO_ACL_FILE) + "\n",
      false);
  broker.start();

  Subscriber b_sub(broker, {"labgate/v1/fablab/gw-b/cmd/#"},
                   {"obs-gw-b", false, "gw-b", "secret-b", "labgate/v1/fablab/gw-b/probe"});
  b_sub.wait_ready();
  Subscriber console(
      broker, {"labgate/v1/fablab/gw-a/#"},
      {"obs-console", false, "labgate-console", "secret-c", "labgate/v1/fablab/gw-a/cmd/probe"});
  console.wait_ready();

  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  auto cfg = link_config(broker, "gw-a");
  cfg.username = "gw-a";
  cfg.password = "secret-a";
  MqttLink a(io, cfg);
  a.start();
  REQUIRE(run_until(
      io, [&] { return a.connected(); }, 10s));

  // Its own topics: allowed.
  std::optional<bool> own_ack;
  REQUIRE(a.publish("labgate/v1/fablab/gw-a/door/front/event", "own-event", 1, false,
                    [&](bool ok) { own_ack = ok; }));
  REQUIRE(run_until(
      io, [&] { return own_ack.has_value(); }, 5s));
  CHECK(wait_until(
      [&] {
        for (auto& [t, p] : console.messages()) {
          if (p == "own-event") return true;
        }
        return false;
      },
      5s));

  // Gateway B's command topic: the broker acknowledges (MQTT 3.1.1 has no refusal) but drops it.
  std::optional<bool> forged_ack;
  REQUIRE(a.publish("labgate/v1/fablab/gw-b/cmd/door_unlock", "forged-by-a", 1, false,
                    [&](bool ok) { forged_ack = ok; }));
  REQUIRE(run_until(
      io, [&] { return forged_ack.has_value(); }, 5s));
  // A canary sent after it by the console (allowed) proves B's subscriber is listening.
  REQUIRE(publish_with_tool(broker, "labgate/v1/fablab/gw-b/cmd/canary", "canary",
                            "labgate-console", "secret-c"));
  REQUIRE(wait_until(
      [&] {
        for (auto& [t, p] : b_sub.messages()) {
          if (p == "canary") return true;
        }
        return false;
      },
      5s));
  for (auto& [t, p] : b_sub.messages()) CHECK(p != "forged-by-a");
  // And nobody gets in without credentials.
  CHECK_FALSE(publish_with_tool(broker, "labgate/v1/fablab/gw-b/cmd/door_unlock", "anon"));
}

TEST_CASE("a command signed by labgate-mqtt-sign is executed once and answered", "[broker]") {
  MosquittoBroker broker;
  broker.start();
  TempDir tmp;
  const std::string key_hex(64, 'c');
  { std::ofstream(tmp.path() / "cmd.key") << key_hex << "\n"; }
  Subscriber replies(broker, {"labgate/v1/fablab/gw1/reply/#"}, {"obs-replies", false, "", "", ""});
  replies.wait_ready();

  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  MqttLink link(io, link_config(broker));
  CommandRouter router(link, link.topics(), *parse_command_key(key_hex));
  std::vector<std::string> unlocked;
  router.on(CommandKind::kDoorUnlock, [&](const Command& c) {
    unlocked.push_back(c.target);
    return CommandOutcome::success({{"door", c.target}});
  });
  router.start();
  link.start();
  REQUIRE(run_until(
      io, [&] { return link.connected(); }, 10s));

  const auto payload_file = (tmp.path() / "cmd.json").string();
  const auto signed_cmd =
      run_command({LABGATE_MQTT_SIGN_BIN, "--key-file", (tmp.path() / "cmd.key").string(), "--site",
                   "fablab", "--gateway", "gw1", "--command", "door_unlock", "--args",
                   R"({"door":"front"})", "--id", "req-42", "--by", "staff:test"},
                  10s);
  REQUIRE(signed_cmd.exit_code == 0);
  { std::ofstream(payload_file) << signed_cmd.out; }
  // The subscription is made right after the connect; send until it has arrived.
  const auto topic = link.topics().command("door_unlock");
  REQUIRE(run_until(
      io,
      [&] {
        if (!unlocked.empty()) return true;
        run_command({MosquittoTools::pub(), "-h", "127.0.0.1", "-p", std::to_string(broker.port()),
                     "-q", "1", "-t", topic, "-f", payload_file});
        run_for(io, 200ms);
        return !unlocked.empty();
      },
      10s));
  REQUIRE(wait_until([&] { return replies.count() >= 1; }, 5s));
  auto reply = nlohmann::json::parse(replies.messages().at(0).second);
  CHECK(replies.messages().at(0).first == "labgate/v1/fablab/gw1/reply/req-42");
  CHECK(reply == nlohmann::json{{"id", "req-42"}, {"ok", true}, {"result", {{"door", "front"}}}});

  // The very same message again is a replay: refused and answered as such.
  const auto before = unlocked.size();
  REQUIRE(run_command({MosquittoTools::pub(), "-h", "127.0.0.1", "-p",
                       std::to_string(broker.port()), "-q", "1", "-t", topic, "-f", payload_file})
              .exit_code == 0);
  REQUIRE(run_until(
      io, [&] { return router.stats().rejected_by_reason.count("replayed") > 0; }, 5s));
  CHECK(unlocked.size() == before);
  REQUIRE(wait_until(
      [&] {
        for (auto& [t, p] : replies.messages()) {
          if (p.find("replayed") != std::string::npos) return true;
        }
        return false;
      },
      5s));
}
