// Built with -fno-exceptions -fno-rtti and linked without libstdc++: proves the firmware headers
// and archive work in that environment. Exit status 0 means a short scenario behaved.
#include "labgate/firmware/door_controller.hpp"
#include "labgate/firmware/machine_interlock.hpp"

int main() {
  using labgate::firmware::Millis;
  labgate::firmware::DoorController door{labgate::firmware::DoorConfig{}};
  const bool door_ok =
      door.grant(Millis{0}).strike_release && !door.tick(Millis{5000}).strike_release;

  labgate::firmware::MachineInterlock machine{labgate::firmware::MachineConfig{}};
  machine.staff_confirm(Millis{0});
  const bool machine_ok =
      machine.grant(1, Millis{0}).relay && !machine.fire_alarm(true, Millis{1}).relay;
  return door_ok && machine_ok ? 0 : 1;
}
