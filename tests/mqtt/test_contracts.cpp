// Contracts on the MQTT side: the MqttTransport contract against the in-memory transport and
// against MqttLink on a real mosquitto, and the output contract against SmartPlugOutput through
// that broker, with a plug played by mosquitto_sub/mosquitto_pub on its own topics.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "broker.hpp"
#include "contracts.hpp"
#include "fake_transport.hpp"
#include "labgate/gateway/mqtt/link.hpp"
#include "labgate/gateway/mqtt/smart_plug.hpp"
#include "transport_contract.hpp"

namespace mq = labgate::gateway::mqtt;
using labgate::drivers::IoResult;
using labgate::testing::FakeTransport;
using labgate::testing::MosquittoBroker;
using labgate::testing::PlugPlayer;
using labgate::testing::Subscriber;
using namespace std::chrono_literals;

namespace {

// Runs `io` on this thread until `until` holds or `limit` passes; the last value of `until`.
bool run_loop(boost::asio::io_context& io, const std::function<bool()>& until,
              std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!until()) {
    if (std::chrono::steady_clock::now() >= deadline) return until();
    io.restart();
    io.run_for(5ms);
  }
  return true;
}

// The in-memory transport: the test is the broker, so "up", "down" and acknowledgements are
// immediate and every handler runs on this thread.
class FakeTransportRig {
 public:
  static constexpr std::chrono::milliseconds kWait{100};

  explicit FakeTransportRig(const std::string&) {}
  mq::MqttTransport& transport() { return fake_; }
  void up() {
    if (!fake_.connected()) fake_.connect();
  }
  void down() { fake_.disconnect(); }
  bool pump(const std::function<bool()>& until, std::chrono::milliseconds) { return until(); }
  void settle() { fake_.ack_all(); }
  void inject(const std::string& topic, const std::string& payload) {
    fake_.deliver(topic, payload);
  }
  std::vector<std::pair<std::string, std::string>> received() {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& p : fake_.log()) {
      if (p.resolved) out.emplace_back(p.topic, p.payload);
    }
    return out;
  }

 private:
  FakeTransport fake_;
};

mq::LinkConfig contract_link_config(const MosquittoBroker& broker, const std::string& gateway) {
  mq::LinkConfig c;
  c.server_uri = broker.uri();
  c.site = "contract";
  c.gateway = gateway;
  c.first_connect_retry_min = 100ms;
  c.first_connect_retry_max = 500ms;
  c.reconnect_min = 100ms;
  c.reconnect_max = 500ms;
  return c;
}

// An MqttLink and the loop it runs on, on a mosquitto of its own (a free loopback port). The
// link is stopped, and the loop run for its last callbacks, before the rest goes.
struct LinkOnBroker {
  explicit LinkOnBroker(const std::string& gateway)
      : link(io, contract_link_config(broker, gateway)) {}
  ~LinkOnBroker() {
    link.stop();
    run_loop(
        io, [] { return false; }, 200ms);
  }
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{
      boost::asio::make_work_guard(io)};
  MosquittoBroker broker;
  mq::MqttLink link;
};

// MqttLink on a real mosquitto (a free loopback port), watched by a mosquitto_sub on
// "contract/#". down() stops the broker; up() starts it (on the same port) and the link.
class LinkTransportRig {
 public:
  static constexpr std::chrono::milliseconds kWait{15000};

  explicit LinkTransportRig(const std::string& name) : net_(name) {}
  mq::MqttTransport& transport() { return net_.link; }
  void up() {
    if (!net_.broker.running()) {
      net_.broker.start();
      if (!watcher_) {
        Subscriber::Options o;
        o.client_id = "contract-watcher";
        watcher_ =
            std::make_unique<Subscriber>(net_.broker, std::vector<std::string>{"contract/#"}, o);
        watcher_->wait_ready();
      }
    }
    if (!started_) {
      started_ = true;
      net_.link.start();
    }
  }
  void down() { net_.broker.stop(); }
  bool pump(const std::function<bool()>& until, std::chrono::milliseconds limit) {
    return run_loop(net_.io, until, limit);
  }
  void settle() {}
  void inject(const std::string& topic, const std::string& payload) {
    labgate::testing::publish_with_tool(net_.broker, topic, payload);
  }
  std::vector<std::pair<std::string, std::string>> received() {
    return watcher_ ? watcher_->messages() : std::vector<std::pair<std::string, std::string>>{};
  }

 private:
  LinkOnBroker net_;
  std::unique_ptr<Subscriber> watcher_;
  bool started_{false};
};

