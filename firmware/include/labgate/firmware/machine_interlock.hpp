#pragma once
// Machine interlock: a pure state machine that powers a machine's relay for a member's session
// and decides when the session ends and when the power goes off.
//
// Every input takes `now`, monotonic milliseconds. Deadlines that passed before `now` are
// processed first, each at the time it fell due, and only then is the input applied. Call tick()
// at least at next_deadline(). Time that goes backwards is treated as no time passing.
//
// Clock contract: `now` must come from a monotonic clock (std::chrono::steady_clock or the like),
// never from wall time. A reading below the highest one so far is clamped to it, so a backwards
// jump of J delays every pending deadline by J, and a forward jump of wall time would fire every
// deadline at once; only a monotonic source keeps the strike pulse, held-open limit, idle, maximum,
// Grace and busy-hold times true.
//
// Session timing. A session ends at the moment its end cause occurred: tap-off, card removal,
// the idle deadline, the maximum-duration deadline, a lockout, the fire alarm, a fault. Grace is a
// safety wind-down that is not billed: card removal, the idle timeout and the maximum duration
// all enter kGrace (warning beeps, relay still on) and the kSessionEnded event is emitted when
// Grace runs out, carrying the earlier end time. A session that resumes during Grace never ended.
//  - card removed (kCardStays): the same member presenting the card again (grant()) resumes.
//  - idle timeout: the same member's grant(), activity() or the busy input rising resumes.
//  - maximum duration: nothing resumes; the session must end. Once the maximum has passed nothing
//    resumes either, even in a Grace that card removal or the idle timeout started earlier.
//  - reader down: treated as a card removal in both modes (nobody can take the card away or tap
//    off, so the member is no longer in control): Grace, then the end; BusyHold still keeps a
//    running job powered within its limit. While the reader is down nothing starts or resumes;
//    once it is back, the member's card seen again resumes within Grace.
// Tap-off ends a session at once without Grace. Lockout, fire alarm and fault cut the relay at
// once. After the session, the relay stays on in kBusyHold while the busy input is active, for at
// most busy_hold_max (then the kBusyHoldLimit alarm, relay off). A busy input already high when a
// session starts from kIdle raises the kBusySensor alarm and holds no power until it is seen low.
//
// Priority of conditions when one clears: fire alarm > fault > lockout > staff confirmation
// pending (after a fire alarm or at boot) > check-off pending > idle.

#include <cstdint>
#include <optional>

#include "labgate/firmware/common.hpp"

