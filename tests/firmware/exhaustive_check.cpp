// Exhaustive check of the firmware controllers (issue 20, part 1).
//
// A breadth-first search drives the real DoorController and MachineInterlock with every input,
// crossed with the clock readings that matter (the same time, +1 ms, a backwards reading, a
// far-future reading, and deadline -1, 0, +1 for every pending deadline), until no new state
// appears: a fixpoint, not a depth bound. States are de-duplicated by a key over every field of
// the controller (read through the TestPeer friends) and of the reference model, with times taken
// relative to now and clamped beyond the largest sum of constants, where no comparison can tell
// them apart any more. After every call the outputs are checked against a small reference model
// built from the inputs alone; a violation prints the shortest input trace that reproduces it.
//
// Usage: labgate_firmware_exhaustive [--scale N] [--quick] [--only door|machine]
//   --scale N  multiplies every base timing constant (1-3 ms) by N; default 2, more is a longer run
//              of the same orderings
//   --quick    a smaller lattice for slow builds (sanitizers); see machine_lattice below
//   --full-key keys machine states on every field, dead ones included (slower, same verdict)
//   --verbose  prints states and time per config
// Exit status 0: every config reached its fixpoint with no violation.

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "labgate/firmware/door_controller.hpp"
#include "labgate/firmware/machine_interlock.hpp"

namespace labgate::firmware {

namespace {

// Times relative to now, clamped: a time further than `horizon` in the past or future compares
// the same way with every reachable reading, so it is folded into one value.
class KeyBuilder {
 public:
  KeyBuilder(Millis now, std::int64_t horizon) : now_(now), horizon_(horizon) {}
  void add(std::int64_t v) {
    if (size_ < key_.size()) key_[size_] = v;
    ++size_;
  }
  void time(Millis t) { time(t, Millis{horizon_}); }
  // `reach`: the largest constant the code ever adds to this field before comparing it. A time
  // more than `reach` in the past compares like any older one with every reading from now on.
  void time(Millis t, Millis reach) {
    std::int64_t rel = (t - now_).count();
    if (rel < -reach.count()) rel = -reach.count() - 1;
    if (rel > horizon_) rel = horizon_ + 1;
    add(rel);
  }
  void opt_time(const std::optional<Millis>& t) {
    add(t.has_value());
    if (t) time(*t);
  }
  template <typename E>
  void en(E e) {
    add(static_cast<std::int64_t>(e));
  }
  bool overflowed() const { return size_ > key_.size(); }
  const std::array<std::int64_t, 48>& key() const { return key_; }

 private:
  Millis now_;
  std::int64_t horizon_;
  std::array<std::int64_t, 48> key_{};
  std::size_t size_{0};
};

}  // namespace

// Test-only access: builds controllers with constants below the production minimums (the orderings
// are what matters, see firmware/README.md) and reads every private field for the state key.
struct DoorControllerTestPeer {
  static DoorController make(const DoorConfig& config) {
    DoorController d{config};
    d.config_error_ = DoorConfigError::kNone;
    d.state_ = DoorState::kLocked;
    d.last_strike_ = false;
    return d;
  }
  static Millis now(const DoorController& d) { return d.last_now_; }
  static void deadlines(const DoorController& d, std::vector<Millis>& out) {
    if (d.pulse_until_) out.push_back(*d.pulse_until_);
    if (d.state_ == DoorState::kOpen) out.push_back(d.open_since_ + d.config_.held_open_limit);
  }
  static void key(const DoorController& d, KeyBuilder& k) {
    k.en(d.config_error_);
    k.en(d.state_);
    k.en(d.contact_);
    k.en(d.cause_);
    k.opt_time(d.pulse_until_);
    k.time(d.open_since_, d.config_.held_open_limit);
    k.add(d.fire_active_);
    k.add(d.fault_active_);
    k.add(d.last_strike_);
  }
};

struct MachineInterlockTestPeer {
  static Millis now(const MachineInterlock& m) { return m.last_now_; }
  static void deadlines(const MachineInterlock& m, std::vector<Millis>& out) {
    for (const auto& d : {m.idle_deadline(), m.max_deadline(), m.hold_deadline()}) {
      if (d) out.push_back(*d);
    }
    if (m.state_ == MachineState::kGrace) {
      out.push_back(m.grace_until_);
      out.push_back(m.next_beep_);
    }
    // The maximum still matters in Grace: it decides whether the member may resume.
    if (m.session_ && m.config_.max_session != Millis{0}) {
      out.push_back(m.started_at_ + m.config_.max_session);
    }
  }
  // `full`: every field. Otherwise the session fields are left out while no session is open and
  // hold_since_ outside kBusyHold: the code writes them before it reads them again (at session
  // start, at Grace entry, at hold entry), so they cannot change what happens next.
  static void key(const MachineInterlock& m, KeyBuilder& k, bool full) {
    k.en(m.config_error_);
    k.en(m.state_);
    const MachineConfig& c = m.config_;
    k.add(m.session_);
    if (full || m.session_) {
      k.add(m.member_);
      k.time(m.started_at_, c.max_session + c.grace);
      k.time(m.last_activity_, c.idle_timeout);
      k.add(m.card_present_);
      k.en(m.grace_reason_);
      k.time(m.grace_cause_at_, c.max_session + c.grace);
      k.time(m.grace_until_, Millis{0});
      k.time(m.next_beep_, Millis{0});
    }
    k.add(m.last_member_);
    k.add(m.busy_);
    k.add(m.busy_alarm_);
    k.en(m.busy_alarm_kind_);
    if (full || m.state_ == MachineState::kBusyHold) k.time(m.hold_since_, c.busy_hold_max);
    k.add(m.fire_active_);
    k.add(m.fault_active_);
    k.add(m.reader_down_);
    k.en(m.lockout_);
    k.add(m.needs_confirm_);
    k.add(m.checkoff_pending_);
  }
};

}  // namespace labgate::firmware