// A Tasmota plug behind the real broker: SmartPlugOutput on an MqttLink, and the plug played by
// PlugPlayer, which reports each command it gets on the state topic (unless it is silenced).
class PlugRig {
 public:
  explicit PlugRig(const std::string& id, std::chrono::milliseconds confirm_timeout = 3000ms)
      : net_("plug-" + id) {
    net_.broker.start();
    net_.link.start();
    if (!run_loop(
            net_.io, [&] { return net_.link.connected(); }, 15s)) {
      throw std::runtime_error("link never connected:\n" + net_.broker.log());
    }
    mq::SmartPlugCallbacks cb;
    cb.confirmed = [this](const std::string&, bool on) { confirmed.push_back(on); };
    cb.timed_out = [this](const std::string&, bool on) { timed_out.push_back(on); };
    cb.mismatch = [this](const std::string&, bool on) { mismatch.push_back(on); };
    plug_ = std::make_unique<mq::SmartPlugOutput>(
        net_.io, net_.link,
        mq::SmartPlugConfig{id, "plug-" + id, mq::PlugProtocol::kTasmota, confirm_timeout}, cb);
    player_ = std::make_unique<PlugPlayer>(net_.broker, plug_->command_topic(),
                                           plug_->state_topic(), true);
    // The output's own subscription to the state topic must be in place before the contract
    // runs: an unasked report reaches it once it is (and, before any set(), changes nothing).
    if (!run_loop(
            net_.io,
            [&] {
              player_->report("OFF");
              return run_loop(
                  net_.io, [&] { return plug_->reported().has_value(); }, 300ms);
            },
            15s)) {
      throw std::runtime_error("the plug's state never reached the output");
    }
  }

  labgate::drivers::Output& output() { return *plug_; }
  mq::SmartPlugOutput& plug() { return *plug_; }
  PlugPlayer& player() { return *player_; }
  bool run(const std::function<bool()>& until, std::chrono::milliseconds limit) {
    return run_loop(net_.io, until, limit);
  }

  // The plug's relay: the last command it switched to (the probes of the rig left out).
  bool level() {
    const auto cmds = player_->commands();
    return !cmds.empty() && cmds.back() == "ON";
  }
  // set(on) until kDone, then until the plug has had every command sent so far (they travel
  // through the broker and a polling process) and its report of the last one came back.
  bool settle(bool on) {
    const bool done = run_loop(
        net_.io, [&] { return plug_->set(on) == IoResult::kDone; }, 10s);
    const std::string want = on ? "ON" : "OFF";
    return done && run_loop(
                       net_.io,
                       [&] {
                         const auto cmds = player_->commands();
                         return !cmds.empty() && cmds.back() == want && plug_->reported() == on;
                       },
                       10s);
  }

  std::vector<bool> confirmed;
  std::vector<bool> timed_out;
  std::vector<bool> mismatch;

 private:
  LinkOnBroker net_;
  std::unique_ptr<mq::SmartPlugOutput> plug_;
  std::unique_ptr<PlugPlayer> player_;
};

}  // namespace

TEMPLATE_TEST_CASE("MqttTransport contract, in memory", "[unit][contract]", FakeTransportRig) {
  labgate::testing::check_transport_contract<TestType>();
}

TEMPLATE_TEST_CASE("MqttTransport contract, MqttLink on mosquitto", "[broker][contract]",
                   LinkTransportRig) {
  labgate::testing::check_transport_contract<TestType>();
}

TEMPLATE_TEST_CASE("Output contract, smart plug through mosquitto", "[broker][contract]", PlugRig) {
  labgate::testing::check_output_contract<TestType>();
}

// What the Output interface promises a remote actuator beyond the common contract: kRetry until
// the device confirms, a silent device reported once and commanded again on the next set(), and
// a state the device takes unasked reported as a mismatch.
TEST_CASE("Output contract, smart plug: confirmation, silence and mismatch", "[broker][contract]") {
  PlugRig rig("relay-2", 600ms);
  auto& plug = rig.plug();

  CHECK(plug.set(true) == IoResult::kRetry);  // sent, not yet confirmed
  CHECK(plug.commanded());
  CHECK(plug.pending());
  REQUIRE(rig.run([&] { return !rig.confirmed.empty(); }, 10s));
  CHECK(rig.confirmed == std::vector<bool>{true});
  CHECK(plug.set(true) == IoResult::kDone);
  CHECK(rig.player().commands() ==
        std::vector<std::string>{"ON"});  // one command, not one per call

  // The plug drops off: OFF is sent, never confirmed, reported once as timed out.
  rig.player().set_answers(false);
  CHECK(plug.set(false) == IoResult::kRetry);
  REQUIRE(rig.run([&] { return !rig.timed_out.empty(); }, 10s));
  CHECK(rig.timed_out == std::vector<bool>{false});
  rig.run([] { return false; }, 900ms);  // longer than the timeout: no second report
  CHECK(rig.timed_out.size() == 1);
  CHECK_FALSE(plug.commanded());
  // The next set() commands it again; back on the network, the plug confirms.
  rig.player().set_answers(true);
  CHECK(plug.set(false) == IoResult::kRetry);
  REQUIRE(rig.run([&] { return rig.confirmed.size() == 2; }, 10s));
  CHECK(rig.confirmed == std::vector<bool>{true, false});
  CHECK(rig.player().commands() == std::vector<std::string>{"ON", "OFF", "OFF"});
  CHECK(plug.set(false) == IoResult::kDone);
  CHECK(rig.mismatch.empty());

  // Someone presses the plug's button: it reports ON unasked.
  REQUIRE(rig.player().report("ON"));
  REQUIRE(rig.run([&] { return !rig.mismatch.empty(); }, 10s));
  CHECK(rig.mismatch == std::vector<bool>{true});
  // No longer confirmed: set() commands OFF again and waits for the plug.
  CHECK(plug.set(false) == IoResult::kRetry);
  REQUIRE(rig.run([&] { return rig.confirmed.size() == 3; }, 10s));
  CHECK(rig.confirmed.back() == false);
  CHECK(rig.player().commands().back() == "OFF");
}
