#include "labgate/gateway/mqtt/discovery.hpp"

#include <nlohmann/json.hpp>

namespace labgate::gateway::mqtt {

namespace {

using Json = nlohmann::ordered_json;

std::string object_safe(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    // Home Assistant ids allow [a-zA-Z0-9_-]; topic segments may also hold '.'.
    if (c == '.') c = '_';
  }
  return out;
}

Json device(const Topics& topics, const DiscoveryContext& ctx) {
  Json d;
  d["identifiers"] = Json::array({discovery_node_id(topics)});
  d["name"] = "labgate " + topics.site() + "/" + topics.gateway();
  d["manufacturer"] = "labgate";
  d["model"] = "labgate gateway";
  if (!ctx.sw_version.empty()) d["sw_version"] = ctx.sw_version;
  return d;
}

Json entity(const Topics& topics, const DiscoveryContext& ctx, const std::string& object,
            std::string_view name, bool with_availability) {
  const std::string node = discovery_node_id(topics);
  Json j;
  j["name"] = std::string(name);
  j["unique_id"] = node + "_" + object;
  j["object_id"] = node + "_" + object;
  if (with_availability) {
    j["availability_topic"] = topics.status();
    j["payload_available"] = "online";
    j["payload_not_available"] = "offline";
  }
  j["device"] = device(topics, ctx);
  return j;
}

OutboxMessage message(const DiscoveryContext& ctx, const Topics& topics, const char* component,
                      const std::string& object, const Json& payload) {
  return {ctx.prefix + "/" + component + "/" + discovery_node_id(topics) + "/" + object + "/config",
          payload.dump(-1, ' ', false, Json::error_handler_t::replace), true};
}

}  // namespace

std::string discovery_node_id(const Topics& topics) {
  return "labgate_" + object_safe(topics.site()) + "_" + object_safe(topics.gateway());
}

OutboxMessage ha_door_lock(const Topics& topics, const DiscoveryContext& ctx,
                           std::string_view door_id, std::string_view door_name) {
  const std::string object = "door_" + object_safe(door_id);
  Json j = entity(topics, ctx, object, door_name, true);
  j["state_topic"] = topics.door_state(door_id);
  j["value_template"] = "{{ value_json.lock }}";
  j["state_locked"] = "locked";
  j["state_unlocked"] = "unlocked";
  j["command_topic"] = topics.root() + "ha/door/" + std::string(door_id) + "/set";
  j["optimistic"] = false;
  return message(ctx, topics, "lock", object, j);
}

OutboxMessage ha_machine_switch(const Topics& topics, const DiscoveryContext& ctx,
                                std::string_view machine_id, std::string_view machine_name) {
  const std::string object = "machine_" + object_safe(machine_id);
  Json j = entity(topics, ctx, object, machine_name, true);
  j["state_topic"] = topics.machine_state(machine_id);
  j["value_template"] = "{{ 'ON' if value_json.powered else 'OFF' }}";
  j["state_on"] = "ON";
  j["state_off"] = "OFF";
  j["icon"] = "mdi:power-plug";
  return message(ctx, topics, "switch", object, j);
}

OutboxMessage ha_machine_user_sensor(const Topics& topics, const DiscoveryContext& ctx,
                                     std::string_view machine_id, std::string_view machine_name) {
  const std::string object = "machine_" + object_safe(machine_id) + "_user";
  Json j = entity(topics, ctx, object, std::string(machine_name) + " user", true);
  j["state_topic"] = topics.machine_state(machine_id);
  j["value_template"] = "{{ value_json.user if value_json.user else 'none' }}";
  j["icon"] = "mdi:account";
  return message(ctx, topics, "sensor", object, j);
}

OutboxMessage ha_gateway_connectivity(const Topics& topics, const DiscoveryContext& ctx) {
  const std::string object = "connectivity";
  // No availability topic: this entity *is* the availability and must show "off" when offline.
  Json j = entity(topics, ctx, object, "Gateway connectivity", false);
  j["state_topic"] = topics.status();
  j["payload_on"] = "online";
  j["payload_off"] = "offline";
  j["device_class"] = "connectivity";
  return message(ctx, topics, "binary_sensor", object, j);
}

}  // namespace labgate::gateway::mqtt