namespace labgate::firmware {

/// How a member holds a machine.
enum class SessionMode {
  kCardStays,    ///< the card stays on the reader; removing it ends the session
  kTapOnTapOff,  ///< tap to start, the same member taps again to end
};

/// Per-machine configuration. Validate with validate(); an invalid config parks the machine in
/// kOutOfService with reason kBadConfig, which release() cannot clear.
struct MachineConfig {
  SessionMode mode{SessionMode::kCardStays};
  Millis grace{30000};           ///< warning period before power off; 0 = off at once
  Millis warn_interval{5000};    ///< beep cadence during Grace (> 0)
  Millis idle_timeout{900000};   ///< no activity for this long ends the session; 0 = never
  Millis max_session{14400000};  ///< a session ends after this long; 0 = unlimited
  bool has_busy_input{false};    ///< a busy input (current sense, job state) is wired
  Millis busy_hold_max{0};       ///< longest kBusyHold after a session; 0 = no limit
  bool needs_checkoff{false};    ///< staff must check the machine after each use
};

/// Why a MachineConfig is invalid.
enum class MachineConfigError {
  kNone,                     ///< the config is valid
  kUnknownMode,              ///< mode is not a SessionMode enumerator
  kNegativeGrace,            ///< grace < 0
  kWarnIntervalNotPositive,  ///< warn_interval <= 0
  kNegativeIdleTimeout,      ///< idle_timeout < 0
  kNegativeMaxSession,       ///< max_session < 0
  kNegativeBusyHoldMax,      ///< busy_hold_max < 0
};

/// Checks a machine configuration; kNone when it is usable.
MachineConfigError validate(const MachineConfig& config);

/// State of a machine.
enum class MachineState {
  kStartup,           ///< after boot or a fire alarm: relay off until staff confirm
  kIdle,              ///< ready for a grant
  kInUse,             ///< a member's session runs; relay on
  kGrace,             ///< session ending: warning beeps, relay still on
  kBusyHold,          ///< session over (billing stopped) but the machine is busy: relay on
  kAwaitingCheckoff,  ///< relay off until staff check the machine after use
  kOutOfService,      ///< relay off: lockout, overdue inspection, reported problem
  kFireAlarm,         ///< relay cut while the fire alarm is asserted
  kFault,             ///< relay off while the gateway cannot decide (store down)
};

/// Why a machine is out of service.
enum class OutOfServiceReason {
  kNone,               ///< not out of service
  kStaffLockout,       ///< staff locked the machine
  kInspectionOverdue,  ///< its safety inspection is overdue
  kProblemReported,    ///< a member or staff reported a problem
  kBadConfig,          ///< the configuration is invalid (permanent)
  kInternalError,      ///< the controller trapped an impossible state
};

/// Why a session ended.
enum class EndReason {
  kTapOff,              ///< the member tapped off
  kCardRemoved,         ///< the card left the reader and did not come back within Grace
  kIdleTimeout,         ///< no activity for idle_timeout
  kMaxDuration,         ///< the session reached max_session
  kStaff,               ///< staff ended it (lockout)
  kFireAlarm,           ///< the fire alarm cut the machine
  kFault,               ///< the gateway faulted (store down) or the controller trapped
  kPowerLossRecovered,  ///< closed by the gateway at start-up after a crash or power loss
  kReaderDown,          ///< the machine's reader went down and did not come back within Grace
};

/// Kind of machine event the gateway records.
enum class MachineEventKind {
  kSessionStarted,  ///< a session began (relay on)
  kSessionEnded,    ///< a session ended; `at` is the billing end time
  kSessionResumed,  ///< the member came back during Grace; the session continues
  kGraceStarted,    ///< the session is ending; `reason` says why, `at` when the cause occurred
  kTrap,            ///< the controller found itself in an impossible state
};

/// Why the busy input is under suspicion. While it is, the busy input neither holds power after a
/// session nor keeps a session from idling out; it clears when the input is seen low.
enum class MachineAlarmKind {
  /// The busy input was already high when a session started from kIdle (nothing runs on an idle
  /// machine, so the sensor is presumed stuck).
  kBusySensor,
  /// kBusyHold reached busy_hold_max; the relay was cut.
  kBusyHoldLimit,
};

/// An alarm raised or cleared. Alarms come in pairs: one raise, then one clear of the same kind.
/// Kept apart from MachineEvent so that code switching over event kinds is not affected.
struct MachineAlarm {
  MachineAlarmKind kind{MachineAlarmKind::kBusySensor};
  bool raised{true};       ///< true: raised; false: cleared (the busy input went low)
  std::int64_t member{0};  ///< the running session's member, else the previous session's
  Millis at{};             ///< when it was raised (for kBusyHoldLimit: the limit) or cleared

  friend bool operator==(const MachineAlarm&, const MachineAlarm&) = default;
};

/// One machine event.
struct MachineEvent {
  MachineEventKind kind{MachineEventKind::kSessionStarted};
  std::int64_t member{0};                ///< the session's member
  Millis at{};                           ///< when it happened (session end: billing end time)
  Millis started_at{};                   ///< when the session started
  EndReason reason{EndReason::kTapOff};  ///< meaningful for kSessionEnded and kGraceStarted

