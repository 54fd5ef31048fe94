#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "labgate/gateway/mqtt/discovery.hpp"
#include "labgate/gateway/mqtt/payloads.hpp"
#include "labgate/gateway/mqtt/topics.hpp"

using namespace labgate::gateway::mqtt;
using nlohmann::json;

TEST_CASE("topic segments are validated", "[unit][topics]") {
  CHECK(valid_topic_segment("fablab"));
  CHECK(valid_topic_segment("gw-1.entrance_2"));
  CHECK_FALSE(valid_topic_segment(""));
  CHECK_FALSE(valid_topic_segment("a/b"));
  CHECK_FALSE(valid_topic_segment("a+"));
  CHECK_FALSE(valid_topic_segment("#"));
  CHECK_FALSE(valid_topic_segment("caf\xc3\xa9"));
  CHECK(valid_topic_segment(std::string(64, 'a')));
  CHECK_FALSE(valid_topic_segment(std::string(65, 'a')));
  CHECK_THROWS_AS(Topics("fab/lab", "gw"), std::invalid_argument);
  CHECK_THROWS_AS(Topics("fablab", ""), std::invalid_argument);
}

TEST_CASE("topics follow DESIGN section 4", "[unit][topics]") {
  const Topics t("fablab", "gw1");
  CHECK(t.root() == "labgate/v1/fablab/gw1/");
  CHECK(t.status() == "labgate/v1/fablab/gw1/status");
  CHECK(t.door_state("front") == "labgate/v1/fablab/gw1/door/front/state");
  CHECK(t.door_event("front") == "labgate/v1/fablab/gw1/door/front/event");
  CHECK(t.machine_state("laser") == "labgate/v1/fablab/gw1/machine/laser/state");
  CHECK(t.machine_session("laser") == "labgate/v1/fablab/gw1/machine/laser/session");
  CHECK(t.alarm() == "labgate/v1/fablab/gw1/alarm");
  CHECK(t.command("door_unlock") == "labgate/v1/fablab/gw1/cmd/door_unlock");
  CHECK(t.command_filter() == "labgate/v1/fablab/gw1/cmd/+");
  CHECK(t.reply("r1") == "labgate/v1/fablab/gw1/reply/r1");
}

TEST_CASE("topic filters match as MQTT 3.1.1 says", "[unit][topics]") {
  CHECK(topic_matches("a/b", "a/b"));
  CHECK_FALSE(topic_matches("a/b", "a/c"));
  CHECK_FALSE(topic_matches("a/b", "a/b/c"));
  CHECK_FALSE(topic_matches("a/b/c", "a/b"));
  CHECK(topic_matches("a/+/c", "a/x/c"));
  CHECK_FALSE(topic_matches("a/+/c", "a/x/y/c"));
  CHECK(topic_matches("a/+", "a/"));
  CHECK(topic_matches("a/#", "a"));
  CHECK(topic_matches("a/#", "a/b/c"));
  CHECK(topic_matches("#", "a/b"));
  CHECK_FALSE(topic_matches("#", "$SYS/x"));
  CHECK(topic_matches("$SYS/#", "$SYS/x"));
  CHECK(topic_matches("+/+", "/x"));
  CHECK(topic_matches("labgate/v1/s/g/cmd/+", "labgate/v1/s/g/cmd/door_unlock"));
  CHECK_FALSE(topic_matches("labgate/v1/s/g/cmd/+", "labgate/v1/s/g/cmd/a/b"));
}

TEST_CASE("ISO-8601 UTC time has millisecond precision", "[unit][payloads]") {
  using namespace std::chrono;
  const system_clock::time_point tp{milliseconds(1714532645678)};
  CHECK(iso8601_utc(tp) == "2024-05-01T03:04:05.678Z");
  CHECK(iso8601_utc(system_clock::time_point{}) == "1970-01-01T00:00:00.000Z");
  const system_clock::time_point leap{milliseconds(951782400000 + 999)};  // 2000-02-29
  CHECK(iso8601_utc(leap) == "2000-02-29T00:00:00.999Z");
}

TEST_CASE("event ids are 128-bit random hex", "[unit][payloads]") {
  const auto a = new_event_id();
  const auto b = new_event_id();
  CHECK(a.size() == 32);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
}

