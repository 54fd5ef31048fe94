#pragma once
// The simulated-device control socket's staff and clock verbs (tests and the demo; staff tools
// use the admin channel). The device verbs themselves belong to the SimHub.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "labgate/drivers/sim/sim_hub.hpp"
#include "labgate/gateway/app/clock.hpp"
#include "labgate/gateway/app/enrollment.hpp"
#include "labgate/gateway/app/readers.hpp"
#include "labgate/gateway/app/site.hpp"

namespace labgate::gateway::app {

/// What the verbs act on, owned by the application; each must outlive the hub's commands.
struct ControlWiring {
  drivers::sim::SimHub& hub;
  const std::unique_ptr<Site>& site;  ///< null while the store is unavailable
  Clock& clock;
  /// Moves a simulated clock forward (in steps, ticking the site); empty on the system clock.
  std::function<void(std::chrono::milliseconds)> advance;
  std::string time_zone;
  Enrollments& enrollments;
  ReadLedger& read_ledger;
};

/// Registers status, clock, confirm, lockout, release, unlock, enroll, enroll-status,
/// read-result and all-stop on the hub.
void add_control_commands(const ControlWiring& w);

}  // namespace labgate::gateway::app