namespace {

using namespace labgate::firmware;
using Clock = std::chrono::steady_clock;

Millis ms(std::int64_t v) {
  return Millis{v};
}

struct Key {
  std::array<std::int64_t, 48> v;
  friend bool operator==(const Key& a, const Key& b) { return a.v == b.v; }
};

struct KeyHash {
  std::size_t operator()(const Key& k) const {
    std::uint64_t h = 1469598103934665603ULL;
    for (std::int64_t x : k.v) {
      h ^= static_cast<std::uint64_t>(x);
      h *= 1099511628211ULL;
    }
    return static_cast<std::size_t>(h);
  }
};

struct Step {
  int input{0};
  Millis at{};
};

// Checks one transition; the first failed check names the broken promise.
class Verdict {
 public:
  void require(bool ok, const char* invariant) {
    if (!ok && failed_.empty()) failed_ = invariant;
  }
  bool ok() const { return failed_.empty(); }
  const std::string& what() const { return failed_; }

 private:
  std::string failed_;
};

template <typename S>
void check_time_order(const FixedVector<Transition<S>, 6>& ts, Millis prev_now, Millis now,
                      Verdict& v) {
  Millis last = prev_now;
  for (const auto& t : ts) {
    v.require(t.at >= last && t.at <= now, "I8 transitions are in time order");
    last = t.at;
  }
}

// ---------------------------------------------------------------------------------------------
// Door

struct DoorRef {
  bool fire{false};
  bool fault{false};
  bool contact_open{false};
  Millis open_ref{0};  // the held-open clock may not run from before this
  bool pulse{false};   // a release that may pulse, not ended by a relock on close
  Millis pulse_start{0};
  bool held_alarm{false};
  bool forced_alarm{false};
  bool strike{false};
};

struct DoorSys {
  using Config = DoorConfig;
  using Controller = DoorController;
  using Peer = DoorControllerTestPeer;
  using Ref = DoorRef;
  enum Input {
    kGrant,
    kDeny,
    kExit,
    kRemote,
    kOpen,
    kClose,
    kFireOn,
    kFireOff,
    kFaultOn,
    kFaultOff,
    kTick,
    kInputs
  };
  static constexpr const char* kNames[kInputs] = {
      "grant",   "deny",     "exit_button", "remote_unlock", "contact(open)", "contact(closed)",
      "fire_on", "fire_off", "fault_on",    "fault_off",     "tick"};

  const Config& cfg;

  static std::int64_t horizon(const Config& c) {
    return (c.strike_pulse + c.held_open_limit).count() + 2;
  }
  static Controller make(const Config& c) { return Peer::make(c); }

  DoorEffects call(Controller& d, int input, Millis t) const {
    switch (input) {
      case kGrant:
        return d.grant(t);
      case kDeny:
        return d.deny(t);
      case kExit:
        return d.exit_button(t);
      case kRemote:
        return d.remote_unlock(t);
      case kOpen:
        return d.contact(DoorContact::kOpen, t);
      case kClose:
        return d.contact(DoorContact::kClosed, t);
      case kFireOn:
        return d.fire_alarm(true, t);
      case kFireOff:
        return d.fire_alarm(false, t);
      case kFaultOn:
        return d.fault(true, t);
      case kFaultOff:
        return d.fault(false, t);
      default:
        return d.tick(t);
    }
  }

