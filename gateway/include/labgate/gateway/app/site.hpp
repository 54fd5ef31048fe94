#pragma once
// The running site: every door and machine of one gateway, the tap path from a card read to a
// relay command, and the durable record of what happened.
//
// Threading: a Site lives on the daemon's event loop and every member function is called there.
// Device callbacks (reader threads, input threads) must post to the loop before calling in.
//
// The tap path keeps the relay ahead of the disk: a card read is looked up (indexed SQLite reads),
// decided by the policy, turned into outputs by the firmware controller, and the outputs are
// driven; only then is the event committed together with its outbox row. A write that cannot be
// committed (database busy, full, unreadable) is kept in order in memory and retried, and the
// site enters its fault mode until the store answers again: each door in its configured fail
// mode, every machine off.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "labgate/drivers/devices.hpp"
#include "labgate/firmware/door_controller.hpp"
#include "labgate/firmware/machine_interlock.hpp"
#include "labgate/gateway/app/clock.hpp"
#include "labgate/gateway/config/site_config.hpp"
#include "labgate/gateway/policy/access.hpp"
#include "labgate/gateway/policy/calendar.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::app {

/// One door as the site runs it.
struct DoorSetup {
  std::string id;
  std::string name;
  firmware::DoorConfig controller;
  std::optional<std::string> entry_reader;  ///< reader outside the door
  std::optional<std::string> exit_reader;   ///< reader inside the door
  bool presence{false};       ///< entry/exit here is who is on site and coworking time
  bool anti_passback{false};  ///< refuse a second passage the same way
};

/// One machine as the site runs it.
struct MachineSetup {
  std::string id;
  std::string name;
  std::string reader;
  firmware::MachineConfig controller;
  std::optional<std::string> certification;  ///< certification type code required
  std::int64_t inspection_interval_days{0};
};

/// Everything the site needs to know that does not change while it runs.
struct SiteSetup {
  std::string site_id{"site"};
  std::string gateway_id{"gw1"};
  policy::Calendar calendar;
  policy::TechnologySet accepted;  ///< clonable technologies the site opted in to
  std::map<std::string, policy::TechnologySet> reader_accept;  ///< narrower lists per reader
  /// DESFire key versions the readers hold: version -> last accepted local day ("YYYY-MM-DD",
  /// inclusive), "" = no end (the current version).
  std::map<int, std::string> key_accept_until;
  std::vector<DoorSetup> doors;
  std::vector<MachineSetup> machines;
  std::optional<int> closing_minute;  ///< local minute of day open coworking sessions close
  std::chrono::milliseconds heartbeat{5000};
  std::chrono::milliseconds store_poll{250};  ///< how often staff changes are looked for
};

/// The doors, machines, calendar and technology lists of a validated configuration, as labgated
/// runs them.
SiteSetup site_setup_from(const config::SiteConfig& config);

/// What a card read came to, for the log and for whoever waits for the acknowledgement.
struct TapOutcome {
  bool granted{false};
  std::string reason;     ///< policy reason code, or a session verb ("session_ended")
  std::string target;     ///< door or machine id
  std::string member_no;  ///< empty for unknown cards
  std::string detail;
  std::int64_t seq{0};  ///< sequence number of the committed event, 0 if not yet committed
  /// "granted <target> <member> <reason>" / "denied ...": the control socket reply.
  std::string summary() const;
};

/// The doors and machines of one gateway. See the file comment.
class Site {
 public:
  /// Called once a tap's event is durable (or could not be recorded: seq 0).
  using TapDone = std::function<void(const TapOutcome&)>;

  /// Looks at a card read before any decision; returns true when it took the card (enrollment
  /// at a reader binds the next card instead of deciding on it) and then owns `done`.
  using CardInterceptor = std::function<bool(const drivers::ReaderEvent& event, TapDone& done)>;

  /// Billing's verdict at a machine tap: may `member_id` start `machine_id` at `at_ms` (balance
  /// or credit limit covers the machine's minimum charge)? Doors never ask.
  using CreditCheck = std::function<bool(std::int64_t member_id, const std::string& machine_id,
                                         std::int64_t at_ms)>;

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
  void set_credit_check(CreditCheck check) { credit_check_ = std::move(check); }
  /// Called on the loop with the seq of each write the store committed (an event with its outbox
  /// row, a session, a state message), after the outputs were driven. Must not block.
  using CommitObserver = std::function<void(std::int64_t seq)>;
  /// Installs the commit observer (the admin channel's live stream; empty: none).
  void set_commit_observer(CommitObserver observer) { commit_observer_ = std::move(observer); }
  /// Installs the interceptor (one at a time; an empty function removes it).
  void set_card_interceptor(CardInterceptor interceptor) { interceptor_ = std::move(interceptor); }
  /// Lets time pass: controller deadlines, heartbeat, staff changes, retries, closing time.
  void tick();

  /// Remote unlock of one door (one strike pulse). False when the door is unknown.
  bool remote_unlock(const std::string& door_id, const std::string& actor);
  /// Staff lockout of a machine from the gateway side (store + controller).
  bool lockout(const std::string& machine_id, const std::string& reason, const std::string& actor);
  /// Ends a staff lockout.
  bool release(const std::string& machine_id, const std::string& actor);
  /// Staff confirm a machine after start-up or check-off.
  bool confirm(const std::string& machine_id, const std::string& actor);
  /// Cuts every machine (remote all-stop): each is locked out until released.
  void all_stop(const std::string& actor);

