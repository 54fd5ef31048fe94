#pragma once
// The configured devices, made once at start: simulated ones on the control socket's hub, GPIO
// lines, and smart plugs through the MQTT module.

#include <memory>

#include "labgate/drivers/devices.hpp"
#include "labgate/drivers/sim/sim_hub.hpp"
#include "labgate/gateway/app/mqtt_bridge.hpp"
#include "labgate/gateway/config/site_config.hpp"

namespace labgate::gateway::app {

/// The output `spec` names. Throws std::runtime_error for a smart plug without the MQTT module
/// (`mqtt` null). A GPIO line that cannot be opened is logged and returned (it reports the
/// failure on every set).
std::shared_ptr<drivers::Output> make_output(const config::DeviceSpec& spec,
                                             drivers::sim::SimHub& hub, MqttBridge* mqtt);

/// The input `spec` names, of `kind`. Throws std::runtime_error for an unsupported device.
std::shared_ptr<drivers::Input> make_input(const config::DeviceSpec& spec, drivers::InputKind kind,
                                           drivers::sim::SimHub& hub);

/// Declares every device the daemon drives for real under its simulated name ("<owner>.<role>"),
/// so a simulated-device command aimed at it is refused with the reason instead of "unknown".
void declare_hardware_devices(const config::SiteConfig& cfg, drivers::sim::SimHub& hub);

}  // namespace labgate::gateway::app