  bool fire_release_on(const Ref& r) const { return r.fire && cfg.fire_release; }

  // Applies `input` at reading `at` to the controller and the model; checks every invariant.
  void step(Controller& d, Ref& r, int input, Millis at, Millis prev_now, Verdict& v) const {
    const Millis t = at < prev_now ? prev_now : at;  // the monotonic reading the model uses
    const bool normal_before = !fire_release_on(r) && !r.fault;
    const bool pulse_before = r.pulse && t < r.pulse_start + cfg.strike_pulse;
    const bool contact_edge = cfg.has_contact && ((input == kOpen && !r.contact_open) ||
                                                  (input == kClose && r.contact_open));
    switch (input) {
      case kGrant:
      case kExit:
      case kRemote:
        if (!fire_release_on(r)) {
          r.pulse = true;
          r.pulse_start = t;
        }
        if (r.contact_open) r.open_ref = t;
        break;
      case kOpen:
        if (contact_edge) {
          r.contact_open = true;
          r.open_ref = t;
        }
        break;
      case kClose:
        if (contact_edge) {
          r.contact_open = false;
          if (normal_before) r.pulse = false;  // relock on close
        }
        break;
      case kFireOn:
      case kFireOff:
        if (r.fire != (input == kFireOn)) r.open_ref = t;
        r.fire = input == kFireOn;
        break;
      case kFaultOn:
      case kFaultOff:
        if (r.fault != (input == kFaultOn)) r.open_ref = t;
        r.fault = input == kFaultOn;
        break;
      default:
        break;
    }

    const DoorEffects fx = call(d, input, at);

    check_time_order(fx.transitions, prev_now, t, v);
    bool forced_raised = false;
    for (DoorEvent e : fx.events) {
      v.require(e != DoorEvent::kTrap, "I10 no trap state");
      if (e == DoorEvent::kHeldOpen) {
        v.require(!r.held_alarm, "I9 alarms raise and clear in pairs");
        r.held_alarm = true;
      } else if (e == DoorEvent::kHeldOpenCleared) {
        v.require(r.held_alarm, "I9 alarms raise and clear in pairs");
        r.held_alarm = false;
      } else if (e == DoorEvent::kForcedOpen) {
        v.require(!r.forced_alarm, "I9 alarms raise and clear in pairs");
        r.forced_alarm = true;
        forced_raised = true;
      } else if (e == DoorEvent::kForcedOpenCleared) {
        v.require(r.forced_alarm, "I9 alarms raise and clear in pairs");
        r.forced_alarm = false;
      }
    }
    v.require(r.held_alarm == (fx.state == DoorState::kHeldOpen) &&
                  r.forced_alarm == (fx.state == DoorState::kForcedOpen),
              "I9 an alarm is raised exactly while its state holds");

    const bool normal = !fire_release_on(r) && !r.fault;
    const bool pulse_live = r.pulse && t < r.pulse_start + cfg.strike_pulse;
    v.require(!fx.strike_release || fire_release_on(r) ||
                  (r.fault && cfg.fail_mode == FailMode::kSafe) || pulse_live,
              "D1 the strike is released only within a pulse after a release, in fire release "
              "or in a fail-safe fault");
    v.require(!fire_release_on(r) || (fx.state == DoorState::kFireRelease && fx.strike_release),
              "D2 a fire_release door releases on fire in the same call");
    v.require(fire_release_on(r) || !r.fault || fx.state == DoorState::kFault,
              "D3 a fault puts the door in its fail mode in the same call");
    v.require(!(normal && r.contact_open && t >= r.open_ref + cfg.held_open_limit) ||
                  fx.state == DoorState::kHeldOpen || fx.state == DoorState::kForcedOpen,
              "D4 a door open past its limit is HeldOpen or ForcedOpen");
    v.require(!(input == kOpen && contact_edge && normal_before && !pulse_before) ||
                  (fx.state == DoorState::kForcedOpen && forced_raised),
              "D5 a contact opening with no release is ForcedOpen with its alarm in the same call");
    r.strike = fx.strike_release;
  }

  // From any state, once fire and fault have cleared and the door is closed, a grant releases.
  void liveness(Controller d, Millis now, Verdict& v) const {
    const Millis far = now + ms(2 * horizon(cfg));
    d.fire_alarm(false, far);
    d.fault(false, far);
    d.contact(DoorContact::kClosed, far);
    d.tick(far + ms(horizon(cfg)));
    const DoorEffects fx = d.grant(far + ms(horizon(cfg)));
    v.require(fx.result == InputResult::kAccepted && fx.strike_release &&
                  fx.state == DoorState::kUnlocked,
              "L1 liveness: once fire and fault clear, a grant releases the door");
  }

