#pragma once
// Door controller: a pure state machine turning decisions (grant, deny, exit button, remote
// unlock) and sensor inputs (door contact, fire alarm, fault) into strike, indicator and events.
//
// Every input takes `now`, monotonic milliseconds. Deadlines that passed before `now` are
// processed first, in the order they fell due, and only then is the input applied: a contact that
// opens after the strike pulse ran out is a forced open even if no tick() came in between. The
// caller should call tick() at least at next_deadline(); calling it more often is harmless. Time
// that goes backwards is treated as no time passing.
//
// Clock contract: `now` must come from a monotonic clock (std::chrono::steady_clock or the like),
// never from wall time. A reading below the highest one so far is clamped to it, so a backwards
// jump of J delays every pending deadline by J, and a forward jump of wall time would fire every
// deadline at once; only a monotonic source keeps the strike pulse, held-open limit, idle, maximum,
// Grace and busy-hold times true.
//
// Priority of conditions: fire alarm (doors with fire_release only) > fault > normal operation.
// When a fire alarm or fault ends, the door settles into the state its contact and strike pulse
// imply: closed -> kLocked (kUnlocked while a pulse still runs), open -> kHeldOpen (kOpen while a
// pulse still runs).

#include <cstdint>
#include <optional>

#include "labgate/firmware/common.hpp"

namespace labgate::firmware {

/// What a door does when the system fails.
enum class FailMode {
  kSecure,  ///< fail-secure: the door stays locked
  kSafe,    ///< fail-safe: the door is released
};

/// Per-door configuration. Validate with validate(); an invalid config parks the door in kFault.
struct DoorConfig {
  Millis strike_pulse{5000};              ///< how long a grant releases the strike (>= 3 s)
  Millis held_open_limit{30000};          ///< open longer than this after a legitimate open: alarm
  FailMode fail_mode{FailMode::kSecure};  ///< strike state while in kFault
  bool egress{true};  ///< exit reader policy, used by the gateway only; the firmware ignores it
  bool fire_release{true};  ///< the fire alarm releases this door (escape routes); separate
                            ///< from `egress`, which only says who may leave
  bool has_contact{true};   ///< a door contact is wired; without it contact inputs are ignored
};

/// Why a DoorConfig is invalid.
enum class DoorConfigError {
  kNone,                      ///< the config is valid
  kStrikePulseTooShort,       ///< strike_pulse < kMinStrikePulse
  kHeldOpenLimitNotPositive,  ///< held_open_limit <= 0
  kUnknownFailMode,           ///< fail_mode is not a FailMode enumerator
};

/// Shortest strike pulse a door may be configured with.
inline constexpr Millis kMinStrikePulse{3000};

/// Checks a door configuration; kNone when it is usable.
DoorConfigError validate(const DoorConfig& config);

/// State of a door.
enum class DoorState {
  kLocked,       ///< strike locked, door closed
  kUnlocked,     ///< strike released (grant, exit, remote), door still closed
  kOpen,         ///< door opened after a grant or exit; held-open timer runs
  kHeldOpen,     ///< alarm: open longer than held_open_limit (or open when an override ended)
  kForcedOpen,   ///< alarm: opened without grant or exit
  kFireRelease,  ///< fire alarm asserted on a fire_release door: released until it clears
  kFault,        ///< the system cannot decide; the strike follows the fail mode
};

/// Position reported by the door contact.
enum class DoorContact { kClosed, kOpen };

/// What released the strike most recently.
enum class UnlockCause { kNone, kGrant, kExit, kRemote };

/// Something the gateway records (and publishes) about a door.
enum class DoorEvent {
  kGranted,            ///< a grant was applied (also reported in fire release and fault)
  kDenied,             ///< a denial was signalled
  kExitReleased,       ///< the exit button released the strike
  kRemoteUnlocked,     ///< a remote unlock released the strike
  kOpened,             ///< the contact opened
  kClosed,             ///< the contact closed
  kHeldOpen,           ///< held-open alarm raised
  kHeldOpenCleared,    ///< held-open alarm cleared (door closed)
  kForcedOpen,         ///< forced-open alarm raised
  kForcedOpenCleared,  ///< forced-open alarm cleared (door closed)
  kFireReleaseOn,      ///< fire alarm asserted on a fire_release door
  kFireReleaseOff,     ///< fire alarm cleared on a fire_release door
  kFaultEnter,         ///< fault condition started
  kFaultLeave,         ///< fault condition ended
  kRelocked,           ///< the strike went from released to locked
  kTrap,               ///< the controller found itself in an impossible state and faulted
};

/// Stable lowercase name ("secure", "safe").
const char* to_string(FailMode m);
/// Stable lowercase name ("none", "strike_pulse_too_short", ...).
const char* to_string(DoorConfigError e);
/// Stable lowercase name ("locked", "unlocked", "open", "held_open", ...).
const char* to_string(DoorState s);
/// Stable lowercase name ("closed", "open").
const char* to_string(DoorContact c);
/// Stable lowercase name ("none", "grant", "exit", "remote").
const char* to_string(UnlockCause c);
/// Stable lowercase name ("granted", "denied", "exit_released", ...).
const char* to_string(DoorEvent e);

/// Result of one call: what to drive and what to record.
struct DoorEffects {
  InputResult result{InputResult::kIgnored};  ///< what the controller did with the input
  DoorState state{DoorState::kLocked};        ///< state after the call
  bool strike_release{false};  ///< true: the strike lets the door open (wiring polarity is the
                               ///< driver's business)
  Indicator indicator{Indicator::kIdle};              ///< steady LED state
  Feedback feedback{Feedback::kNone};                 ///< one-shot beep/flash for this input
  FixedVector<DoorEvent, 12> events;                  ///< events to record, in order
  FixedVector<Transition<DoorState>, 6> transitions;  ///< state changes, in order

