#include "device_factory.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string>

#include "labgate/drivers/gpio/gpio.hpp"

namespace labgate::gateway::app {

namespace {

drivers::gpio::LineSpec line_of(const config::DeviceSpec& spec) {
  drivers::gpio::LineSpec line;
  line.chip = spec.chip;
  line.offset = spec.line;
  line.active_low = spec.active_low;
  return line;
}

}  // namespace

std::shared_ptr<drivers::Output> make_output(const config::DeviceSpec& spec,
                                             drivers::sim::SimHub& hub, MqttBridge* mqtt) {
  switch (spec.kind) {
    case config::DeviceSpec::Kind::kSim:
      return hub.create_output(spec.id);
    case config::DeviceSpec::Kind::kGpio: {
      auto out = std::make_shared<drivers::gpio::GpioOutput>(spec.text, line_of(spec));
      if (!out->ok()) spdlog::error("output {}: {}", spec.text, out->error());
      return out;
    }
    case config::DeviceSpec::Kind::kShelly:
    case config::DeviceSpec::Kind::kTasmota:
      if (mqtt) return mqtt->make_output(spec);
      break;
  }
  throw std::runtime_error("output " + spec.text + ": smart plugs need the MQTT module");
}

std::shared_ptr<drivers::Input> make_input(const config::DeviceSpec& spec, drivers::InputKind kind,
                                           drivers::sim::SimHub& hub) {
  switch (spec.kind) {
    case config::DeviceSpec::Kind::kSim:
      return hub.create_input(spec.id, kind);
    case config::DeviceSpec::Kind::kGpio: {
      auto in = std::make_shared<drivers::gpio::GpioInput>(spec.text, line_of(spec));
      if (!in->ok()) spdlog::error("input {}: {}", spec.text, in->error());
      return in;
    }
    default:
      break;
  }
  throw std::runtime_error("input " + spec.text + ": unsupported device");
}

namespace {

void declare_hardware(drivers::sim::SimHub& hub, drivers::sim::DeviceClass cls,
                      const config::DeviceSpec& spec, const std::string& owner, const char* role) {
  if (spec.kind == config::DeviceSpec::Kind::kSim) return;
  const char* noun = cls == drivers::sim::DeviceClass::kOutput ? "output" : "input";
  const std::string what = spec.kind == config::DeviceSpec::Kind::kGpio
                               ? std::string("a gpio ") + noun + " (" + spec.text + ")"
                               : "an MQTT smart plug (" + spec.text + ")";
  hub.declare_hardware(cls, owner + "." + role, what);
}

}  // namespace

void declare_hardware_devices(const config::SiteConfig& cfg, drivers::sim::SimHub& hub) {
  using drivers::sim::DeviceClass;
  for (const auto& d : cfg.doors) {
    declare_hardware(hub, DeviceClass::kOutput, d.strike, d.id, "strike");
    if (d.contact) declare_hardware(hub, DeviceClass::kInput, *d.contact, d.id, "contact");
    if (d.exit_button)
      declare_hardware(hub, DeviceClass::kInput, *d.exit_button, d.id, "exit_button");
  }
  for (const auto& m : cfg.machines) {
    declare_hardware(hub, DeviceClass::kOutput, m.relay, m.id, "relay");
    if (m.busy) declare_hardware(hub, DeviceClass::kInput, *m.busy, m.id, "busy");
  }
  if (cfg.fire_alarm.input) {
    declare_hardware(hub, DeviceClass::kInput, *cfg.fire_alarm.input, "fire_alarm", "input");
  }
  for (const auto& r : cfg.readers) {
    if (!r.simulated && !r.desk) {
      hub.declare_hardware(DeviceClass::kReader, r.id, "a hardware reader (" + r.device + ")");
    }
  }
}

}  // namespace labgate::gateway::app