  /// One line per door and machine: "door main locked strike=off ..." (control socket `status`).
  std::vector<std::string> status_lines() const;
  /// True while the site is in fault mode (store unavailable).
  bool faulted() const { return faulted_; }
  /// Number of writes waiting for the store.
  std::size_t pending_writes() const { return pending_.size(); }

  /// Benchmark hook: time from the card read handed to the loop until the relay or strike
  /// command was issued, for the last tap (microseconds).
  std::int64_t last_decision_micros() const { return last_decision_us_; }

 private:
  struct DoorUnit;
  struct MachineUnit;
  struct PendingWrite {
    std::function<store::Result<std::int64_t>()> write;
    std::function<void(std::int64_t seq)> after;  // runs once committed (seq) or dropped (0)
  };

  // Defers commits until the outermost entry point has driven its outputs.
  class Batch {
   public:
    explicit Batch(Site& site);
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

   private:
    Site& site_;
  };

  DoorUnit* door_by_reader(const std::string& reader_id, policy::Direction& direction);
  MachineUnit* machine_by_reader(const std::string& reader_id);
  void handle_card(const drivers::ReaderEvent& event, TapDone done);
  void door_tap(DoorUnit& door, policy::Direction direction, const drivers::ReaderEvent& event,
                TapDone done);
  void machine_tap(MachineUnit& machine, const drivers::ReaderEvent& event, TapDone done);
  void apply(DoorUnit& door, const firmware::DoorEffects& fx);
  void apply(MachineUnit& machine, const firmware::MachineEffects& fx,
             std::optional<std::string> reader_id = {});
  void record_session_start(MachineUnit& machine, const firmware::MachineEvent& ev,
                            std::optional<std::string> reader_id);
  void record_session_end(MachineUnit& machine, const firmware::MachineEvent& ev);
  void record_machine_alarm(MachineUnit& machine, const firmware::MachineAlarm& alarm);
  // A session held until its relay confirms: commit it, or refuse the tap that asked for it.
  void commit_start(MachineUnit& machine);
  void abort_start(MachineUnit& machine, const std::string& reason);
  MachineUnit* machine_by_id(const std::string& machine_id);
  // Queues the durable close of a session with its event and outbox row.
  void enqueue_close(std::string uuid, std::int64_t ended_at_ms, std::string reason,
                     std::optional<std::int64_t> measured_seconds, store::AccessEvent event,
                     std::string topic, std::string extra_json = {},
                     std::optional<std::int64_t> busy_seconds = std::nullopt);
  // Busy input bookkeeping for busy/idle rates.
  void note_busy(MachineUnit& machine, bool busy, firmware::Millis now);
  // Busy time of a session ending at `to`; consumes the spans it billed.
  std::int64_t take_busy_seconds(MachineUnit& machine, firmware::Millis from, firmware::Millis to);
  void presence(DoorUnit& door, policy::Direction direction, std::int64_t member_id,
                const std::string& member_no);
  void record(store::AccessEvent event, std::string topic, TapDone done = {},
              TapOutcome outcome = {});
  void enqueue(PendingWrite write);
  void flush_pending();
  void enter_fault(const std::string& why);
  void leave_fault();
  void refresh_machines();
  void close_coworking_at_closing();
  void publish_door_state(DoorUnit& door);
  void publish_machine_state(MachineUnit& machine);
  std::string payload(const store::AccessEvent& event, std::int64_t seq,
                      const std::string& extra_json = {}) const;
  std::string new_uuid();
  std::int64_t wall_ms() const;
  std::int64_t wall_ms_at(firmware::Millis mono) const;
  std::optional<policy::TimeWindows> plan_windows(const store::Plan& plan);
  policy::TapContext tap_context(const drivers::ReaderEvent& event,
                                 const std::optional<store::CredentialMatch>& match, bool store_ok);
  // What the reader proved about a DESFire card, judged against the key versions' dates and
  // the credential the card's UID is enrolled as.
  policy::CardProof desfire_proof(const drivers::Card& card,
                                  const std::optional<store::CredentialMatch>& match,
                                  const policy::LocalDate& today) const;

  SiteSetup setup_;
  store::Store& store_;
  Clock& clock_;
  std::vector<std::unique_ptr<DoorUnit>> doors_;
  std::vector<std::unique_ptr<MachineUnit>> machines_;
  std::map<std::string, std::pair<drivers::InputKind, std::string>> inputs_;
  std::map<std::string, policy::TimeWindows> windows_cache_;
  std::deque<PendingWrite> pending_;
  CardInterceptor interceptor_;
  CreditCheck credit_check_;
  CommitObserver commit_observer_;
  int batch_depth_{0};
  bool faulted_{false};
  bool fire_{false};
  std::string fault_reason_;
  std::int64_t data_version_{-1};
  firmware::Millis last_heartbeat_{-1};
  std::chrono::steady_clock::time_point last_poll_{};
  std::chrono::steady_clock::time_point last_retry_{};
  std::optional<std::int64_t> last_closing_day_;
  std::int64_t last_decision_us_{0};
  std::uint64_t uuid_counter_{0};
  std::uint64_t uuid_salt_{0};
};

}  // namespace labgate::gateway::app