  friend bool operator==(const DoorEffects&, const DoorEffects&) = default;
};

struct DoorControllerTestPeer;

/// The door state machine. Construct once; every method is allocation-free and noexcept.
class DoorController {
 public:
  /// Creates a door at `now` whose contact currently reads `initial`. A closed door starts
  /// kLocked; an open one starts kOpen (the held-open timer runs from `now`) because nobody knows
  /// how it was opened. An invalid config starts and stays in kFault (see config_error()).
  explicit DoorController(const DoorConfig& config, Millis now = Millis{0},
                          DoorContact initial = DoorContact::kClosed) noexcept;

  /// The access policy granted a credential: release the strike for strike_pulse.
  DoorEffects grant(Millis now) noexcept;
  /// The access policy denied a credential: signal it and record it.
  DoorEffects deny(Millis now) noexcept;
  /// The request-to-exit button was pressed: release like a grant.
  DoorEffects exit_button(Millis now) noexcept;
  /// An authenticated remote command asked for one strike pulse.
  DoorEffects remote_unlock(Millis now) noexcept;
  /// The door contact reports a position (edges only matter; repeats are ignored).
  DoorEffects contact(DoorContact position, Millis now) noexcept;
  /// The fire-alarm input changed. Only doors with fire_release react.
  DoorEffects fire_alarm(bool active, Millis now) noexcept;
  /// The gateway entered (true) or left (false) a fault: store or reader down.
  DoorEffects fault(bool active, Millis now) noexcept;
  /// Lets time pass: strike pulse end, held-open limit.
  DoorEffects tick(Millis now) noexcept;

  /// Current state.
  DoorState state() const { return state_; }
  /// Whether the strike is released right now.
  bool strike_release() const;
  /// Last known contact position.
  DoorContact contact_position() const { return contact_; }
  /// What released the strike most recently (kNone while no pulse runs).
  UnlockCause unlock_cause() const { return pulse_until_ ? cause_ : UnlockCause::kNone; }
  /// Whether the fire alarm is asserted (regardless of fire_release).
  bool fire_active() const { return fire_active_; }
  /// Whether a fault is asserted.
  bool fault_active() const { return fault_active_; }
  /// The configuration problem, if any (kNone for a usable config).
  DoorConfigError config_error() const { return config_error_; }
  /// The configuration in use.
  const DoorConfig& config() const { return config_; }
  /// The earliest time a tick() would change something; nullopt when nothing is pending.
  std::optional<Millis> next_deadline() const;

 private:
  friend struct DoorControllerTestPeer;

  enum class Release { kGrant, kExit, kRemote };

  DoorEffects begin(Millis& now);  // clamps `now` to be monotonic
  void finish(DoorEffects& fx);
  void advance(Millis now, DoorEffects& fx);
  void change_state(DoorState to, Millis at, DoorEffects& fx);
  void settle(Millis at, DoorEffects& fx);
  void trap(Millis at, DoorEffects& fx);
  DoorEffects release(Release why, Millis now);
  Indicator indicator() const;

  DoorConfig config_;
  DoorConfigError config_error_{DoorConfigError::kNone};
  DoorState state_{DoorState::kLocked};
  DoorContact contact_{DoorContact::kClosed};
  UnlockCause cause_{UnlockCause::kNone};
  std::optional<Millis> pulse_until_;  // strike released until then
  Millis open_since_{0};               // start of the held-open timer
  Millis last_now_{0};
  bool fire_active_{false};
  bool fault_active_{false};
  bool last_strike_{false};  // strike output after the previous call, for kRelocked
};

}  // namespace labgate::firmware
