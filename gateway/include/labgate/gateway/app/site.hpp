#pragma once
// The running site: every door and machine of one gateway. Site itself only routes: a reader or
// input event goes to the unit that serves it, time goes to every unit, and staff's remote
// actions go to the door or machine unit. The tap path runs one way through the units:
//
//   reader event -> Credentials (lookup, policy context) -> DoorUnit / MachineUnit (policy
//   decision, firmware controller, outputs driven) -> Journal (ordered writes, seq, payload)
//   -> outbox -> MQTT
//
// Threading: a Site lives on the daemon's event loop and every member function is called there.
// Device callbacks (reader threads, input threads) must post to the loop before calling in.
//
// The tap path keeps the relay ahead of the disk: the outputs are driven first; only then is the
// event committed together with its outbox row. A write that cannot be committed (database busy,
// full, unreadable) is kept in order in memory and retried, and the site enters its fault mode
// until the store answers again: each door in its configured fail mode, every machine off.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "labgate/drivers/devices.hpp"
#include "labgate/gateway/app/clock.hpp"
#include "labgate/gateway/app/site_types.hpp"
#include "labgate/gateway/mqtt/payloads.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::app {

class Journal;
class Credentials;
class Presence;
class DoorUnit;
class MachineUnit;

/// The doors and machines of one gateway. See the file comment.
class Site {
 public:
  /// Called once a tap's event is durable (or could not be recorded: seq 0).
  using TapDone = app::TapDone;
  /// Told, after each event the site handled, the earliest firmware deadline (monotonic clock
  /// of the site's Clock), or none: the loop arms its timer for it.
  using DeadlineListener = std::function<void(std::optional<firmware::Millis>)>;

  /// Looks at a card read before any decision; returns true when it took the card (enrollment
  /// at a reader binds the next card instead of deciding on it) and then owns `done`.
  using CardInterceptor = std::function<bool(const drivers::ReaderEvent& event, TapDone& done)>;

  /// Billing's verdict at a machine tap (see app::CreditCheck).
  using CreditCheck = app::CreditCheck;

  /// Builds the controllers. `store` and `clock` must outlive the site.
  Site(SiteSetup setup, store::Store& store, Clock& clock);
  ~Site();
  Site(const Site&) = delete;
  Site& operator=(const Site&) = delete;

  /// Connects a door's strike output.
  void attach_strike(const std::string& door_id, std::shared_ptr<drivers::Output> strike);
  /// Connects a machine's relay output. A relay that `confirms` (an MQTT smart plug) answers
  /// set(true) with kRetry and reports later, through relay_confirmed() or relay_unconfirmed(),
  /// whether it switched: a session on it is committed (session row, its event, the granted tap
  /// and its `done`) only once the relay confirms ON. Attaching again replaces the relay.
  void attach_relay(const std::string& machine_id, std::shared_ptr<drivers::Output> relay,
                    bool confirms = false);
  /// The relay of `machine_id` confirmed it is `on`. Commits a session waiting for it.
  void relay_confirmed(const std::string& machine_id, bool on);
  /// The relay of `machine_id` did not confirm `wanted` in time. Records and publishes an alarm
  /// (reason "plug_no_confirm"). For ON, a session waiting for it is not started: the tap is
  /// answered as refused (reason "plug_no_confirm"), no session row is written, and the machine
  /// returns to its safe state (relay commanded off, controller out of the session).
  void relay_unconfirmed(const std::string& machine_id, bool wanted);
  /// Routes an input id to a door contact / exit button / machine busy input / the fire alarm.
  void bind_input(const std::string& input_id, drivers::InputKind kind, const std::string& target);

  /// Start-up: syncs doors and machines into the store, closes sessions a crash left open at
  /// the last heartbeat, records the start, and drives every output to its safe state.
  void start();
  /// Clean stop: every machine relay off, every open session ended (staff), strikes locked.
  void stop();

