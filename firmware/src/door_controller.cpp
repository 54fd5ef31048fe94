#include "labgate/firmware/door_controller.hpp"

namespace labgate::firmware {

namespace {

bool known(DoorState s) {
  switch (s) {
    case DoorState::kLocked:
    case DoorState::kUnlocked:
    case DoorState::kOpen:
    case DoorState::kHeldOpen:
    case DoorState::kForcedOpen:
    case DoorState::kFireRelease:
    case DoorState::kFault:
      return true;
  }
  return false;
}

// Bounds the deadline loop: each pass consumes one deadline and at most two exist at a time, so
// a higher count could only come from a bug, which must not hang the event loop.
constexpr int kMaxDeadlineSteps = 8;

}  // namespace

DoorConfigError validate(const DoorConfig& config) {
  if (config.strike_pulse < kMinStrikePulse) return DoorConfigError::kStrikePulseTooShort;
  if (config.held_open_limit <= Millis{0}) return DoorConfigError::kHeldOpenLimitNotPositive;
  if (config.fail_mode != FailMode::kSecure && config.fail_mode != FailMode::kSafe) {
    return DoorConfigError::kUnknownFailMode;
  }
  return DoorConfigError::kNone;
}

const char* to_string(FailMode m) {
  switch (m) {
    case FailMode::kSecure:
      return "secure";
    case FailMode::kSafe:
      return "safe";
  }
  return "unknown";
}

const char* to_string(DoorConfigError e) {
  switch (e) {
    case DoorConfigError::kNone:
      return "none";
    case DoorConfigError::kStrikePulseTooShort:
      return "strike_pulse_too_short";
    case DoorConfigError::kHeldOpenLimitNotPositive:
      return "held_open_limit_not_positive";
    case DoorConfigError::kUnknownFailMode:
      return "unknown_fail_mode";
  }
  return "unknown";
}

const char* to_string(DoorState s) {
  switch (s) {
    case DoorState::kLocked:
      return "locked";
    case DoorState::kUnlocked:
      return "unlocked";
    case DoorState::kOpen:
      return "open";
    case DoorState::kHeldOpen:
      return "held_open";
    case DoorState::kForcedOpen:
      return "forced_open";
    case DoorState::kFireRelease:
      return "fire_release";
    case DoorState::kFault:
      return "fault";
  }
  return "unknown";
}

const char* to_string(DoorContact c) {
  switch (c) {
    case DoorContact::kClosed:
      return "closed";
    case DoorContact::kOpen:
      return "open";
  }
  return "unknown";
}

const char* to_string(UnlockCause c) {
  switch (c) {
    case UnlockCause::kNone:
      return "none";
    case UnlockCause::kGrant:
      return "grant";
    case UnlockCause::kExit:
      return "exit";
    case UnlockCause::kRemote:
      return "remote";
  }
  return "unknown";
}

const char* to_string(DoorEvent e) {
  switch (e) {
    case DoorEvent::kGranted:
      return "granted";
    case DoorEvent::kDenied:
      return "denied";
    case DoorEvent::kExitReleased:
      return "exit_released";
    case DoorEvent::kRemoteUnlocked:
      return "remote_unlocked";
    case DoorEvent::kOpened:
      return "opened";
    case DoorEvent::kClosed:
      return "closed";
    case DoorEvent::kHeldOpen:
      return "held_open";
    case DoorEvent::kHeldOpenCleared:
      return "held_open_cleared";
    case DoorEvent::kForcedOpen:
      return "forced_open";
    case DoorEvent::kForcedOpenCleared:
      return "forced_open_cleared";
    case DoorEvent::kFireReleaseOn:
      return "fire_release_on";
    case DoorEvent::kFireReleaseOff:
      return "fire_release_off";
    case DoorEvent::kFaultEnter:
      return "fault_enter";
    case DoorEvent::kFaultLeave:
      return "fault_leave";
    case DoorEvent::kRelocked:
      return "relocked";
    case DoorEvent::kTrap:
      return "trap";
  }
  return "unknown";
}

DoorController::DoorController(const DoorConfig& config, Millis now, DoorContact initial) noexcept
    : config_(config), config_error_(validate(config)), last_now_(now) {
  contact_ = config_.has_contact ? initial : DoorContact::kClosed;
  if (config_error_ != DoorConfigError::kNone) {
    state_ = DoorState::kFault;
  } else if (contact_ == DoorContact::kOpen) {
    state_ = DoorState::kOpen;
    open_since_ = now;
  }
  last_strike_ = strike_release();
}

bool DoorController::strike_release() const {
  switch (state_) {
    case DoorState::kFireRelease:
      return true;
    case DoorState::kFault:
      // An unknown fail mode (bad config) counts as fail-secure.
      return config_.fail_mode == FailMode::kSafe || pulse_until_.has_value();
    case DoorState::kLocked:
    case DoorState::kUnlocked:
    case DoorState::kOpen:
    case DoorState::kHeldOpen:
    case DoorState::kForcedOpen:
      return pulse_until_.has_value();
  }
  return false;
}

Indicator DoorController::indicator() const {
  switch (state_) {
    case DoorState::kLocked:
      return Indicator::kIdle;
    case DoorState::kUnlocked:
      return Indicator::kActive;
    case DoorState::kOpen:
      return pulse_until_ ? Indicator::kActive : Indicator::kIdle;
    case DoorState::kHeldOpen:
    case DoorState::kForcedOpen:
    case DoorState::kFireRelease:
      return Indicator::kAlarm;
    case DoorState::kFault:
      return Indicator::kFault;
  }
  return Indicator::kFault;
}

std::optional<Millis> DoorController::next_deadline() const {
  std::optional<Millis> next = pulse_until_;
  if (state_ == DoorState::kOpen) {
    const Millis held = open_since_ + config_.held_open_limit;
    if (!next || held < *next) next = held;
  }
  return next;
}

DoorEffects DoorController::begin(Millis& now) {
  if (now < last_now_) now = last_now_;
  last_now_ = now;
  DoorEffects fx;
  if (!known(state_)) trap(now, fx);
  advance(now, fx);
  return fx;
}

void DoorController::finish(DoorEffects& fx) {
  const bool strike = strike_release();
  if (last_strike_ && !strike) fx.events.push_back(DoorEvent::kRelocked);
  last_strike_ = strike;
  fx.state = state_;
  fx.strike_release = strike;
  fx.indicator = indicator();
}

void DoorController::advance(Millis now, DoorEffects& fx) {
  for (int step = 0; step < kMaxDeadlineSteps; ++step) {
    std::optional<Millis> held;
    if (state_ == DoorState::kOpen) held = open_since_ + config_.held_open_limit;
    const bool pulse_due = pulse_until_ && *pulse_until_ <= now;
    const bool held_due = held && *held <= now;
    if (pulse_due && (!held_due || *pulse_until_ <= *held)) {
      const Millis at = *pulse_until_;
      pulse_until_.reset();
      if (state_ == DoorState::kUnlocked) change_state(DoorState::kLocked, at, fx);
      // Report the relock when it happens, so events stay in time order within one call.
      const bool strike = strike_release();
      if (last_strike_ && !strike) fx.events.push_back(DoorEvent::kRelocked);
      last_strike_ = strike;
    } else if (held_due) {
      change_state(DoorState::kHeldOpen, *held, fx);
    } else {
      return;
    }
  }
}

void DoorController::change_state(DoorState to, Millis at, DoorEffects& fx) {
  if (to == state_) return;
  const DoorState from = state_;
  fx.transitions.push_back({from, to, at});
  state_ = to;
  // Alarms are raised on entry and cleared on every exit, so each raise has a matching clear.
  if (from == DoorState::kHeldOpen) fx.events.push_back(DoorEvent::kHeldOpenCleared);
  if (from == DoorState::kForcedOpen) fx.events.push_back(DoorEvent::kForcedOpenCleared);
  switch (to) {
    case DoorState::kLocked:
      pulse_until_.reset();
      break;
    case DoorState::kOpen:
      open_since_ = at;
      break;
    case DoorState::kHeldOpen:
      fx.events.push_back(DoorEvent::kHeldOpen);
      break;
    case DoorState::kForcedOpen:
      fx.events.push_back(DoorEvent::kForcedOpen);
      break;
    case DoorState::kUnlocked:
    case DoorState::kFireRelease:
    case DoorState::kFault:
      break;
  }
}

void DoorController::settle(Millis at, DoorEffects& fx) {
  DoorState to;
  if (fire_active_ && config_.fire_release) {
    to = DoorState::kFireRelease;
  } else if (fault_active_ || config_error_ != DoorConfigError::kNone) {
    to = DoorState::kFault;
  } else if (contact_ == DoorContact::kOpen) {
    // Open when the override ends: legitimate only while a pulse still runs.
    to = pulse_until_ ? DoorState::kOpen : DoorState::kHeldOpen;
  } else {
    to = pulse_until_ ? DoorState::kUnlocked : DoorState::kLocked;
  }
  change_state(to, at, fx);
}

void DoorController::trap(Millis at, DoorEffects& fx) {
  fx.events.push_back(DoorEvent::kTrap);
  if (!fault_active_) fx.events.push_back(DoorEvent::kFaultEnter);
  fault_active_ = true;
  pulse_until_.reset();
  settle(at, fx);
}

DoorEffects DoorController::release(Release why, Millis now) {
  DoorEffects fx = begin(now);
  switch (why) {
    case Release::kGrant:
      fx.events.push_back(DoorEvent::kGranted);
      cause_ = UnlockCause::kGrant;
      break;
    case Release::kExit:
      fx.events.push_back(DoorEvent::kExitReleased);
      cause_ = UnlockCause::kExit;
      break;
    case Release::kRemote:
      fx.events.push_back(DoorEvent::kRemoteUnlocked);
      cause_ = UnlockCause::kRemote;
      break;
  }
  fx.result = InputResult::kAccepted;
  fx.feedback = Feedback::kGranted;
  // A door parked by a bad config has no trustworthy pulse length: report only.
  const bool can_pulse =
      state_ != DoorState::kFireRelease && config_error_ == DoorConfigError::kNone;
  if (can_pulse) pulse_until_ = now + config_.strike_pulse;
  switch (state_) {
    case DoorState::kLocked:
      change_state(DoorState::kUnlocked, now, fx);
      break;
    case DoorState::kOpen:
      // Another legitimate passage: the held-open timer starts again.
      open_since_ = now;
      break;
    case DoorState::kUnlocked:
    case DoorState::kHeldOpen:
    case DoorState::kForcedOpen:
    case DoorState::kFireRelease:
    case DoorState::kFault:
      break;
  }
  finish(fx);
  return fx;
}

DoorEffects DoorController::grant(Millis now) noexcept {
  return release(Release::kGrant, now);
}

DoorEffects DoorController::exit_button(Millis now) noexcept {
  return release(Release::kExit, now);
}

DoorEffects DoorController::remote_unlock(Millis now) noexcept {
  return release(Release::kRemote, now);
}

DoorEffects DoorController::deny(Millis now) noexcept {
  DoorEffects fx = begin(now);
  fx.result = InputResult::kAccepted;
  fx.feedback = Feedback::kDenied;
  fx.events.push_back(DoorEvent::kDenied);
  finish(fx);
  return fx;
}

DoorEffects DoorController::contact(DoorContact position, Millis now) noexcept {
  DoorEffects fx = begin(now);
  if (!config_.has_contact || position == contact_ ||
      (position != DoorContact::kOpen && position != DoorContact::kClosed)) {
    finish(fx);
    return fx;
  }
  contact_ = position;
  fx.result = InputResult::kAccepted;
  const bool open = position == DoorContact::kOpen;
  fx.events.push_back(open ? DoorEvent::kOpened : DoorEvent::kClosed);
  switch (state_) {
    case DoorState::kLocked:
      if (open) change_state(DoorState::kForcedOpen, now, fx);
      break;
    case DoorState::kUnlocked:
      if (open) change_state(DoorState::kOpen, now, fx);
      break;
    case DoorState::kOpen:
    case DoorState::kHeldOpen:
    case DoorState::kForcedOpen:
      // Relock on close: the strike pulse ends with the passage.
      if (!open) change_state(DoorState::kLocked, now, fx);
      break;
    case DoorState::kFireRelease:
    case DoorState::kFault:
      break;
  }
  finish(fx);
  return fx;
}

DoorEffects DoorController::fire_alarm(bool active, Millis now) noexcept {
  DoorEffects fx = begin(now);
  if (active == fire_active_) {
    finish(fx);
    return fx;
  }
  fire_active_ = active;
  if (config_.fire_release) {
    fx.result = InputResult::kAccepted;
    fx.events.push_back(active ? DoorEvent::kFireReleaseOn : DoorEvent::kFireReleaseOff);
    settle(now, fx);
  }
  finish(fx);
  return fx;
}

DoorEffects DoorController::fault(bool active, Millis now) noexcept {
  DoorEffects fx = begin(now);
  if (active == fault_active_) {
    finish(fx);
    return fx;
  }
  fault_active_ = active;
  fx.result = InputResult::kAccepted;
  fx.events.push_back(active ? DoorEvent::kFaultEnter : DoorEvent::kFaultLeave);
  settle(now, fx);
  finish(fx);
  return fx;
}

DoorEffects DoorController::tick(Millis now) noexcept {
  DoorEffects fx = begin(now);
  finish(fx);
  if (!fx.events.empty() || !fx.transitions.empty()) fx.result = InputResult::kAccepted;
  return fx;
}

}  // namespace labgate::firmware