  void key(const Controller& d, const Ref& r, KeyBuilder& k) const {
    Peer::key(d, k);
    k.add(r.fire);
    k.add(r.fault);
    k.add(r.contact_open);
    k.time(r.open_ref, cfg.held_open_limit);
    k.add(r.pulse);
    k.time(r.pulse_start, cfg.strike_pulse);
    k.add(r.held_alarm);
    k.add(r.forced_alarm);
    k.add(r.strike);
  }

  static std::string describe(const Config& c) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "pulse=%lld held_open=%lld fail=%s fire_release=%d egress=%d contact=%d",
                  static_cast<long long>(c.strike_pulse.count()),
                  static_cast<long long>(c.held_open_limit.count()), to_string(c.fail_mode),
                  c.fire_release, c.egress, c.has_contact);
    return buf;
  }
};

// ---------------------------------------------------------------------------------------------
// Machine

constexpr std::int64_t kA = 1;
constexpr std::int64_t kB = 2;

struct MachineRef {
  bool fire{false};
  bool fault{false};
  bool lockout{false};
  bool confirmed{false};          // staff confirmed since boot or the last fire
  std::array<bool, 3> granted{};  // member granted since the last stop
  bool busy{false};               // the busy input
  bool busy_suspect{false};       // high when a session started from Idle, not seen low since
  bool relay{false};              // output of the previous call
  // Anchors taken from the outputs, checked against the inputs above.
  bool session{false};
  std::int64_t member{0};
  Millis start{0};
  std::int64_t ended_member{0};
  Millis ended_start{0};
  bool hold{false};
  std::int64_t hold_member{0};
  Millis hold_start{0};
  Millis hold_session_start{0};
  bool busy_alarm{false};
  MachineAlarmKind busy_alarm_kind{MachineAlarmKind::kBusySensor};
  bool reader_down{false};  // the machine's reader is down
  Millis down_at{0};        // since when
};

struct MachineSys {
  using Config = MachineConfig;
  static inline bool full_key = false;
  using Controller = MachineInterlock;
  using Peer = MachineInterlockTestPeer;
  using Ref = MachineRef;
  enum Input {
    kConfirm,
    kGrantA,
    kGrantB,
    kDeny,
    kCardRemoved,
    kTapOffA,
    kTapOffB,
    kBusyOn,
    kBusyOff,
    kActivity,
    kLockout,
    kLockoutOther,
    kRelease,
    kFireOn,
    kFireOff,
    kFaultOn,
    kFaultOff,
    kReaderDown,
    kReaderUp,
    kTick,
    kInputs
  };
  static constexpr const char* kNames[kInputs] = {
      "staff_confirm",  "grant(A)",         "grant(B)",    "deny",      "card_removed",
      "tap_off(A)",     "tap_off(B)",       "busy(on)",    "busy(off)", "activity",
      "lockout(staff)", "lockout(problem)", "release",     "fire_on",   "fire_off",
      "fault_on",       "fault_off",        "reader_down", "reader_up", "tick"};

  const Config& cfg;

  static std::int64_t horizon(const Config& c) {
    return (c.grace + c.warn_interval + c.idle_timeout + c.max_session + c.busy_hold_max).count() +
           2;
  }
  static Controller make(const Config& c) { return Controller{c}; }

  MachineEffects call(Controller& m, int input, Millis t) const {
    switch (input) {
      case kConfirm:
        return m.staff_confirm(t);
      case kGrantA:
        return m.grant(kA, t);
      case kGrantB:
        return m.grant(kB, t);
      case kDeny:
        return m.deny(t);
      case kCardRemoved:
        return m.card_removed(t);
      case kTapOffA:
        return m.tap_off(kA, t);
      case kTapOffB:
        return m.tap_off(kB, t);
      case kBusyOn:
        return m.busy(true, t);
      case kBusyOff:
        return m.busy(false, t);
      case kActivity:
        return m.activity(t);
      case kLockout:
        return m.lockout(OutOfServiceReason::kStaffLockout, t);
      case kLockoutOther:
        return m.lockout(OutOfServiceReason::kProblemReported, t);
      case kRelease:
        return m.release(t);
      case kFireOn:
        return m.fire_alarm(true, t);
      case kFireOff:
        return m.fire_alarm(false, t);
      case kFaultOn:
        return m.fault(true, t);
      case kFaultOff:
        return m.fault(false, t);
      case kReaderDown:
        return m.reader(false, t);
      case kReaderUp:
        return m.reader(true, t);
      default:
        return m.tick(t);
    }
  }

