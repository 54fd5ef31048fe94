#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "fake_transport.hpp"
#include "labgate/gateway/mqtt/smart_plug.hpp"

using namespace labgate::gateway::mqtt;
using labgate::drivers::IoResult;
using labgate::testing::FakeTransport;
using namespace std::chrono_literals;

TEST_CASE("smart plug topics per protocol", "[unit][plug]") {
  boost::asio::io_context io;
  FakeTransport link;
  SmartPlugOutput shelly(io, link,
                         SmartPlugConfig{"laser", "shelly1-ABC", PlugProtocol::kShellyGen1});
  CHECK(shelly.command_topic() == "shellies/shelly1-ABC/relay/0/command");
  CHECK(shelly.state_topic() == "shellies/shelly1-ABC/relay/0");
  SmartPlugOutput tasmota(io, link, SmartPlugConfig{"drill", "tasmota_1", PlugProtocol::kTasmota});
  CHECK(tasmota.command_topic() == "cmnd/tasmota_1/POWER");
  CHECK(tasmota.state_topic() == "stat/tasmota_1/POWER");
  CHECK(tasmota.id() == "drill");
  CHECK_THROWS_AS(SmartPlugOutput(io, link, SmartPlugConfig{"x", "bad/id", PlugProtocol::kTasmota}),
                  std::invalid_argument);
}

TEST_CASE("set() reports kRetry until the plug confirms", "[unit][plug]") {
  boost::asio::io_context io;
  FakeTransport link;
  link.connect();
  std::vector<std::pair<std::string, bool>> confirmed;
  SmartPlugCallbacks cb;
  cb.confirmed = [&](const std::string& id, bool on) { confirmed.emplace_back(id, on); };
  int mismatches = 0;
  cb.mismatch = [&](const std::string&, bool) { ++mismatches; };
  SmartPlugOutput plug(io, link, SmartPlugConfig{"laser", "shelly1-ABC", PlugProtocol::kShellyGen1},
                       cb);

  CHECK(plug.set(true) == IoResult::kRetry);
  REQUIRE(link.log().size() == 1);
  CHECK(link.log()[0].topic == "shellies/shelly1-ABC/relay/0/command");
  CHECK(link.log()[0].payload == "on");
  CHECK_FALSE(link.log()[0].retain);
  CHECK(plug.commanded());
  CHECK(plug.pending());
  CHECK(plug.set(true) == IoResult::kRetry);
  CHECK(link.log().size() == 1);  // no second command while waiting

  link.deliver("shellies/shelly1-ABC/relay/0", "off");  // old state: not a confirmation
  CHECK(plug.set(true) == IoResult::kRetry);
  CHECK(mismatches == 0);
  link.deliver("shellies/shelly1-ABC/relay/0", "on");
  CHECK(confirmed == std::vector<std::pair<std::string, bool>>{{"laser", true}});
  CHECK(plug.set(true) == IoResult::kDone);
  CHECK(plug.reported() == true);

  // Someone switches it off by hand.
  link.deliver("shellies/shelly1-ABC/relay/0", "off");
  CHECK(mismatches == 1);
  CHECK(plug.set(true) == IoResult::kRetry);  // re-commanded
  CHECK(link.log().size() == 2);

  CHECK(plug.set(false) == IoResult::kRetry);
  CHECK(link.log().back().payload == "off");
  // The plug answers the re-sent "on" first, then the "off".
  link.deliver("shellies/shelly1-ABC/relay/0", "on");
  CHECK(plug.set(false) == IoResult::kRetry);
  link.deliver("shellies/shelly1-ABC/relay/0", "off");
  CHECK(plug.set(false) == IoResult::kDone);
}

TEST_CASE("a missing confirmation is reported once, at the timeout", "[unit][plug]") {
  boost::asio::io_context io;
  FakeTransport link;  // never connected: the command cannot even be sent
  std::vector<bool> timeouts;
  SmartPlugCallbacks cb;
  cb.timed_out = [&](const std::string& id, bool wanted) {
    CHECK(id == "drill");
    timeouts.push_back(wanted);
  };
  SmartPlugOutput plug(io, link, SmartPlugConfig{"drill", "t1", PlugProtocol::kTasmota, 200ms}, cb);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(plug.set(true) == IoResult::kRetry);
  io.run_for(120ms);
  CHECK(timeouts.empty());
  while (timeouts.empty() && std::chrono::steady_clock::now() - t0 < 2s) {
    io.restart();
    io.run_for(10ms);
  }
  REQUIRE(timeouts == std::vector<bool>{true});
  CHECK(std::chrono::steady_clock::now() - t0 >= 200ms);
  CHECK_FALSE(plug.pending());
  CHECK(plug.set(true) == IoResult::kRetry);  // tries again
  CHECK(plug.pending());
}

TEST_CASE("answers to superseded commands neither confirm nor contradict the latest",
          "[unit][plug]") {
  boost::asio::io_context io;
  FakeTransport link;
  link.connect();
  std::vector<bool> confirmed;
  int mismatches = 0;
  SmartPlugCallbacks cb;
  cb.confirmed = [&](const std::string&, bool on) { confirmed.push_back(on); };
  cb.mismatch = [&](const std::string&, bool) { ++mismatches; };
  const std::string state = "stat/t1/POWER";
  SmartPlugOutput plug(io, link, SmartPlugConfig{"drill", "t1", PlugProtocol::kTasmota, 5s}, cb);
  CHECK(plug.set(true) == IoResult::kRetry);
  link.deliver(state, "ON");
  REQUIRE(confirmed == std::vector<bool>{true});

  // off, on, off before the plug answers: its answers come in the order of the commands.
  CHECK(plug.set(false) == IoResult::kRetry);
  CHECK(plug.set(true) == IoResult::kRetry);
  CHECK(plug.set(false) == IoResult::kRetry);
  REQUIRE(link.log().size() == 4);
  link.deliver(state, "OFF");  // answers the first off
  CHECK(plug.set(false) == IoResult::kRetry);
  link.deliver(state, "ON");  // answers the on
  CHECK(mismatches == 0);
  CHECK(plug.set(false) == IoResult::kRetry);
  link.deliver(state, "OFF");  // answers the last off
  CHECK(plug.set(false) == IoResult::kDone);
  CHECK(confirmed == std::vector<bool>{true, false});
  CHECK(mismatches == 0);
}

TEST_CASE("one report for several quick commands confirms the latest at the timeout",
          "[unit][plug]") {
  boost::asio::io_context io;
  FakeTransport link;
  link.connect();
  std::vector<bool> confirmed;
  std::vector<bool> timeouts;
  SmartPlugCallbacks cb;
  cb.confirmed = [&](const std::string&, bool on) { confirmed.push_back(on); };
  cb.timed_out = [&](const std::string&, bool wanted) { timeouts.push_back(wanted); };
  SmartPlugOutput plug(io, link, SmartPlugConfig{"drill", "t1", PlugProtocol::kTasmota, 100ms}, cb);
  CHECK(plug.set(true) == IoResult::kRetry);
  CHECK(plug.set(false) == IoResult::kRetry);
  link.deliver("stat/t1/POWER", "OFF");  // the plug coalesced both commands into one report
  CHECK(confirmed.empty());
  const auto t0 = std::chrono::steady_clock::now();
  while (confirmed.empty() && timeouts.empty() && std::chrono::steady_clock::now() - t0 < 2s) {
    io.restart();
    io.run_for(10ms);
  }
  CHECK(confirmed == std::vector<bool>{false});
  CHECK(timeouts.empty());
  CHECK(plug.set(false) == IoResult::kDone);
}
