#include "labgate/firmware/machine_interlock.hpp"

namespace labgate::firmware {

namespace {

bool known(MachineState s) {
  switch (s) {
    case MachineState::kStartup:
    case MachineState::kIdle:
    case MachineState::kInUse:
    case MachineState::kGrace:
    case MachineState::kBusyHold:
    case MachineState::kAwaitingCheckoff:
    case MachineState::kOutOfService:
    case MachineState::kFireAlarm:
    case MachineState::kFault:
      return true;
  }
  return false;
}

// Bounds the deadline loop: a session needs at most two passes (start Grace, end it), so a higher
// count could only come from a bug, which must not hang the event loop.
constexpr int kMaxDeadlineSteps = 8;

bool staff_settable(OutOfServiceReason r) {
  return r == OutOfServiceReason::kStaffLockout || r == OutOfServiceReason::kInspectionOverdue ||
         r == OutOfServiceReason::kProblemReported;
}

}  // namespace

MachineConfigError validate(const MachineConfig& config) {
  if (config.mode != SessionMode::kCardStays && config.mode != SessionMode::kTapOnTapOff) {
    return MachineConfigError::kUnknownMode;
  }
  if (config.grace < Millis{0}) return MachineConfigError::kNegativeGrace;
  if (config.warn_interval <= Millis{0}) return MachineConfigError::kWarnIntervalNotPositive;
  if (config.idle_timeout < Millis{0}) return MachineConfigError::kNegativeIdleTimeout;
  if (config.max_session < Millis{0}) return MachineConfigError::kNegativeMaxSession;
  if (config.busy_hold_max < Millis{0}) return MachineConfigError::kNegativeBusyHoldMax;
  return MachineConfigError::kNone;
}

const char* to_string(SessionMode m) {
  switch (m) {
    case SessionMode::kCardStays:
      return "card_stays";
    case SessionMode::kTapOnTapOff:
      return "tap_on_tap_off";
  }
  return "unknown";
}

const char* to_string(MachineConfigError e) {
  switch (e) {
    case MachineConfigError::kNone:
      return "none";
    case MachineConfigError::kUnknownMode:
      return "unknown_mode";
    case MachineConfigError::kNegativeGrace:
      return "negative_grace";
    case MachineConfigError::kWarnIntervalNotPositive:
      return "warn_interval_not_positive";
    case MachineConfigError::kNegativeIdleTimeout:
      return "negative_idle_timeout";
    case MachineConfigError::kNegativeMaxSession:
      return "negative_max_session";
    case MachineConfigError::kNegativeBusyHoldMax:
      return "negative_busy_hold_max";
  }
  return "unknown";
}

const char* to_string(MachineState s) {
  switch (s) {
    case MachineState::kStartup:
      return "startup";
    case MachineState::kIdle:
      return "idle";
    case MachineState::kInUse:
      return "in_use";
    case MachineState::kGrace:
      return "grace";
    case MachineState::kBusyHold:
      return "busy_hold";
    case MachineState::kAwaitingCheckoff:
      return "awaiting_checkoff";
    case MachineState::kOutOfService:
      return "out_of_service";
    case MachineState::kFireAlarm:
      return "fire_alarm";
    case MachineState::kFault:
      return "fault";
  }
  return "unknown";
}

const char* to_string(OutOfServiceReason r) {
  switch (r) {
    case OutOfServiceReason::kNone:
      return "none";
    case OutOfServiceReason::kStaffLockout:
      return "staff_lockout";
    case OutOfServiceReason::kInspectionOverdue:
      return "inspection_overdue";
    case OutOfServiceReason::kProblemReported:
      return "problem_reported";
    case OutOfServiceReason::kBadConfig:
      return "bad_config";
    case OutOfServiceReason::kInternalError:
      return "internal_error";
  }
  return "unknown";
}

const char* to_string(EndReason r) {
  switch (r) {
    case EndReason::kTapOff:
      return "tap_off";
    case EndReason::kCardRemoved:
      return "card_removed";
    case EndReason::kIdleTimeout:
      return "idle_timeout";
    case EndReason::kMaxDuration:
      return "max_duration";
    case EndReason::kStaff:
      return "staff";
    case EndReason::kFireAlarm:
      return "fire_alarm";
    case EndReason::kFault:
      return "fault";
    case EndReason::kPowerLossRecovered:
      return "power_loss_recovered";
    case EndReason::kReaderDown:
      return "reader_down";
  }
  return "unknown";
}

const char* to_string(MachineEventKind k) {
  switch (k) {
    case MachineEventKind::kSessionStarted:
      return "session_started";
    case MachineEventKind::kSessionEnded:
      return "session_ended";
    case MachineEventKind::kSessionResumed:
      return "session_resumed";
    case MachineEventKind::kGraceStarted:
      return "grace_started";
    case MachineEventKind::kTrap:
      return "trap";
  }
  return "unknown";
}

const char* to_string(MachineAlarmKind k) {
  switch (k) {
    case MachineAlarmKind::kBusySensor:
      return "busy_sensor";
    case MachineAlarmKind::kBusyHoldLimit:
      return "busy_hold_limit";
  }
  return "unknown";
}

MachineInterlock::MachineInterlock(const MachineConfig& config, Millis now) noexcept
    : config_(config), config_error_(validate(config)), last_now_(now) {
  if (config_error_ != MachineConfigError::kNone) {
    lockout_ = OutOfServiceReason::kBadConfig;
    state_ = MachineState::kOutOfService;
  }
}

bool MachineInterlock::relay() const {
  switch (state_) {
    case MachineState::kInUse:
    case MachineState::kGrace:
    case MachineState::kBusyHold:
      return true;
    case MachineState::kStartup:
    case MachineState::kIdle:
    case MachineState::kAwaitingCheckoff:
    case MachineState::kOutOfService:
    case MachineState::kFireAlarm:
    case MachineState::kFault:
      return false;
  }
  return false;
}

std::optional<std::int64_t> MachineInterlock::member() const {
  if (!session_) return std::nullopt;
  return member_;
}

std::optional<Millis> MachineInterlock::session_started_at() const {
  if (!session_) return std::nullopt;
  return started_at_;
}

Indicator MachineInterlock::indicator() const {
  switch (state_) {
    case MachineState::kIdle:
      return Indicator::kIdle;
    case MachineState::kInUse:
    case MachineState::kBusyHold:
      return Indicator::kActive;
    case MachineState::kGrace:
      return Indicator::kWarning;
    case MachineState::kStartup:
    case MachineState::kAwaitingCheckoff:
    case MachineState::kOutOfService:
      return Indicator::kUnavailable;
    case MachineState::kFireAlarm:
      return Indicator::kAlarm;
    case MachineState::kFault:
      return Indicator::kFault;
  }
  return Indicator::kFault;
}

bool MachineInterlock::busy_trusted() const {
  return config_.has_busy_input && busy_ && !busy_alarm_;
}

bool MachineInterlock::max_passed(Millis now) const {
  return config_.max_session != Millis{0} && started_at_ + config_.max_session <= now;
}

bool MachineInterlock::may_resume(Millis now) const {
  // With the reader down nobody can show that the member is still at the machine.
  return state_ == MachineState::kGrace && grace_reason_ != EndReason::kMaxDuration &&
         !max_passed(now) && !reader_down_;
}

std::optional<Millis> MachineInterlock::idle_deadline() const {
  // A busy input under suspicion does not keep a session alive.
  if (state_ != MachineState::kInUse || config_.idle_timeout == Millis{0} || busy_trusted()) {
    return std::nullopt;
  }
  return last_activity_ + config_.idle_timeout;
}

std::optional<Millis> MachineInterlock::max_deadline() const {
  if (state_ != MachineState::kInUse || config_.max_session == Millis{0}) return std::nullopt;
  return started_at_ + config_.max_session;
}

std::optional<Millis> MachineInterlock::hold_deadline() const {
  if (state_ != MachineState::kBusyHold || config_.busy_hold_max == Millis{0}) return std::nullopt;
  return hold_since_ + config_.busy_hold_max;
}

std::optional<Millis> MachineInterlock::next_deadline() const {
  if (state_ == MachineState::kGrace) {
    return next_beep_ < grace_until_ ? next_beep_ : grace_until_;
  }
  if (state_ == MachineState::kBusyHold) return hold_deadline();
  const std::optional<Millis> idle = idle_deadline();
  const std::optional<Millis> max = max_deadline();
  if (idle && max) return *idle < *max ? *idle : *max;
  return idle ? idle : max;
}

MachineEffects MachineInterlock::begin(Millis& now) {
  if (now < last_now_) now = last_now_;
  last_now_ = now;
  MachineEffects fx;
  if (!known(state_)) trap(now, fx);
  advance(now, fx);
  return fx;
}

void MachineInterlock::finish(MachineEffects& fx) {
  // No input should leave a deadline already due (a resume past the maximum is refused); this pass
  // keeps the outputs true if one ever did.
  advance(last_now_, fx);
  fx.state = state_;
  fx.relay = relay();
  fx.indicator = indicator();
}

void MachineInterlock::advance(Millis now, MachineEffects& fx) {
  for (int step = 0; step < kMaxDeadlineSteps; ++step) {
    if (state_ == MachineState::kInUse) {
      const std::optional<Millis> idle = idle_deadline();
      const std::optional<Millis> max = max_deadline();
      const bool idle_due = idle && *idle <= now;
      const bool max_due = max && *max <= now;
      // On a tie the maximum duration wins: it cannot be resumed.
      if (max_due && (!idle_due || *max <= *idle)) {
        start_grace(EndReason::kMaxDuration, *max, fx);
      } else if (idle_due) {
        start_grace(EndReason::kIdleTimeout, *idle, fx);
      } else {
        return;
      }
    } else if (state_ == MachineState::kGrace) {
      if (grace_until_ <= now) {
        end_session(grace_reason_, grace_cause_at_, fx);
        after_use(grace_until_, fx);
      } else if (next_beep_ <= now) {
        fx.warning_beep = true;
        // Sparse ticks sound one beep, not a burst of missed ones.
        const auto missed = (now - next_beep_) / config_.warn_interval;
        next_beep_ += (missed + 1) * config_.warn_interval;
        return;
      } else {
        return;
      }
    } else if (state_ == MachineState::kBusyHold) {
      const std::optional<Millis> hold = hold_deadline();
      if (!hold || now < *hold) return;
      // A job this long, or a busy input stuck high: nobody is at the machine, so power goes off.
      raise_busy_alarm(MachineAlarmKind::kBusyHoldLimit, last_member_, *hold, fx);
      settle(*hold, fx);
    } else {
      return;
    }
  }
}

void MachineInterlock::change_state(MachineState to, Millis at, MachineEffects& fx) {
  if (to == state_) return;
  fx.transitions.push_back({state_, to, at});
  state_ = to;
  if (to == MachineState::kGrace) {
    fx.warning_beep = true;
    next_beep_ = at + config_.warn_interval;
  }
}

void MachineInterlock::settle(Millis at, MachineEffects& fx) {
  MachineState to = MachineState::kIdle;
  if (fire_active_) {
    to = MachineState::kFireAlarm;
  } else if (fault_active_) {
    to = MachineState::kFault;
  } else if (lockout_ != OutOfServiceReason::kNone) {
    to = MachineState::kOutOfService;
  } else if (needs_confirm_) {
    to = MachineState::kStartup;
  } else if (checkoff_pending_) {
    to = MachineState::kAwaitingCheckoff;
  }
  change_state(to, at, fx);
}

void MachineInterlock::trap(Millis at, MachineEffects& fx) {
  fx.events.push_back({MachineEventKind::kTrap, member_, at, started_at_, EndReason::kFault});
  if (session_) end_session(EndReason::kFault, at, fx);
  if (lockout_ != OutOfServiceReason::kBadConfig) lockout_ = OutOfServiceReason::kInternalError;
  settle(at, fx);
}

void MachineInterlock::start_grace(EndReason reason, Millis cause_at, MachineEffects& fx) {
  if (config_.grace == Millis{0}) {
    end_session(reason, cause_at, fx);
    after_use(cause_at, fx);
    return;
  }
  grace_reason_ = reason;
  grace_cause_at_ = cause_at;
  grace_until_ = cause_at + config_.grace;
  fx.events.push_back({MachineEventKind::kGraceStarted, member_, cause_at, started_at_, reason});
  change_state(MachineState::kGrace, cause_at, fx);
}

void MachineInterlock::end_session(EndReason reason, Millis end_at, MachineEffects& fx) {
  fx.events.push_back({MachineEventKind::kSessionEnded, member_, end_at, started_at_, reason});
  session_ = false;
  card_present_ = false;
  last_member_ = member_;
  if (config_.needs_checkoff) checkoff_pending_ = true;
}

void MachineInterlock::end_session_at_once(EndReason reason, Millis now, MachineEffects& fx) {
  if (!session_) return;
  // In Grace the session already ended when its cause occurred; that cause is the true reason.
  if (state_ == MachineState::kGrace) {
    end_session(grace_reason_, grace_cause_at_, fx);
  } else {
    end_session(reason, now, fx);
  }
}

void MachineInterlock::resume(Millis now, MachineEffects& fx) {
  fx.events.push_back(
      {MachineEventKind::kSessionResumed, member_, now, started_at_, grace_reason_});
  last_activity_ = now;
  change_state(MachineState::kInUse, now, fx);
}

void MachineInterlock::raise_busy_alarm(MachineAlarmKind kind, std::int64_t member, Millis at,
                                        MachineEffects& fx) {
  busy_alarm_ = true;
  busy_alarm_kind_ = kind;
  fx.alarms.push_back({kind, true, member, at});
}

void MachineInterlock::after_use(Millis at, MachineEffects& fx) {
  if (busy_trusted()) {
    hold_since_ = at;
    change_state(MachineState::kBusyHold, at, fx);
  } else {
    settle(at, fx);
  }
}

MachineEffects MachineInterlock::staff_confirm(Millis now) noexcept {
  MachineEffects fx = begin(now);
  if (state_ == MachineState::kStartup || state_ == MachineState::kAwaitingCheckoff) {
    // A staff check after boot or a fire alarm also covers a pending check-off.
    needs_confirm_ = false;
    checkoff_pending_ = false;
    fx.result = InputResult::kAccepted;
    settle(now, fx);
  }
  finish(fx);
  return fx;
}

MachineEffects MachineInterlock::grant(std::int64_t member, Millis now) noexcept {
  MachineEffects fx = begin(now);
  fx.result = InputResult::kAccepted;
  fx.feedback = Feedback::kGranted;
  // A grant cannot come from a reader that is down; whatever claims one starts nothing.
  const MachineState state = reader_down_ ? MachineState::kFault : state_;
  switch (state) {
    case MachineState::kIdle:
    case MachineState::kBusyHold:
      if (state_ == MachineState::kBusyHold && member != last_member_) {
        fx.result = InputResult::kMachineInUse;
        break;
      }
      session_ = true;
      member_ = member;
      started_at_ = now;
      last_activity_ = now;
      card_present_ = config_.mode == SessionMode::kCardStays;
      fx.events.push_back(
          {MachineEventKind::kSessionStarted, member, now, now, EndReason::kTapOff});
      if (state_ == MachineState::kIdle && busy_trusted()) {
        // Nothing runs on an idle machine, so a busy input already high is a stuck sensor: it
        // must not hold power once this member leaves.
        raise_busy_alarm(MachineAlarmKind::kBusySensor, member, now, fx);
      }
      change_state(MachineState::kInUse, now, fx);
      break;
    case MachineState::kInUse:
      if (member != member_) {
        fx.result = InputResult::kMachineInUse;
        break;
      }
      // The same card seen again (a reader glitch, or a tap): the member is there.
      last_activity_ = now;
      card_present_ = config_.mode == SessionMode::kCardStays;
      break;
    case MachineState::kGrace:
      if (member != member_) {
        fx.result = InputResult::kMachineInUse;
      } else if (!may_resume(now)) {
        // The maximum duration ended the session, or passed while Grace ran: nothing resumes.
        fx.result = InputResult::kUnavailable;
      } else {
        card_present_ = config_.mode == SessionMode::kCardStays;
        resume(now, fx);
      }
      break;
    case MachineState::kStartup:
    case MachineState::kAwaitingCheckoff:
    case MachineState::kOutOfService:
    case MachineState::kFireAlarm:
    case MachineState::kFault:
      fx.result = InputResult::kUnavailable;
      break;
  }
  if (fx.result != InputResult::kAccepted) fx.feedback = Feedback::kDenied;
  finish(fx);
  return fx;
}

MachineEffects MachineInterlock::deny(Millis now) noexcept {
  MachineEffects fx = begin(now);
  fx.result = InputResult::kAccepted;
  fx.feedback = Feedback::kDenied;
  finish(fx);
  return fx;
}

MachineEffects MachineInterlock::card_removed(Millis now) noexcept {
  MachineEffects fx = begin(now);
  if (config_.mode == SessionMode::kCardStays && card_present_) {
    card_present_ = false;
    fx.result = InputResult::kAccepted;
    if (state_ == MachineState::kInUse) start_grace(EndReason::kCardRemoved, now, fx);
  }
  finish(fx);
  return fx;
}

MachineEffects MachineInterlock::tap_off(std::int64_t member, Millis now) noexcept {
  MachineEffects fx = begin(now);
  const bool ours = session_ && member == member_ && config_.mode == SessionMode::kTapOnTapOff;
  if (ours && (state_ == MachineState::kInUse || state_ == MachineState::kGrace)) {
    fx.result = InputResult::kAccepted;
    fx.feedback = Feedback::kGranted;
    end_session_at_once(EndReason::kTapOff, now, fx);
    after_use(now, fx);
  }
  finish(fx);
  return fx;
}

MachineEffects MachineInterlock::busy(bool active, Millis now) noexcept {
  MachineEffects fx = begin(now);
  if (!config_.has_busy_input || active == busy_) {
    finish(fx);
    return fx;
  }
  // The flag is tracked in every state: it decides later whether power may be cut.
  busy_ = active;
  if (!active && busy_alarm_) {
    // Seen low again: the sensor works, and its next rise is a real job.
    busy_alarm_ = false;
    fx.result = InputResult::kAccepted;
    fx.alarms.push_back({busy_alarm_kind_, false, session_ ? member_ : last_member_, now});
  }
  switch (state_) {
    case MachineState::kInUse:
      last_activity_ = now;
      fx.result = InputResult::kAccepted;
      break;
    case MachineState::kGrace:
      if (active && grace_reason_ == EndReason::kIdleTimeout && may_resume(now) &&
          (card_present_ || config_.mode == SessionMode::kTapOnTapOff)) {
        fx.result = InputResult::kAccepted;
        resume(now, fx);
      }
      break;
    case MachineState::kBusyHold:
      if (!active) {
        fx.result = InputResult::kAccepted;
        settle(now, fx);
      }
      break;
    case MachineState::kStartup:
    case MachineState::kIdle:
    case MachineState::kAwaitingCheckoff:
    case MachineState::kOutOfService:
    case MachineState::kFireAlarm:
    case MachineState::kFault:
      break;
  }
  finish(fx);
  return fx;
}

MachineEffects MachineInterlock::activity(Millis now) noexcept {
  MachineEffects fx = begin(now);
  if (state_ == MachineState::kInUse) {
    last_activity_ = now;
    fx.result = InputResult::kAccepted;
  } else if (grace_reason_ == EndReason::kIdleTimeout && may_resume(now) &&
             (card_present_ || config_.mode == SessionMode::kTapOnTapOff)) {
    fx.result = InputResult::kAccepted;
    resume(now, fx);
  }
  finish(fx);
  return fx;
}

MachineEffects MachineInterlock::lockout(OutOfServiceReason reason, Millis now) noexcept {
  MachineEffects fx = begin(now);
  if (staff_settable(reason) && lockout_ != reason && lockout_ != OutOfServiceReason::kBadConfig) {
    fx.result = InputResult::kAccepted;
    end_session_at_once(EndReason::kStaff, now, fx);
    lockout_ = reason;
    settle(now, fx);
  }
  finish(fx);
  return fx;
}

MachineEffects MachineInterlock::release(Millis now) noexcept {
  MachineEffects fx = begin(now);
  if (lockout_ != OutOfServiceReason::kNone && lockout_ != OutOfServiceReason::kBadConfig) {
    fx.result = InputResult::kAccepted;
    lockout_ = OutOfServiceReason::kNone;
    if (state_ == MachineState::kOutOfService) settle(now, fx);
  }
  finish(fx);
  return fx;
}

MachineEffects MachineInterlock::fire_alarm(bool active, Millis now) noexcept {
  MachineEffects fx = begin(now);
  if (active != fire_active_) {
    fire_active_ = active;
    fx.result = InputResult::kAccepted;
    if (active) {
      end_session_at_once(EndReason::kFireAlarm, now, fx);
      // The machine lost power under a member's hands: staff must look before it runs again.
      needs_confirm_ = true;
    }
    settle(now, fx);
  }
  finish(fx);
  return fx;
}

MachineEffects MachineInterlock::reader(bool up, Millis now) noexcept {
  MachineEffects fx = begin(now);
  if (up == reader_down_) {
    reader_down_ = !up;
    fx.result = InputResult::kAccepted;
    if (!up) {
      card_present_ = false;
      if (state_ == MachineState::kInUse) start_grace(EndReason::kReaderDown, now, fx);
    }
  }
  finish(fx);
  return fx;
}

MachineEffects MachineInterlock::fault(bool active, Millis now) noexcept {
  MachineEffects fx = begin(now);
  if (active != fault_active_) {
    fault_active_ = active;
    fx.result = InputResult::kAccepted;
    if (active) end_session_at_once(EndReason::kFault, now, fx);
    settle(now, fx);
  }
  finish(fx);
  return fx;
}

MachineEffects MachineInterlock::tick(Millis now) noexcept {
  MachineEffects fx = begin(now);
  finish(fx);
  if (!fx.events.empty() || !fx.transitions.empty() || fx.warning_beep) {
    fx.result = InputResult::kAccepted;
  }
  return fx;
}

}  // namespace labgate::firmware