  void stop(Ref& r) const { r.granted = {}; }

  void step(Controller& m, Ref& r, int input, Millis at, Millis prev_now, Verdict& v) const {
    const Millis t = at < prev_now ? prev_now : at;
    const bool busy_before = r.busy;
    switch (input) {
      case kConfirm:
        if (!r.fire && !r.fault && !r.lockout) r.confirmed = true;
        break;
      case kGrantA:
        r.granted[kA] = true;
        break;
      case kGrantB:
        r.granted[kB] = true;
        break;
      case kBusyOn:
      case kBusyOff:
        if (cfg.has_busy_input) r.busy = input == kBusyOn;
        if (cfg.has_busy_input && input == kBusyOff) r.busy_suspect = false;
        break;
      case kLockout:
      case kLockoutOther:
        r.lockout = true;
        stop(r);
        break;
      case kRelease:
        r.lockout = false;
        break;
      case kFireOn:
        if (!r.fire) r.confirmed = false;
        r.fire = true;
        stop(r);
        break;
      case kFireOff:
        r.fire = false;
        break;
      case kFaultOn:
        r.fault = true;
        stop(r);
        break;
      case kFaultOff:
        r.fault = false;
        break;
      case kReaderDown:
        if (!r.reader_down) r.down_at = t;
        r.reader_down = true;
        break;
      case kReaderUp:
        r.reader_down = false;
        break;
      default:
        break;
    }

    const MachineEffects fx = call(m, input, at);
    const bool grant_input = input == kGrantA || input == kGrantB;
    const std::int64_t granted_member = input == kGrantA ? kA : kB;
    const Millis max = cfg.max_session;

    check_time_order(fx.transitions, prev_now, t, v);
    Millis last = prev_now;
    for (const MachineEvent& e : fx.events) {
      if (e.kind == MachineEventKind::kSessionEnded) {
        v.require(r.session && e.member == r.member && e.started_at == r.start && e.at >= r.start &&
                      e.at <= t,
                  "I11 a session ends once, at a time between its start and now");
        r.session = false;
        r.ended_member = r.member;
        r.ended_start = r.start;
        continue;
      }
      v.require(e.at >= last && e.at <= t, "I8 events are in time order");
      last = e.at;
      switch (e.kind) {
        case MachineEventKind::kSessionStarted:
          v.require(!r.session && grant_input && e.member == granted_member && e.at == t,
                    "I11 a session starts only in its member's grant");
          v.require(!r.reader_down, "R2 no session starts while the machine's reader is down");
          r.session = true;
          r.member = e.member;
          r.start = e.at;
          break;
        case MachineEventKind::kSessionResumed:
        case MachineEventKind::kGraceStarted:
          v.require(r.session && e.member == r.member, "I11 Grace belongs to the open session");
          break;
        case MachineEventKind::kTrap:
          v.require(false, "I10 no trap state");
          break;
        case MachineEventKind::kSessionEnded:
          break;
      }
    }
    last = prev_now;
    for (const MachineAlarm& a : fx.alarms) {
      v.require(a.at >= last && a.at <= t, "I8 alarms are in time order");
      last = a.at;
      v.require(a.raised != r.busy_alarm && (a.raised || a.kind == r.busy_alarm_kind),
                "I9 alarms raise and clear in pairs");
      r.busy_alarm = a.raised;
      r.busy_alarm_kind = a.kind;
    }
    for (const auto& tr : fx.transitions) {
      if (tr.from == MachineState::kIdle && tr.to == MachineState::kInUse && busy_before) {
        r.busy_suspect = true;
      }
      if (tr.to == MachineState::kBusyHold) {
        r.hold = true;
        r.hold_member = r.ended_member;
        r.hold_start = tr.at;
        r.hold_session_start = r.ended_start;
      } else if (tr.from == MachineState::kBusyHold) {
        r.hold = false;
      }
    }

    const bool in_session = fx.state == MachineState::kInUse || fx.state == MachineState::kGrace;
    v.require(in_session == r.session, "I11 the state shows a session exactly while one is open");
    v.require(!r.session || max == Millis{0} || t < r.start + max + cfg.grace,
              "M3 no session outlives max + grace");
    v.require(!(r.reader_down && fx.state == MachineState::kInUse),
              "R1 a machine whose reader is down is never InUse");
    v.require(!(r.reader_down && r.session) || t < r.down_at + cfg.grace,
              "R3 a session open when its reader went down ends within Grace");
    if (fx.relay) {
      v.require(!r.fire && !r.fault && !r.lockout,
                "M1 relay on requires no fire, fault or lockout");
      v.require(r.confirmed, "M1 relay on requires a staff confirm since boot or the last fire");
      if (in_session) {
        v.require(r.session && r.granted[static_cast<std::size_t>(r.member)],
                  "M1 relay on requires the session's member granted since the last stop");
      } else if (fx.state == MachineState::kBusyHold) {
        v.require(cfg.has_busy_input && r.busy && r.hold &&
                      r.granted[static_cast<std::size_t>(r.hold_member)],
                  "M1 relay on in BusyHold requires a high busy input after a granted session");
        v.require(!r.busy_suspect,
                  "M5 a busy input already high at a session start from Idle holds no power");
        v.require(cfg.busy_hold_max == Millis{0} || t < r.hold_start + cfg.busy_hold_max,
                  "M4 BusyHold ends at busy_hold_max");
        v.require(max == Millis{0} || r.hold_start <= r.hold_session_start + max + cfg.grace,
                  "M3 BusyHold begins when the session ends");
      } else {
        v.require(false, "M1 relay on only in InUse, Grace or BusyHold");
      }
    }
    v.require(!(fx.relay && !r.relay) || grant_input,
              "M2 the relay goes from off to on only in a grant");
    v.require(!fx.relay || !(input == kFireOn || input == kFaultOn || input == kLockout ||
                             input == kLockoutOther),
              "M6 fire, fault and lockout cut the relay in the same call");
    r.relay = fx.relay;
  }

