#pragma once
// Home Assistant MQTT discovery (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery).
// Pure builders; publish each result retained (retain is set) once per connect.
//
// Topics: `<prefix>/<component>/labgate_<site>_<gateway>/<object>/config`. Entities read the
// gateway's retained state topics and use `<root>status` for availability. Home Assistant cannot
// sign commands, so entities are read-only: the lock's (mandatory) command topic is
// `<root>ha/door/<id>/set`, which the gateway does not subscribe to.

#include <string>
#include <string_view>

#include "labgate/gateway/mqtt/payloads.hpp"
#include "labgate/gateway/mqtt/topics.hpp"

namespace labgate::gateway::mqtt {

/// Naming shared by all discovery messages of a gateway.
struct DiscoveryContext {
  std::string prefix{"homeassistant"};  ///< Home Assistant's discovery prefix
  std::string sw_version;               ///< shown on the device page
};

/// Node id of the gateway's device: "labgate_<site>_<gateway>" with '.' mapped to '_' (the
/// broker ACL grants `homeassistant/+/labgate_<site>_%u/#`, so prefer gateway ids without '.').
std::string discovery_node_id(const Topics& topics);

/// `<prefix>/lock/<node>/door_<id>/config`: a door as a lock (state from door state "lock").
OutboxMessage ha_door_lock(const Topics& topics, const DiscoveryContext& ctx,
                           std::string_view door_id, std::string_view door_name);

/// `<prefix>/switch/<node>/machine_<id>/config`: a machine's power as a switch (read-only).
OutboxMessage ha_machine_switch(const Topics& topics, const DiscoveryContext& ctx,
                                std::string_view machine_id, std::string_view machine_name);

/// `<prefix>/sensor/<node>/machine_<id>_user/config`: who is using the machine.
OutboxMessage ha_machine_user_sensor(const Topics& topics, const DiscoveryContext& ctx,
                                     std::string_view machine_id, std::string_view machine_name);

/// `<prefix>/binary_sensor/<node>/connectivity/config`: the gateway's connectivity
/// (from the retained `<root>status` and its last will).
OutboxMessage ha_gateway_connectivity(const Topics& topics, const DiscoveryContext& ctx);

}  // namespace labgate::gateway::mqtt
