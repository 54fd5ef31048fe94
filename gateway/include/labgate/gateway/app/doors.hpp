#pragma once
// The door unit: every door of the site. It takes a looked-up card read (or a contact, an exit
// button, the fire alarm, a fault), asks the policy, hands the decision to the door's firmware
// controller, drives the strike with the controller's effects, and gives what happened to the
// journal. A granted passage at a presence door goes on to Presence.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "labgate/drivers/devices.hpp"
#include "labgate/firmware/door_controller.hpp"
#include "labgate/gateway/app/credentials.hpp"
#include "labgate/gateway/app/journal.hpp"
#include "labgate/gateway/app/site_types.hpp"

namespace labgate::gateway::app {

class Presence;

/// The doors of the site. See the file comment.
class DoorUnit {
 public:
  /// Which door a reader serves, and from which side.
  struct Route {
    std::size_t door{0};
    policy::Direction direction{policy::Direction::kEntry};
  };

  /// Builds one controller per door. Every reference must outlive the unit.
  DoorUnit(const SiteSetup& setup, store::Store& store, Clock& clock, Journal& journal,
           Presence& presence);
  ~DoorUnit();
  DoorUnit(const DoorUnit&) = delete;
  DoorUnit& operator=(const DoorUnit&) = delete;

  /// Connects a door's strike output.
  void attach_strike(const std::string& door_id, std::shared_ptr<drivers::Output> strike);
  /// The door `reader_id` serves, if any.
  std::optional<Route> route(const std::string& reader_id) const;
  /// The id of a routed door.
  const std::string& id(const Route& route) const;

  /// Records every door in the store (start-up).
  void sync_store();
  /// Drives every strike to the controller's state (start-up).
  void start();
  /// Locks every strike (clean stop).
  void stop();

  /// A card at a door reader: decides, drives the strike, records the tap (then `done`), and
  /// hands a granted passage at a presence door to Presence.
  DrivenAt tap(const Route& route, const drivers::ReaderEvent& event, const CardLookup& card,
               policy::TapContext context, TapDone done);
  /// The door's contact opened or closed.
  void contact(const std::string& door_id, bool open);
  /// The exit button of a door was pressed.
  void exit_button(const std::string& door_id);
  /// One strike pulse, staff's remote unlock. False when the door is unknown.
  bool remote_unlock(const std::string& door_id);
  /// The fire alarm changed: doors with fire release open.
  void fire_alarm(bool active);
  /// The store stopped (true) or started again (false) answering: a fault cause of every door.
  void store_fault(bool active);
  /// A reader of a door went down or came back: a fault cause of that door.
  void reader_status(const Route& route, const std::string& reader_id, bool down);

  /// Handles the deadlines that have fallen due.
  void tick();
  /// The earliest deadline of any door.
  std::optional<firmware::Millis> next_deadline() const;
  /// One line per door for `status`.
  void status_lines(std::vector<std::string>& out) const;

 private:
  struct Door;

  Door* find(const std::string& door_id);
  void apply(Door& door, const firmware::DoorEffects& fx);
  void record_effect_event(Door& door, firmware::DoorEvent ev, std::int64_t at_ms);
  void publish_state(Door& door);
  // The door is in its fail mode while any fault cause is left.
  void apply_faults(Door& door);
  // A room's door: does a booking admit the member at `at`; a locker's: does a loan.
  policy::ResourceGate resource_gate(const DoorSetup& door, std::int64_t member_id,
                                     std::chrono::system_clock::time_point at);

  store::Store& store_;
  Clock& clock_;
  Journal& journal_;
  Presence& presence_;
  std::vector<std::unique_ptr<Door>> doors_;
  policy::Calendar calendar_;
  bool store_fault_{false};
};

}  // namespace labgate::gateway::app