  // From any state, once every stop condition has cleared and the member has left, confirm and
  // grant make progress.
  void liveness(Controller m, Millis now, Verdict& v) const {
    const Millis far = now + ms(2 * horizon(cfg));
    m.fire_alarm(false, far);
    m.fault(false, far);
    m.reader(true, far);
    m.release(far);
    m.busy(false, far);
    // A session with no idle or maximum limit runs until its member leaves.
    m.tap_off(kA, far);
    m.tap_off(kB, far);
    m.card_removed(far);
    m.tick(far + ms(horizon(cfg)));
    m.staff_confirm(far + ms(horizon(cfg)));
    const MachineEffects fx = m.grant(kA, far + ms(horizon(cfg)));
    v.require(fx.result == InputResult::kAccepted && fx.relay && fx.state == MachineState::kInUse,
              "L1 liveness: once stops clear, confirm and grant power the machine");
  }

  void key(const Controller& m, const Ref& r, KeyBuilder& k) const {
    Peer::key(m, k, full_key);
    // Only the model's live facts: the relay and busy copies equal the controller's outputs, the
    // ended_* anchors live within one call, and closed anchors are never read again.
    std::int64_t bits = 0;
    for (bool b : {r.fire, r.fault, r.lockout, r.confirmed, r.granted[1], r.granted[2],
                   r.busy_suspect, r.session, r.hold, r.busy_alarm, r.reader_down}) {
      bits = bits * 2 + b;
    }
    k.add(bits);
    k.en(r.busy_alarm_kind);
    const Millis session = cfg.max_session + cfg.grace;
    if (r.session) {
      k.add(r.member);
      k.time(r.start, session);
      if (r.reader_down) k.time(r.down_at, cfg.grace);
    }
    if (r.hold) {
      k.add(r.hold_member);
      k.time(r.hold_start, cfg.busy_hold_max);
      // Only whether the hold began within max + grace of the session start is ever read.
      k.add(r.hold_start <= r.hold_session_start + session);
    }
  }

  static std::string describe(const Config& c) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "mode=%s grace=%lld warn=%lld idle=%lld max=%lld busy=%d hold_max=%lld "
                  "checkoff=%d",
                  to_string(c.mode), static_cast<long long>(c.grace.count()),
                  static_cast<long long>(c.warn_interval.count()),
                  static_cast<long long>(c.idle_timeout.count()),
                  static_cast<long long>(c.max_session.count()), c.has_busy_input,
                  static_cast<long long>(c.busy_hold_max.count()), c.needs_checkoff);
    return buf;
  }
};

// ---------------------------------------------------------------------------------------------
// Search

struct Stats {
  std::size_t configs{0};
  std::size_t states{0};
  std::size_t transitions{0};
  std::size_t max_states{0};
  double seconds{0};
};