TEST_CASE("event payloads carry id, seq, time and their fields", "[unit][payloads]") {
  using namespace std::chrono;
  const Topics t("fablab", "gw1");
  const EventHeader h{"00112233445566778899aabbccddeeff", 42,
                      system_clock::time_point{milliseconds(1714532645678)}};

  SECTION("door event") {
    const auto m =
        door_event_message(t, h, DoorEvent{"front", "granted", "m-17", "abcd", "r1", ""});
    CHECK(m.topic == "labgate/v1/fablab/gw1/door/front/event");
    CHECK_FALSE(m.retain);
    const auto j = json::parse(m.payload);
    CHECK(j["event_id"] == h.event_id);
    CHECK(j["seq"] == 42);
    CHECK(j["time"] == "2024-05-01T03:04:05.678Z");
    CHECK(j["site"] == "fablab");
    CHECK(j["gateway"] == "gw1");
    CHECK(j["door"] == "front");
    CHECK(j["kind"] == "granted");
    CHECK(j["member"] == "m-17");
    CHECK(j["credential"] == "abcd");
    CHECK_FALSE(j.contains("reason"));
    CHECK(m.payload.rfind("{\"event_id\":", 0) == 0);  // header first, for humans reading logs
  }
  SECTION("machine session end") {
    MachineSession s;
    s.machine = "laser";
    s.session_id = "s-9";
    s.member = "m-17";
    s.phase = "end";
    s.started = system_clock::time_point{milliseconds(1714532645000)};
    s.ended = s.started + seconds(600);
    s.end_reason = "tap_off";
    s.measured_seconds = 600;
    const auto m = machine_session_message(t, h, s);
    CHECK(m.topic == "labgate/v1/fablab/gw1/machine/laser/session");
    CHECK_FALSE(m.retain);
    const auto j = json::parse(m.payload);
    CHECK(j["started"] == "2024-05-01T03:04:05.000Z");
    CHECK(j["ended"] == "2024-05-01T03:14:05.000Z");
    CHECK(j["end_reason"] == "tap_off");
    CHECK(j["measured_seconds"] == 600);
  }
  SECTION("states are retained") {
    const auto d = door_state_message(t, h, DoorState{"front", "locked", "closed", "normal"});
    CHECK(d.retain);
    CHECK(d.topic == "labgate/v1/fablab/gw1/door/front/state");
    CHECK(json::parse(d.payload)["lock"] == "locked");
    const auto m = machine_state_message(t, h, MachineState{"laser", "idle", false, "", ""});
    CHECK(m.retain);
    const auto j = json::parse(m.payload);
    CHECK(j["state"] == "idle");
    CHECK(j["powered"] == false);
    CHECK(j["user"].is_null());
  }
  SECTION("alarm, and invalid UTF-8 does not throw") {
    const auto m = alarm_message(t, h, Alarm{"forced_open", "critical", "front", "bad \xff byte"});
    CHECK(m.topic == "labgate/v1/fablab/gw1/alarm");
    CHECK_FALSE(m.retain);
    const auto j = json::parse(m.payload);
    CHECK(j["kind"] == "forced_open");
    CHECK(j["severity"] == "critical");
  }
}

TEST_CASE("Home Assistant discovery messages", "[unit][discovery]") {
  const Topics t("fab-lab", "gw.1");
  const DiscoveryContext ctx{"homeassistant", "0.1.0"};
  CHECK(discovery_node_id(t) == "labgate_fab-lab_gw_1");

  const auto lock = ha_door_lock(t, ctx, "front", "Front door");
  CHECK(lock.topic == "homeassistant/lock/labgate_fab-lab_gw_1/door_front/config");
  CHECK(lock.retain);
  auto j = json::parse(lock.payload);
  CHECK(j["state_topic"] == t.door_state("front"));
  CHECK(j["value_template"] == "{{ value_json.lock }}");
  CHECK(j["state_locked"] == "locked");
  CHECK(j["availability_topic"] == t.status());
  CHECK(j["unique_id"] == "labgate_fab-lab_gw_1_door_front");
  CHECK(j["device"]["identifiers"][0] == "labgate_fab-lab_gw_1");
  CHECK(j["command_topic"].get<std::string>().rfind(t.root() + "ha/", 0) == 0);

  const auto sw = ha_machine_switch(t, ctx, "laser", "Laser cutter");
  CHECK(sw.topic == "homeassistant/switch/labgate_fab-lab_gw_1/machine_laser/config");
  j = json::parse(sw.payload);
  CHECK(j["state_topic"] == t.machine_state("laser"));
  CHECK_FALSE(j.contains("command_topic"));

  const auto user = ha_machine_user_sensor(t, ctx, "laser", "Laser cutter");
  CHECK(user.topic == "homeassistant/sensor/labgate_fab-lab_gw_1/machine_laser_user/config");
  CHECK(json::parse(user.payload)["name"] == "Laser cutter user");

  const auto conn = ha_gateway_connectivity(t, ctx);
  CHECK(conn.topic == "homeassistant/binary_sensor/labgate_fab-lab_gw_1/connectivity/config");
  j = json::parse(conn.payload);
  CHECK(j["device_class"] == "connectivity");
  CHECK(j["state_topic"] == t.status());
  CHECK(j["payload_on"] == "online");
  CHECK(j["payload_off"] == "offline");
  CHECK_FALSE(j.contains("availability_topic"));
}
