#pragma once
// The machine unit: every machine of the site. A looked-up card read at a machine's reader is
// decided by the policy (certification, inspection, lockout, credit), handed to the machine's
// firmware interlock, and the interlock's effects are driven (the relay) and journaled: session
// start and end with their busy time, grace, alarms, the retained state. A relay that confirms
// later (an MQTT smart plug) holds the session's records until it does.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "labgate/drivers/devices.hpp"
#include "labgate/firmware/machine_interlock.hpp"
#include "labgate/gateway/app/credentials.hpp"
#include "labgate/gateway/app/journal.hpp"
#include "labgate/gateway/app/site_types.hpp"

namespace labgate::gateway::app {

/// The machines of the site. See the file comment.
class MachineUnit {
 public:
  /// Builds one interlock per machine. Every reference must outlive the unit.
  MachineUnit(const SiteSetup& setup, store::Store& store, Clock& clock, Journal& journal);
  ~MachineUnit();
  MachineUnit(const MachineUnit&) = delete;
  MachineUnit& operator=(const MachineUnit&) = delete;

  /// Connects a machine's relay (see Site::attach_relay).
  void attach_relay(const std::string& machine_id, std::shared_ptr<drivers::Output> relay,
                    bool confirms);
  /// Installs billing's credit check (none: every member has credit).
  void set_credit_check(CreditCheck check) { credit_check_ = std::move(check); }
  /// The index of the machine `reader_id` serves, if any.
  std::optional<std::size_t> route(const std::string& reader_id) const;
  /// The id of a routed machine.
  const std::string& id(std::size_t machine) const;

  /// Records machines missing from the store (start-up).
  void sync_store();
  /// Drives every relay to the interlock's state and reads lockouts and inspections (start-up).
  void start();
  /// Every relay off and every session ended by staff (clean stop).
  void stop();

  /// A card at a machine's reader: tap-off or resume by the holder, otherwise a decision;
  /// drives the relay and journals the tap (then `done`).
  DrivenAt tap(std::size_t machine, const drivers::ReaderEvent& event, const CardLookup& card,
               policy::TapContext context, TapDone done);
  /// The card left the reader (card-stays mode).
  void card_removed(std::size_t machine);
  /// The busy input of `machine_id` changed.
  void busy(const std::string& machine_id, bool active);
  /// The fire alarm changed: every relay off; after it, staff confirm again.
  void fire_alarm(bool active);
  /// The store stopped (true) or started again (false) answering: every relay off meanwhile.
  void store_fault(bool active);
  /// The machine's reader went down or came back: down winds a session down through Grace as a
  /// card removal does, and nothing starts until it is back.
  void reader_status(std::size_t machine, bool down);

  /// The relay of `machine_id` confirmed `on` (see Site::relay_confirmed).
  void relay_confirmed(const std::string& machine_id, bool on);
  /// The relay of `machine_id` did not confirm `wanted` (see Site::relay_unconfirmed).
  void relay_unconfirmed(const std::string& machine_id, bool wanted);
  /// Staff lockout (stored, then applied). False when the machine is unknown.
  bool lockout(const std::string& machine_id, const std::string& reason, const store::Actor& actor);
  /// Ends a staff lockout; an overdue inspection still keeps the machine out of service.
  bool release(const std::string& machine_id, const store::Actor& actor);
  /// Staff confirm a machine after start-up, a fire alarm or check-off.
  bool confirm(const std::string& machine_id, const store::Actor& actor);
  /// Locks out every machine (remote all-stop).
  void all_stop(const store::Actor& actor);
  /// Re-reads lockouts and inspection dates (staff changed the store).
  void refresh();

  /// Handles the deadlines that have fallen due.
  void tick();
  /// The earliest deadline of any machine.
  std::optional<firmware::Millis> next_deadline() const;
  /// One line per machine for `status`.
  void status_lines(std::vector<std::string>& out) const;

 public:
  struct Machine;  ///< one machine's state (machine.hpp, private to the unit)

 private:
  // Why the interlock's effects are applied: the tap that caused them, if any.
  struct Cause {
    std::optional<std::string> reader_id;
    std::string member_no;     // the member granted by this tap (the session's holder)
    std::string abort_reason;  // why a session waiting for its relay is given up
  };

  Machine* find(const std::string& machine_id);
  DrivenAt holder_tap(Machine& m, const drivers::ReaderEvent& event,
                      const store::CredentialMatch& found, TapDone done);
  policy::MachineRequest request(Machine& m, const CardLookup& card, policy::TapContext context);
  // Puts the member's certification for `m` into `req`; false when the store failed.
  bool certification(Machine& m, const store::CredentialMatch& found, policy::MachineRequest& req);
  void record_tap(Machine& m, const drivers::ReaderEvent& event, const CardLookup& card,
                  TapOutcome outcome, TapDone done);
  void apply(Machine& m, const firmware::MachineEffects& fx, const Cause& cause = {});
  void session_started(Machine& m, const firmware::MachineEvent& ev, const Cause& cause);
  void session_ended(Machine& m, const firmware::MachineEvent& ev, const Cause& cause);
  void grace_started(Machine& m, const firmware::MachineEvent& ev);
  void trapped(Machine& m);
  void record_alarm(Machine& m, const firmware::MachineAlarm& alarm);
  void commit_start(Machine& m);
  void abort_start(Machine& m, const std::string& reason);
  void publish_state(Machine& m);
  void note_busy(Machine& m, bool busy, firmware::Millis now);
  std::int64_t take_busy_seconds(Machine& m, firmware::Millis from, firmware::Millis to);

  const SiteSetup& setup_;
  store::Store& store_;
  Clock& clock_;
  Journal& journal_;
  CreditCheck credit_check_;
  std::vector<std::unique_ptr<Machine>> machines_;
};

}  // namespace labgate::gateway::app