template <typename Sys>
struct Node {
  typename Sys::Controller c;
  typename Sys::Ref r;
  std::int64_t parent;
  Step via;
};

template <typename Sys>
void print_trace(const std::vector<Node<Sys>>& nodes, std::int64_t at, const Step& last,
                 const std::string& what, const typename Sys::Config& cfg) {
  std::vector<Step> steps{last};
  for (std::int64_t i = at; i > 0; i = nodes[static_cast<std::size_t>(i)].parent) {
    steps.push_back(nodes[static_cast<std::size_t>(i)].via);
  }
  std::fprintf(stderr, "VIOLATION: %s\n  config: %s\n  shortest trace (%zu calls):\n", what.c_str(),
               Sys::describe(cfg).c_str(), steps.size());
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (it->input < 0) {
      std::fprintf(stderr,
                   "    then the liveness probe (clear fire, fault, lockout, busy; the member "
                   "leaves; time passes; confirm; grant)\n");
    } else {
      std::fprintf(stderr, "    %s@%lld\n", Sys::kNames[it->input],
                   static_cast<long long>(it->at.count()));
    }
  }
}

// Breadth-first search to the fixpoint; false (after printing the trace) on a violation.
template <typename Sys>
bool explore(const typename Sys::Config& cfg, Stats& stats) {
  const Sys sys{cfg};
  const std::int64_t horizon = Sys::horizon(cfg);
  std::vector<Node<Sys>> nodes;
  std::unordered_set<Key, KeyHash> seen;
  auto key_of = [&](const Node<Sys>& n) {
    KeyBuilder k{Sys::Peer::now(n.c), horizon};
    sys.key(n.c, n.r, k);
    if (k.overflowed()) {
      std::fprintf(stderr, "state key too long\n");
      std::abort();
    }
    return Key{k.key()};
  };
  nodes.push_back({Sys::make(cfg), {}, -1, {}});
  seen.insert(key_of(nodes[0]));
  std::vector<Millis> readings;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Millis now = Sys::Peer::now(nodes[i].c);
    {
      Verdict v;
      sys.liveness(nodes[i].c, now, v);
      if (!v.ok()) {
        print_trace<Sys>(nodes, static_cast<std::int64_t>(i), {-1, now}, v.what(), cfg);
        return false;
      }
    }
    readings.assign({now, now + ms(1), now - ms(1), now + ms(2 * horizon)});
    std::vector<Millis> deadlines;
    Sys::Peer::deadlines(nodes[i].c, deadlines);
    for (Millis d : deadlines) {
      for (Millis t : {d - ms(1), d, d + ms(1)}) {
        if (t > now) readings.push_back(t);
      }
    }
    for (std::size_t a = 0; a < readings.size(); ++a) {
      bool dup = false;
      for (std::size_t b = 0; b < a; ++b) dup = dup || readings[a] == readings[b];
      if (dup) continue;
      for (int input = 0; input < Sys::kInputs; ++input) {
        Node<Sys> next{nodes[i].c, nodes[i].r, static_cast<std::int64_t>(i), {input, readings[a]}};
        Verdict v;
        sys.step(next.c, next.r, input, readings[a], now, v);
        ++stats.transitions;
        if (!v.ok()) {
          print_trace<Sys>(nodes, static_cast<std::int64_t>(i), next.via, v.what(), cfg);
          return false;
        }
        if (seen.insert(key_of(next)).second) nodes.push_back(next);
      }
    }
  }
  stats.states += nodes.size();
  if (nodes.size() > stats.max_states) stats.max_states = nodes.size();
  ++stats.configs;
  return true;
}

struct Options {
  // Scale 2: every window between two distinct deadlines holds at least one integer reading
  // strictly inside it besides the -1/0/+1 readings at its ends (see firmware/README.md). At scale
  // 1 a card removed 1 ms before the maximum with grace 2 leaves no reading between the maximum
  // and the Grace end, so a resume after the maximum could not even be tried.
  std::int64_t scale{2};
  bool quick{false};
  std::string only;
  bool verbose{false};
  bool full_key{false};
};

std::vector<DoorConfig> door_lattice(const Options& o) {
  std::vector<DoorConfig> out;
  const std::int64_t p = 2 * o.scale;
  // held-open limit <, = and > the strike pulse.
  for (std::int64_t held : {p - o.scale, p, p + o.scale}) {
    for (FailMode mode : {FailMode::kSecure, FailMode::kSafe}) {
      for (bool fire_release : {false, true}) {
        for (bool egress : {false, true}) {
          for (bool contact : {false, true}) {
            DoorConfig c;
            c.strike_pulse = ms(p);
            c.held_open_limit = ms(held);
            c.fail_mode = mode;
            c.fire_release = fire_release;
            c.egress = egress;
            c.has_contact = contact;
            out.push_back(c);
          }
        }
      }
    }
  }
  return out;
}