  friend bool operator==(const MachineEvent&, const MachineEvent&) = default;
};

/// Result of one call: what to drive and what to record.
struct MachineEffects {
  InputResult result{InputResult::kIgnored};             ///< what the controller did with the input
  MachineState state{MachineState::kStartup};            ///< state after the call
  bool relay{false};                                     ///< machine power on
  Indicator indicator{Indicator::kUnavailable};          ///< steady LED state
  Feedback feedback{Feedback::kNone};                    ///< one-shot beep/flash for this input
  bool warning_beep{false};                              ///< sound one Grace warning beep now
  FixedVector<MachineEvent, 6> events;                   ///< events to record, in order
  FixedVector<Transition<MachineState>, 6> transitions;  ///< state changes, in order
  FixedVector<MachineAlarm, 2> alarms;                   ///< alarms raised/cleared, in order

  friend bool operator==(const MachineEffects&, const MachineEffects&) = default;
};

/// Stable lowercase name ("card_stays", "tap_on_tap_off").
const char* to_string(SessionMode m);
/// Stable lowercase name ("none", "unknown_mode", ...).
const char* to_string(MachineConfigError e);
/// Stable lowercase name ("startup", "idle", "in_use", "grace", ...).
const char* to_string(MachineState s);
/// Stable lowercase name ("none", "staff_lockout", "inspection_overdue", ...).
const char* to_string(OutOfServiceReason r);
/// Stable lowercase name ("tap_off", "card_removed", "idle_timeout", ...).
const char* to_string(EndReason r);
/// Stable lowercase name ("session_started", "session_ended", ...).
const char* to_string(MachineEventKind k);
/// Stable lowercase name ("busy_sensor", "busy_hold_limit").
const char* to_string(MachineAlarmKind k);

struct MachineInterlockTestPeer;

/// The machine state machine. Starts in kStartup with the relay off. Every method is
/// allocation-free and noexcept.
class MachineInterlock {
 public:
  /// Creates a machine at `now`, in kStartup (or kOutOfService/kBadConfig for a bad config).
  explicit MachineInterlock(const MachineConfig& config, Millis now = Millis{0}) noexcept;

  /// Staff confirm the machine is safe: leaves kStartup or kAwaitingCheckoff for kIdle.
  MachineEffects staff_confirm(Millis now) noexcept;
  /// The policy granted `member`. Starts a session in kIdle; resumes the same member's session
  /// in Grace (card presented again / back after idle); refused with kMachineInUse while another
  /// member holds the machine (or its Grace or busy hold runs), kUnavailable when the machine
  /// waits for staff, is out of service, or fire/fault is active.
  MachineEffects grant(std::int64_t member, Millis now) noexcept;
  /// The policy denied a credential: signal it.
  MachineEffects deny(Millis now) noexcept;
  /// kCardStays: the card left the reader. Starts Grace.
  MachineEffects card_removed(Millis now) noexcept;
  /// kTapOnTapOff: `member` tapped again. The gateway calls this, without asking the policy,
  /// when the card belongs to the running session's member. Ends the session at once.
  MachineEffects tap_off(std::int64_t member, Millis now) noexcept;
  /// The busy input changed (only with has_busy_input). Both edges count as activity.
  MachineEffects busy(bool active, Millis now) noexcept;
  /// The member did something measurable: resets the idle timer.
  MachineEffects activity(Millis now) noexcept;
  /// Takes the machine out of service (cuts the relay and ends a session at once, reason kStaff).
  /// A second lockout replaces the reason.
  MachineEffects lockout(OutOfServiceReason reason, Millis now) noexcept;
  /// Ends a lockout.
  MachineEffects release(Millis now) noexcept;
  /// The fire-alarm input changed. Active: relay cut, session ended (kFireAlarm). Cleared: the
  /// machine needs staff confirmation (kStartup).
  MachineEffects fire_alarm(bool active, Millis now) noexcept;
  /// The machine's reader went down (`up` false) or came back. Down: a session in kInUse enters
  /// Grace (kReaderDown) as on a card removal, and no session starts or resumes until it is up.
  MachineEffects reader(bool up, Millis now) noexcept;
  /// Whether the machine's reader is down.
  bool reader_down() const { return reader_down_; }
  /// The gateway entered (true) or left (false) a fault: relay off, session ended (kFault).
  MachineEffects fault(bool active, Millis now) noexcept;
  /// Lets time pass: idle timeout, maximum duration, Grace beeps and end.
  MachineEffects tick(Millis now) noexcept;