  /// A reader reported something. `done` runs when the resulting event is durable.
  void on_reader_event(const drivers::ReaderEvent& event, TapDone done = {});
  /// An input changed.
  void on_input(const drivers::InputEvent& event);
  /// Installs billing's credit check (none: every member has credit).
  void set_credit_check(CreditCheck check);
  /// Installs the interceptor (one at a time; an empty function removes it).
  void set_card_interceptor(CardInterceptor interceptor) { interceptor_ = std::move(interceptor); }
  /// Lets time pass: controller deadlines, heartbeat, staff changes, retries, closing time.
  void tick();
  /// Publishes a retained message through the journal (ordered with the events, durable in the
  /// outbox): `build` makes the payload from the row's event header.
  void publish_retained(std::string topic,
                        std::function<std::string(const mqtt::EventHeader&)> build);
  /// Lets time pass for the controllers only (their deadline timer fired).
  void on_deadline();
  /// The earliest deadline of any door or machine controller.
  std::optional<firmware::Millis> next_deadline() const;
  /// Installs the deadline listener (one at a time).
  void set_deadline_listener(DeadlineListener listener) {
    deadline_listener_ = std::move(listener);
  }
  /// Runs once after each flush that committed writes (the MQTT bridge wakes its drainer).
  void set_commit_listener(std::function<void()> listener);
  /// Called on the loop with the seq and outbox message of each write the store committed (an event
  /// with its outbox row, a session, a state message), after the outputs were driven. Must not
  /// block.
  using CommitObserver = std::function<void(std::int64_t seq, const mqtt::OutboxMessage& message)>;
  /// Installs the commit observer (the admin channel's live stream; empty: none).
  void set_commit_observer(CommitObserver observer);

  /// Remote unlock of one door (one strike pulse). False when the door is unknown.
  bool remote_unlock(const std::string& door_id, const store::Actor& actor);
  /// Staff lockout of a machine from the gateway side (store + controller).
  bool lockout(const std::string& machine_id, const std::string& reason, const store::Actor& actor);
  /// Ends a staff lockout.
  bool release(const std::string& machine_id, const store::Actor& actor);
  /// Staff confirm a machine after start-up or check-off.
  bool confirm(const std::string& machine_id, const store::Actor& actor);
  /// Cuts every machine (remote all-stop): each is locked out until released.
  void all_stop(const store::Actor& actor);

  /// One line per door and machine: "door main locked strike=off ..." (control socket `status`).
  std::vector<std::string> status_lines() const;
  /// True while the site is in fault mode (store unavailable).
  bool faulted() const;
  /// Number of writes waiting for the store.
  std::size_t pending_writes() const;

  /// Benchmark hook: time from the card read handed to the loop until the relay or strike
  /// command was issued, for the last tap (microseconds).
  std::int64_t last_decision_micros() const { return last_decision_us_; }

 private:
  // One entry point's work: holds the journal's batch (commits after the outputs are driven)
  // and, when the outermost closes, tells the deadline listener.
  class Step;

  void handle_card(const drivers::ReaderEvent& event, TapDone done);
  void reader_status(const drivers::ReaderEvent& event);
  void fire_alarm(bool active);
  void store_fault(bool faulted);
  /// Warns when the config's rate of a room or locker is not the rate in force (the history wins).
  void warn_rate_drift();

  SiteSetup setup_;
  store::Store& store_;
  Clock& clock_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Credentials> credentials_;
  std::unique_ptr<Presence> presence_;
  std::unique_ptr<DoorUnit> doors_;
  std::unique_ptr<MachineUnit> machines_;
  std::map<std::string, std::pair<drivers::InputKind, std::string>> inputs_;
  CardInterceptor interceptor_;
  DeadlineListener deadline_listener_;
  int step_depth_{0};
  bool fire_{false};
  std::int64_t data_version_{-1};
  std::chrono::steady_clock::time_point last_poll_{};
  std::int64_t last_decision_us_{0};
};

}  // namespace labgate::gateway::app