std::vector<MachineConfig> machine_lattice(SessionMode mode, const Options& o) {
  const std::int64_t s = o.scale;
  std::vector<MachineConfig> out;
  // (idle, max): idle <, = and > max, and either or both of them off.
  const std::vector<std::pair<std::int64_t, std::int64_t>> idle_max = {{1, 2}, {2, 2}, {2, 1},
                                                                       {0, 2}, {2, 0}, {0, 0}};
  // (grace, warn): grace off, warn interval shorter and longer than grace.
  const std::vector<std::pair<std::int64_t, std::int64_t>> grace_warn = {{0, 1}, {2, 1}, {2, 3}};
  // (busy input, hold limit): not wired, wired without limit, wired with a limit.
  const std::vector<std::pair<bool, std::int64_t>> busy_hold = {{false, 0}, {true, 0}, {true, 2}};
  for (const auto& [idle, max] : idle_max) {
    for (const auto& [grace, warn] : grace_warn) {
      for (const auto& [busy, hold] : busy_hold) {
        for (bool checkoff : {false, true}) {
          // Quick lattice (sanitizer builds): every boolean and every ordering still appears,
          // but check-off is only crossed with the full timing set in the normal build, since
          // it only changes where settle() lands.
          if (o.quick && checkoff && !(idle == 1 && max == 2)) continue;
          MachineConfig c;
          c.mode = mode;
          c.idle_timeout = ms(idle * s);
          c.max_session = ms(max * s);
          c.grace = ms(grace * s);
          c.warn_interval = ms(warn * s);
          c.has_busy_input = busy;
          c.busy_hold_max = ms(hold * s);
          c.needs_checkoff = checkoff;
          out.push_back(c);
        }
      }
    }
  }
  return out;
}

template <typename Sys>
bool run_family(const char* name, const std::vector<typename Sys::Config>& configs, bool verbose) {
  Stats stats;
  const auto t0 = Clock::now();
  bool ok = true;
  for (const auto& c : configs) {
    const std::size_t before = stats.states;
    const auto c0 = Clock::now();
    const bool passed = explore<Sys>(c, stats);
    if (verbose) {
      std::printf("  %s: states=%zu time=%.2fs\n", Sys::describe(c).c_str(), stats.states - before,
                  std::chrono::duration<double>(Clock::now() - c0).count());
      std::fflush(stdout);
    }
    if (!passed) {
      ok = false;
      break;
    }
  }
  stats.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("%-20s configs=%zu states=%zu (max %zu per config) transitions=%zu time=%.2fs %s\n",
              name, stats.configs, stats.states, stats.max_states, stats.transitions, stats.seconds,
              ok ? "fixpoint" : "VIOLATION");
  std::fflush(stdout);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--scale" && i + 1 < argc) {
      o.scale = std::atoll(argv[++i]);
    } else if (a == "--full-key") {
      o.full_key = true;
    } else if (a == "--verbose") {
      o.verbose = true;
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--only" && i + 1 < argc) {
      o.only = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: %s [--scale N] [--quick] [--only door|machine] [--verbose]\n"
                   "       [--full-key]\n",
                   argv[0]);
      return 2;
    }
  }
  if (o.scale < 1) {
    std::fprintf(stderr, "--scale must be at least 1\n");
    return 2;
  }
  MachineSys::full_key = o.full_key;
  const auto t0 = Clock::now();
  bool ok = true;
  if (o.only.empty() || o.only == "door") {
    ok = run_family<DoorSys>("door", door_lattice(o), o.verbose) && ok;
  }
  if (o.only.empty() || o.only == "machine") {
    ok = run_family<MachineSys>("machine/card_stays", machine_lattice(SessionMode::kCardStays, o),
                                o.verbose) &&
         ok;
    ok = run_family<MachineSys>("machine/tap", machine_lattice(SessionMode::kTapOnTapOff, o),
                                o.verbose) &&
         ok;
  }
  std::printf("total time=%.2fs scale=%lld%s: %s\n",
              std::chrono::duration<double>(Clock::now() - t0).count(),
              static_cast<long long>(o.scale), o.quick ? " (quick lattice)" : "",
              ok ? "every config reached its fixpoint with no violation" : "VIOLATION");
  return ok ? 0 : 1;
}