  /// Current state.
  MachineState state() const { return state_; }
  /// Whether the relay is on.
  bool relay() const;
  /// The member of the running session (kInUse, kGrace), else nullopt.
  std::optional<std::int64_t> member() const;
  /// Start time of the running session, else nullopt.
  std::optional<Millis> session_started_at() const;
  /// Why the machine is (or will be, once fire/fault clear) out of service; kNone otherwise.
  OutOfServiceReason out_of_service_reason() const { return lockout_; }
  /// Whether the busy input is active.
  bool busy_active() const { return busy_; }
  /// The configuration problem, if any.
  MachineConfigError config_error() const { return config_error_; }
  /// The configuration in use.
  const MachineConfig& config() const { return config_; }
  /// The earliest time a tick() would change something; nullopt when nothing is pending.
  std::optional<Millis> next_deadline() const;

 private:
  friend struct MachineInterlockTestPeer;

  MachineEffects begin(Millis& now);  // clamps `now` to be monotonic, runs due deadlines
  void finish(MachineEffects& fx);
  void advance(Millis now, MachineEffects& fx);
  void change_state(MachineState to, Millis at, MachineEffects& fx);
  void settle(Millis at, MachineEffects& fx);
  void trap(Millis at, MachineEffects& fx);
  void start_grace(EndReason reason, Millis cause_at, MachineEffects& fx);
  void end_session(EndReason reason, Millis end_at, MachineEffects& fx);
  void end_session_at_once(EndReason reason, Millis now, MachineEffects& fx);
  void resume(Millis now, MachineEffects& fx);
  void raise_busy_alarm(MachineAlarmKind kind, std::int64_t member, Millis at, MachineEffects& fx);
  void after_use(Millis now, MachineEffects& fx);
  std::optional<Millis> idle_deadline() const;
  std::optional<Millis> max_deadline() const;
  std::optional<Millis> hold_deadline() const;
  bool busy_trusted() const;
  bool max_passed(Millis now) const;
  bool may_resume(Millis now) const;
  Indicator indicator() const;

  MachineConfig config_;
  MachineConfigError config_error_{MachineConfigError::kNone};
  MachineState state_{MachineState::kStartup};
  Millis last_now_{0};

  bool session_{false};  // a session is open (kInUse, kGrace)
  std::int64_t member_{0};
  Millis started_at_{0};
  Millis last_activity_{0};
  bool card_present_{false};  // kCardStays: the session's card is on the reader

  EndReason grace_reason_{EndReason::kCardRemoved};
  Millis grace_cause_at_{0};  // when the end cause occurred (billing end)
  Millis grace_until_{0};
  Millis next_beep_{0};

  std::int64_t last_member_{0};  // member of the session that led into kBusyHold
  bool busy_{false};
  bool busy_alarm_{false};  // the busy input is suspect until it is seen low
  MachineAlarmKind busy_alarm_kind_{MachineAlarmKind::kBusySensor};
  Millis hold_since_{0};  // when kBusyHold began
  bool fire_active_{false};
  bool fault_active_{false};
  bool reader_down_{false};  // the machine's reader cannot see cards
  OutOfServiceReason lockout_{OutOfServiceReason::kNone};
  bool needs_confirm_{true};  // boot counts as a power loss
  bool checkoff_pending_{false};
};

}  // namespace labgate::firmware
