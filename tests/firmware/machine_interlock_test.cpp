#include "labgate/firmware/machine_interlock.hpp"

#include <string>
#include <vector>

#include "test_support.hpp"

namespace labgate::firmware {

// Reaches the private state so the trap for impossible states can be exercised.
struct MachineInterlockTestPeer {
  static void corrupt_state(MachineInterlock& m, int raw) {
    m.state_ = static_cast<MachineState>(raw);
  }
};

}  // namespace labgate::firmware

namespace {

using namespace labgate::firmware;
using labgate::firmware::test::list;
using labgate::firmware::test::ms;
using S = MachineState;
using K = MachineEventKind;
using R = EndReason;
using T = Transition<MachineState>;
using Ev = MachineEvent;
using AK = MachineAlarmKind;
using Al = MachineAlarm;

constexpr std::int64_t kAlice = 7;
constexpr std::int64_t kBob = 8;

// Short, distinct timings so every boundary is easy to read in the tests.
MachineConfig card_config() {
  MachineConfig c;
  c.mode = SessionMode::kCardStays;
  c.grace = ms(30000);
  c.warn_interval = ms(5000);
  c.idle_timeout = ms(0);
  c.max_session = ms(0);
  return c;
}

MachineConfig tap_config() {
  MachineConfig c = card_config();
  c.mode = SessionMode::kTapOnTapOff;
  return c;
}

// A machine that staff confirmed at time 0.
MachineInterlock ready(const MachineConfig& c) {
  MachineInterlock m{c};
  m.staff_confirm(ms(0));
  return m;
}

Ev started(std::int64_t member, Millis at) {
  return {K::kSessionStarted, member, at, at, R::kTapOff};
}

Ev ended(std::int64_t member, Millis at, Millis started_at, R reason) {
  return {K::kSessionEnded, member, at, started_at, reason};
}

Ev grace(std::int64_t member, Millis at, Millis started_at, R reason) {
  return {K::kGraceStarted, member, at, started_at, reason};
}

// An input that means nothing must leave every output as it was and report nothing.
void require_ignored(const MachineEffects& fx, const MachineInterlock& m, bool relay_before) {
  CHECK(fx.result == InputResult::kIgnored);
  CHECK(fx.state == m.state());
  CHECK(fx.relay == relay_before);
  CHECK(fx.feedback == Feedback::kNone);
  CHECK_FALSE(fx.warning_beep);
  CHECK(fx.events.empty());
  CHECK(fx.transitions.empty());
}

}  // namespace

TEST_CASE("machine config validation", "[firmware][machine]") {
  CHECK(validate(MachineConfig{}) == MachineConfigError::kNone);
  MachineConfig c;
  c.mode = static_cast<SessionMode>(5);
  CHECK(validate(c) == MachineConfigError::kUnknownMode);
  c = MachineConfig{};
  c.grace = ms(-1);
  CHECK(validate(c) == MachineConfigError::kNegativeGrace);
  c = MachineConfig{};
  c.warn_interval = ms(0);
  CHECK(validate(c) == MachineConfigError::kWarnIntervalNotPositive);
  c = MachineConfig{};
  c.idle_timeout = ms(-1);
  CHECK(validate(c) == MachineConfigError::kNegativeIdleTimeout);
  c = MachineConfig{};
  c.max_session = ms(-1);
  CHECK(validate(c) == MachineConfigError::kNegativeMaxSession);
  c = MachineConfig{};
  c.grace = ms(0);
  c.idle_timeout = ms(0);
  c.max_session = ms(0);
  CHECK(validate(c) == MachineConfigError::kNone);
  CHECK(MachineConfig{}.idle_timeout == std::chrono::minutes(15));
  CHECK(MachineConfig{}.max_session == std::chrono::hours(4));
}

TEST_CASE("a machine with a bad config stays out of service", "[firmware][machine]") {
  MachineConfig c = card_config();
  c.warn_interval = ms(0);
  MachineInterlock m{c};
  CHECK(m.config_error() == MachineConfigError::kWarnIntervalNotPositive);
  CHECK(m.state() == S::kOutOfService);
  CHECK(m.out_of_service_reason() == OutOfServiceReason::kBadConfig);
  require_ignored(m.release(ms(1)), m, false);
  require_ignored(m.staff_confirm(ms(2)), m, false);
  require_ignored(m.lockout(OutOfServiceReason::kStaffLockout, ms(3)), m, false);
  auto fx = m.grant(kAlice, ms(4));
  CHECK(fx.result == InputResult::kUnavailable);
  CHECK(fx.feedback == Feedback::kDenied);
  CHECK_FALSE(fx.relay);
  CHECK(m.fire_alarm(true, ms(5)).state == S::kFireAlarm);
  CHECK(m.fire_alarm(false, ms(6)).state == S::kOutOfService);
}

TEST_CASE("startup keeps the relay off until staff confirm", "[firmware][machine]") {
  MachineInterlock m{card_config(), ms(500)};
  CHECK(m.state() == S::kStartup);
  CHECK_FALSE(m.relay());
  auto fx = m.grant(kAlice, ms(1000));
  CHECK(fx.result == InputResult::kUnavailable);
  CHECK(fx.feedback == Feedback::kDenied);
  CHECK(fx.indicator == Indicator::kUnavailable);
  CHECK_FALSE(fx.relay);
  CHECK(fx.events.empty());
  CHECK(fx.transitions.empty());

  fx = m.staff_confirm(ms(2000));
  CHECK(fx.result == InputResult::kAccepted);
  CHECK(fx.state == S::kIdle);
  CHECK(fx.indicator == Indicator::kIdle);
  CHECK(list(fx.transitions) == std::vector<T>{{S::kStartup, S::kIdle, ms(2000)}});
  require_ignored(m.staff_confirm(ms(3000)), m, false);
}

TEST_CASE("a grant starts a session and powers the machine", "[firmware][machine]") {
  MachineInterlock m = ready(card_config());
  auto fx = m.grant(kAlice, ms(1000));
  CHECK(fx.result == InputResult::kAccepted);
  CHECK(fx.state == S::kInUse);
  CHECK(fx.relay);
  CHECK(fx.indicator == Indicator::kActive);
  CHECK(fx.feedback == Feedback::kGranted);
  CHECK(list(fx.events) == std::vector<Ev>{started(kAlice, ms(1000))});
  CHECK(list(fx.transitions) == std::vector<T>{{S::kIdle, S::kInUse, ms(1000)}});
  CHECK(m.member() == kAlice);
  CHECK(m.session_started_at() == ms(1000));
  CHECK(m.next_deadline() == std::nullopt);  // no idle timeout or maximum configured

  SECTION("another member is refused while the machine is in use") {
    fx = m.grant(kBob, ms(2000));
    CHECK(fx.result == InputResult::kMachineInUse);
    CHECK(fx.feedback == Feedback::kDenied);
    CHECK(fx.state == S::kInUse);
    CHECK(fx.relay);
    CHECK(fx.events.empty());
    CHECK(m.member() == kAlice);
  }
  SECTION("the same card seen again keeps the session") {
    fx = m.grant(kAlice, ms(2000));
    CHECK(fx.result == InputResult::kAccepted);
    CHECK(fx.events.empty());
    CHECK(fx.transitions.empty());
    CHECK(m.session_started_at() == ms(1000));
  }
  SECTION("deny is signalled without touching the session") {
    fx = m.deny(ms(2000));
    CHECK(fx.feedback == Feedback::kDenied);
    CHECK(fx.relay);
    CHECK(fx.events.empty());
    CHECK(fx.state == S::kInUse);
  }
}

TEST_CASE("card removal: grace with warning beeps, then off", "[firmware][machine]") {
  MachineInterlock m = ready(card_config());
  m.grant(kAlice, ms(1000));
  auto fx = m.card_removed(ms(10000));
  CHECK(fx.result == InputResult::kAccepted);
  CHECK(fx.state == S::kGrace);
  CHECK(fx.relay);
  CHECK(fx.indicator == Indicator::kWarning);
  CHECK(fx.warning_beep);
  CHECK(list(fx.events) == std::vector<Ev>{grace(kAlice, ms(10000), ms(1000), R::kCardRemoved)});
  CHECK(list(fx.transitions) == std::vector<T>{{S::kInUse, S::kGrace, ms(10000)}});
  CHECK(m.next_deadline() == ms(15000));

  // Beeps every warn_interval, exactly.
  for (long long beep = 15000; beep < 40000; beep += 5000) {
    INFO("beep at " << beep);
    fx = m.tick(ms(beep - 1));
    require_ignored(fx, m, true);
    fx = m.tick(ms(beep));
    CHECK(fx.warning_beep);
    CHECK(fx.result == InputResult::kAccepted);
    CHECK(fx.events.empty());
    CHECK(fx.state == S::kGrace);
  }
  CHECK(m.next_deadline() == ms(40000));
  require_ignored(m.tick(ms(39999)), m, true);

  // Grace ends: the session is billed until the card left.
  fx = m.tick(ms(40000));
  CHECK_FALSE(fx.warning_beep);
  CHECK(fx.state == S::kIdle);
  CHECK_FALSE(fx.relay);
  CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(10000), ms(1000), R::kCardRemoved)});
  CHECK(list(fx.transitions) == std::vector<T>{{S::kGrace, S::kIdle, ms(40000)}});
  CHECK(m.member() == std::nullopt);
}

TEST_CASE("sparse ticks in grace sound one beep, not a burst", "[firmware][machine]") {
  MachineInterlock m = ready(card_config());
  m.grant(kAlice, ms(0));
  m.card_removed(ms(0));
  auto fx = m.tick(ms(17000));  // beeps due at 5000, 10000, 15000
  CHECK(fx.warning_beep);
  CHECK(m.next_deadline() == ms(20000));
  require_ignored(m.tick(ms(19999)), m, true);
  CHECK(m.tick(ms(20000)).warning_beep);
}

TEST_CASE("the same card back in grace resumes the same session", "[firmware][machine]") {
  MachineInterlock m = ready(card_config());
  m.grant(kAlice, ms(1000));
  m.card_removed(ms(10000));

  auto other = m.grant(kBob, ms(12000));
  CHECK(other.result == InputResult::kMachineInUse);
  CHECK(other.feedback == Feedback::kDenied);
  CHECK(other.state == S::kGrace);

  auto fx = m.grant(kAlice, ms(39999));
  CHECK(fx.result == InputResult::kAccepted);
  CHECK(fx.state == S::kInUse);
  CHECK(fx.relay);
  CHECK(list(fx.events) ==
        std::vector<Ev>{{K::kSessionResumed, kAlice, ms(39999), ms(1000), R::kCardRemoved}});
  CHECK(list(fx.transitions) == std::vector<T>{{S::kGrace, S::kInUse, ms(39999)}});
  require_ignored(m.tick(ms(40000)), m, true);
  CHECK(m.session_started_at() == ms(1000));

  m.card_removed(ms(50000));
  fx = m.tick(ms(80000));
  CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(50000), ms(1000), R::kCardRemoved)});
}

TEST_CASE("a card back exactly at the grace end is too late", "[firmware][machine]") {
  MachineInterlock m = ready(card_config());
  m.grant(kAlice, ms(0));
  m.card_removed(ms(0));
  auto fx = m.grant(kAlice, ms(30000));
  // The old session ends at its deadline and a fresh one starts.
  CHECK(list(fx.events) ==
        std::vector<Ev>{ended(kAlice, ms(0), ms(0), R::kCardRemoved), started(kAlice, ms(30000))});
  CHECK(fx.state == S::kInUse);
}

TEST_CASE("zero grace powers off at once", "[firmware][machine]") {
  MachineConfig c = card_config();
  c.grace = ms(0);
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  auto fx = m.card_removed(ms(100));
  CHECK(fx.state == S::kIdle);
  CHECK_FALSE(fx.relay);
  CHECK_FALSE(fx.warning_beep);
  CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(100), ms(0), R::kCardRemoved)});
  CHECK(list(fx.transitions) == std::vector<T>{{S::kInUse, S::kIdle, ms(100)}});
}

TEST_CASE("idle timeout ends the session through grace", "[firmware][machine]") {
  MachineConfig c = card_config();
  c.idle_timeout = ms(60000);
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  CHECK(m.next_deadline() == ms(60000));

  SECTION("exact deadline") {
    require_ignored(m.tick(ms(59999)), m, true);
    auto fx = m.tick(ms(60000));
    CHECK(fx.state == S::kGrace);
    CHECK(fx.warning_beep);
    CHECK(list(fx.events) == std::vector<Ev>{grace(kAlice, ms(60000), ms(0), R::kIdleTimeout)});
    fx = m.tick(ms(89999));
    CHECK(fx.state == S::kGrace);
    CHECK(fx.events.empty());
    fx = m.tick(ms(90000));
    CHECK(fx.state == S::kIdle);
    CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(60000), ms(0), R::kIdleTimeout)});
  }
  SECTION("activity resets the timer") {
    CHECK(m.activity(ms(30000)).result == InputResult::kAccepted);
    CHECK(m.next_deadline() == ms(90000));
    require_ignored(m.tick(ms(89999)), m, true);
    CHECK(m.tick(ms(90000)).state == S::kGrace);
  }
  SECTION("activity during idle grace resumes") {
    m.tick(ms(60000));
    auto fx = m.activity(ms(70000));
    CHECK(fx.state == S::kInUse);
    CHECK(list(fx.events) ==
          std::vector<Ev>{{K::kSessionResumed, kAlice, ms(70000), ms(0), R::kIdleTimeout}});
    CHECK(m.next_deadline() == ms(130000));
  }
  SECTION("the member's card again during idle grace resumes") {
    m.tick(ms(60000));
    CHECK(m.grant(kAlice, ms(70000)).state == S::kInUse);
  }
  SECTION("once the card is gone, activity no longer resumes") {
    m.tick(ms(60000));
    auto fx = m.card_removed(ms(61000));
    CHECK(fx.result == InputResult::kAccepted);
    CHECK(fx.state == S::kGrace);
    CHECK(fx.events.empty());
    require_ignored(m.activity(ms(62000)), m, true);
    fx = m.tick(ms(90000));
    CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(60000), ms(0), R::kIdleTimeout)});
  }
  SECTION("one late tick runs grace and the end at their own times") {
    auto fx = m.tick(ms(500000));
    CHECK(list(fx.events) == std::vector<Ev>{grace(kAlice, ms(60000), ms(0), R::kIdleTimeout),
                                             ended(kAlice, ms(60000), ms(0), R::kIdleTimeout)});
    CHECK(list(fx.transitions) ==
          std::vector<T>{{S::kInUse, S::kGrace, ms(60000)}, {S::kGrace, S::kIdle, ms(90000)}});
    CHECK_FALSE(fx.relay);
  }
}

TEST_CASE("no idle timeout when it is zero", "[firmware][machine]") {
  MachineInterlock m = ready(card_config());
  m.grant(kAlice, ms(0));
  require_ignored(m.tick(ms(100000000)), m, true);
  CHECK(m.state() == S::kInUse);
}

TEST_CASE("a busy machine is never idle", "[firmware][machine][busy]") {
  MachineConfig c = card_config();
  c.idle_timeout = ms(60000);
  c.has_busy_input = true;
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  CHECK(m.busy(true, ms(10000)).result == InputResult::kAccepted);
  CHECK(m.next_deadline() == std::nullopt);
  require_ignored(m.tick(ms(1000000)), m, true);
  // The falling edge counts as activity.
  CHECK(m.busy(false, ms(2000000)).result == InputResult::kAccepted);
  CHECK(m.next_deadline() == ms(2060000));
  require_ignored(m.tick(ms(2059999)), m, true);
  CHECK(m.tick(ms(2060000)).state == S::kGrace);
  // Busy rising during idle grace resumes the session.
  auto fx = m.busy(true, ms(2070000));
  CHECK(fx.state == S::kInUse);
  CHECK(fx.events[0].kind == K::kSessionResumed);
}

TEST_CASE("maximum duration ends the session and cannot be resumed", "[firmware][machine]") {
  MachineConfig c = card_config();
  c.max_session = ms(100000);
  c.idle_timeout = ms(60000);
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  m.activity(ms(50000));
  CHECK(m.next_deadline() == ms(100000));
  require_ignored(m.tick(ms(99999)), m, true);
  auto fx = m.tick(ms(100000));
  CHECK(fx.state == S::kGrace);
  CHECK(list(fx.events) == std::vector<Ev>{grace(kAlice, ms(100000), ms(0), R::kMaxDuration)});

  fx = m.grant(kAlice, ms(101000));
  CHECK(fx.result == InputResult::kUnavailable);
  CHECK(fx.feedback == Feedback::kDenied);
  CHECK(fx.state == S::kGrace);
  require_ignored(m.activity(ms(102000)), m, true);

  fx = m.tick(ms(130000));
  CHECK(fx.state == S::kIdle);
  CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(100000), ms(0), R::kMaxDuration)});
}

TEST_CASE("maximum duration wins a tie with the idle timeout", "[firmware][machine]") {
  MachineConfig c = card_config();
  c.max_session = ms(60000);
  c.idle_timeout = ms(60000);
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  auto fx = m.tick(ms(60000));
  CHECK(list(fx.events) == std::vector<Ev>{grace(kAlice, ms(60000), ms(0), R::kMaxDuration)});
}

// Issue 20, 2a changed this case: the old code resumed at 25000 and then stamped a Grace for the
// maximum at 20000, earlier than the resume. The maximum passed during Grace: no resume.
TEST_CASE("a card back in grace after the maximum is refused", "[firmware][machine]") {
  MachineConfig c = card_config();
  c.max_session = ms(20000);
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  m.card_removed(ms(10000));
  auto fx = m.grant(kAlice, ms(25000));
  CHECK(fx.result == InputResult::kUnavailable);
  CHECK(fx.state == S::kGrace);
  CHECK(fx.events.empty());
  fx = m.tick(ms(40000));
  CHECK(fx.state == S::kIdle);
  CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(10000), ms(0), R::kCardRemoved)});
}

TEST_CASE("tap on, tap off", "[firmware][machine][tap]") {
  MachineInterlock m = ready(tap_config());
  m.grant(kAlice, ms(1000));
  require_ignored(m.card_removed(ms(2000)), m, true);
  require_ignored(m.tap_off(kBob, ms(3000)), m, true);
  auto fx = m.tap_off(kAlice, ms(4000));
  CHECK(fx.result == InputResult::kAccepted);
  CHECK(fx.feedback == Feedback::kGranted);
  CHECK(fx.state == S::kIdle);
  CHECK_FALSE(fx.relay);
  CHECK_FALSE(fx.warning_beep);
  CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(4000), ms(1000), R::kTapOff)});
  CHECK(list(fx.transitions) == std::vector<T>{{S::kInUse, S::kIdle, ms(4000)}});
  require_ignored(m.tap_off(kAlice, ms(5000)), m, false);
}

TEST_CASE("tap off during an idle grace ends at the idle deadline", "[firmware][machine][tap]") {
  MachineConfig c = tap_config();
  c.idle_timeout = ms(60000);
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  m.tick(ms(60000));
  auto fx = m.tap_off(kAlice, ms(65000));
  CHECK(fx.state == S::kIdle);
  CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(60000), ms(0), R::kIdleTimeout)});
}

TEST_CASE("tap off is ignored in card-stays mode", "[firmware][machine][tap]") {
  MachineInterlock m = ready(card_config());
  m.grant(kAlice, ms(0));
  require_ignored(m.tap_off(kAlice, ms(10)), m, true);
}

TEST_CASE("busy hold keeps power after billing stops", "[firmware][machine][busy]") {
  MachineConfig c = tap_config();
  c.has_busy_input = true;
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  m.busy(true, ms(1000));
  auto fx = m.tap_off(kAlice, ms(5000));
  CHECK(fx.state == S::kBusyHold);
  CHECK(fx.relay);
  CHECK(fx.indicator == Indicator::kActive);
  CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(5000), ms(0), R::kTapOff)});
  CHECK(m.member() == std::nullopt);
  require_ignored(m.tick(ms(1000000)), m, true);  // no timer runs in busy hold

  SECTION("someone else cannot take the running machine") {
    fx = m.grant(kBob, ms(1006000));
    CHECK(fx.result == InputResult::kMachineInUse);
    CHECK(fx.relay);
    CHECK(fx.state == S::kBusyHold);
  }
  SECTION("the previous member may start a new session") {
    fx = m.grant(kAlice, ms(1006000));
    CHECK(fx.state == S::kInUse);
    CHECK(list(fx.events) == std::vector<Ev>{started(kAlice, ms(1006000))});
  }
  SECTION("power goes off when the job ends") {
    fx = m.busy(false, ms(1007000));
    CHECK(fx.result == InputResult::kAccepted);
    CHECK(fx.state == S::kIdle);
    CHECK_FALSE(fx.relay);
    CHECK(fx.events.empty());
    CHECK(list(fx.transitions) == std::vector<T>{{S::kBusyHold, S::kIdle, ms(1007000)}});
  }
}

TEST_CASE("busy hold after the card leaves and grace runs out", "[firmware][machine][busy]") {
  MachineConfig c = card_config();
  c.has_busy_input = true;
  c.needs_checkoff = true;
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  m.busy(true, ms(100));
  m.card_removed(ms(1000));
  auto fx = m.tick(ms(31000));
  CHECK(fx.state == S::kBusyHold);
  CHECK(fx.relay);
  CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(1000), ms(0), R::kCardRemoved)});
  fx = m.busy(false, ms(40000));
  CHECK(fx.state == S::kAwaitingCheckoff);
  CHECK_FALSE(fx.relay);
}

TEST_CASE("busy input is ignored when not wired", "[firmware][machine][busy]") {
  MachineInterlock m = ready(tap_config());
  m.grant(kAlice, ms(0));
  require_ignored(m.busy(true, ms(10)), m, true);
  CHECK(m.tap_off(kAlice, ms(20)).state == S::kIdle);
}

TEST_CASE("check-off after use", "[firmware][machine]") {
  MachineConfig c = tap_config();
  c.needs_checkoff = true;
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  auto fx = m.tap_off(kAlice, ms(1000));
  CHECK(fx.state == S::kAwaitingCheckoff);
  CHECK_FALSE(fx.relay);
  CHECK(fx.indicator == Indicator::kUnavailable);
  fx = m.grant(kBob, ms(2000));
  CHECK(fx.result == InputResult::kUnavailable);
  CHECK_FALSE(fx.relay);
  fx = m.staff_confirm(ms(3000));
  CHECK(fx.state == S::kIdle);
  CHECK(list(fx.transitions) == std::vector<T>{{S::kAwaitingCheckoff, S::kIdle, ms(3000)}});
  CHECK(m.grant(kBob, ms(4000)).state == S::kInUse);
}

TEST_CASE("lockout and release", "[firmware][machine][lockout]") {
  MachineInterlock m = ready(card_config());
  SECTION("from idle") {
    auto fx = m.lockout(OutOfServiceReason::kInspectionOverdue, ms(100));
    CHECK(fx.result == InputResult::kAccepted);
    CHECK(fx.state == S::kOutOfService);
    CHECK(fx.indicator == Indicator::kUnavailable);
    CHECK(m.out_of_service_reason() == OutOfServiceReason::kInspectionOverdue);
    CHECK(m.grant(kAlice, ms(200)).result == InputResult::kUnavailable);
    require_ignored(m.lockout(OutOfServiceReason::kInspectionOverdue, ms(300)), m, false);
    fx = m.lockout(OutOfServiceReason::kProblemReported, ms(400));
    CHECK(fx.result == InputResult::kAccepted);
    CHECK(fx.transitions.empty());
    CHECK(m.out_of_service_reason() == OutOfServiceReason::kProblemReported);
    require_ignored(m.staff_confirm(ms(450)), m, false);
    fx = m.release(ms(500));
    CHECK(fx.state == S::kIdle);
    CHECK(m.out_of_service_reason() == OutOfServiceReason::kNone);
    require_ignored(m.release(ms(600)), m, false);
  }
  SECTION("from in use: power is cut at once") {
    m.grant(kAlice, ms(0));
    auto fx = m.lockout(OutOfServiceReason::kStaffLockout, ms(5000));
    CHECK(fx.state == S::kOutOfService);
    CHECK_FALSE(fx.relay);
    CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(5000), ms(0), R::kStaff)});
    CHECK(list(fx.transitions) == std::vector<T>{{S::kInUse, S::kOutOfService, ms(5000)}});
  }
  SECTION("from grace: the earlier cause is the reason") {
    m.grant(kAlice, ms(0));
    m.card_removed(ms(1000));
    auto fx = m.lockout(OutOfServiceReason::kStaffLockout, ms(5000));
    CHECK_FALSE(fx.relay);
    CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(1000), ms(0), R::kCardRemoved)});
  }
  SECTION("from startup: release returns to startup") {
    MachineInterlock s{card_config()};
    s.lockout(OutOfServiceReason::kStaffLockout, ms(0));
    CHECK(s.state() == S::kOutOfService);
    CHECK(s.release(ms(10)).state == S::kStartup);
  }
  SECTION("reasons that staff cannot set are ignored") {
    require_ignored(m.lockout(OutOfServiceReason::kNone, ms(1)), m, false);
    require_ignored(m.lockout(OutOfServiceReason::kBadConfig, ms(2)), m, false);
    require_ignored(m.lockout(OutOfServiceReason::kInternalError, ms(3)), m, false);
    CHECK(m.state() == S::kIdle);
  }
}

TEST_CASE("lockout cuts a busy hold", "[firmware][machine][lockout]") {
  MachineConfig c = tap_config();
  c.has_busy_input = true;
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  m.busy(true, ms(10));
  m.tap_off(kAlice, ms(20));
  auto fx = m.lockout(OutOfServiceReason::kProblemReported, ms(30));
  CHECK(fx.state == S::kOutOfService);
  CHECK_FALSE(fx.relay);
  CHECK(fx.events.empty());
}

namespace {

// Drives a fresh machine into `target` through legitimate inputs; returns the time used.
Millis drive_machine(MachineInterlock& m, MachineState target) {
  switch (target) {
    case S::kStartup:
      return ms(0);
    case S::kIdle:
      m.staff_confirm(ms(0));
      return ms(10);
    case S::kInUse:
      m.staff_confirm(ms(0));
      m.grant(kAlice, ms(100));
      return ms(1000);
    case S::kGrace:
      m.staff_confirm(ms(0));
      m.grant(kAlice, ms(100));
      m.card_removed(ms(500));
      return ms(1000);
    case S::kBusyHold:
      m.staff_confirm(ms(0));
      m.grant(kAlice, ms(100));
      m.busy(true, ms(200));
      m.card_removed(ms(300));
      m.tick(ms(30300));
      return ms(31000);
    case S::kAwaitingCheckoff:
      m.staff_confirm(ms(0));
      m.grant(kAlice, ms(100));
      m.card_removed(ms(300));
      m.tick(ms(30300));
      return ms(31000);
    case S::kOutOfService:
      m.staff_confirm(ms(0));
      m.lockout(OutOfServiceReason::kStaffLockout, ms(100));
      return ms(1000);
    case S::kFault:
      m.fault(true, ms(100));
      return ms(1000);
    case S::kFireAlarm:
      m.fire_alarm(true, ms(100));
      return ms(1000);
  }
  return ms(0);
}

MachineConfig all_features() {
  MachineConfig c = card_config();
  c.has_busy_input = true;
  c.needs_checkoff = true;
  return c;
}

}  // namespace

TEST_CASE("fire alarm cuts the machine from every state", "[firmware][machine][fire]") {
  const S states[] = {S::kStartup,          S::kIdle,         S::kInUse, S::kGrace, S::kBusyHold,
                      S::kAwaitingCheckoff, S::kOutOfService, S::kFault};
  for (S from : states) {
    DYNAMIC_SECTION(to_string(from)) {
      MachineInterlock m{all_features()};
      const Millis t = drive_machine(m, from);
      REQUIRE(m.state() == from);
      auto fx = m.fire_alarm(true, t);
      CHECK(fx.result == InputResult::kAccepted);
      CHECK(fx.state == S::kFireAlarm);
      CHECK_FALSE(fx.relay);
      CHECK(fx.indicator == Indicator::kAlarm);
      CHECK(list(fx.transitions) == std::vector<T>{{from, S::kFireAlarm, t}});
      if (from == S::kInUse) {
        CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, t, ms(100), R::kFireAlarm)});
      } else if (from == S::kGrace) {
        CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(500), ms(100), R::kCardRemoved)});
      } else {
        CHECK(fx.events.empty());
      }
      CHECK(m.grant(kBob, t + ms(1)).result == InputResult::kUnavailable);
      require_ignored(m.fire_alarm(true, t + ms(2)), m, false);

      fx = m.fire_alarm(false, t + ms(10000));
      CHECK_FALSE(fx.relay);
      if (from == S::kOutOfService) {
        CHECK(fx.state == S::kOutOfService);
        CHECK(m.release(t + ms(10001)).state == S::kStartup);
      } else if (from == S::kFault) {
        CHECK(fx.state == S::kFault);
        CHECK(m.fault(false, t + ms(10001)).state == S::kStartup);
      } else {
        CHECK(fx.state == S::kStartup);
      }
      // Staff confirmation after a fire alarm also covers a pending check-off.
      CHECK(m.staff_confirm(t + ms(20000)).state == S::kIdle);
    }
  }
}

TEST_CASE("fault switches the machine off and ends the session", "[firmware][machine][fault]") {
  MachineInterlock m = ready(card_config());
  m.grant(kAlice, ms(0));
  auto fx = m.fault(true, ms(5000));
  CHECK(fx.state == S::kFault);
  CHECK_FALSE(fx.relay);
  CHECK(fx.indicator == Indicator::kFault);
  CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(5000), ms(0), R::kFault)});
  CHECK(m.grant(kAlice, ms(6000)).result == InputResult::kUnavailable);
  require_ignored(m.fault(true, ms(7000)), m, false);
  fx = m.fault(false, ms(8000));
  CHECK(fx.state == S::kIdle);  // no power was lost: no staff confirmation needed
  CHECK(list(fx.transitions) == std::vector<T>{{S::kFault, S::kIdle, ms(8000)}});

  SECTION("fault during startup returns to startup") {
    MachineInterlock s{card_config()};
    CHECK(s.fault(true, ms(0)).state == S::kFault);
    CHECK(s.fault(false, ms(1)).state == S::kStartup);
  }
  SECTION("lockout during a fault takes effect when the fault clears") {
    m.fault(true, ms(9000));
    CHECK(m.lockout(OutOfServiceReason::kStaffLockout, ms(9100)).state == S::kFault);
    CHECK(m.fault(false, ms(9200)).state == S::kOutOfService);
  }
}

TEST_CASE("impossible machine inputs are ignored", "[firmware][machine]") {
  for (S from :
       {S::kStartup, S::kIdle, S::kAwaitingCheckoff, S::kOutOfService, S::kFireAlarm, S::kFault}) {
    DYNAMIC_SECTION(to_string(from)) {
      MachineInterlock m{all_features()};
      Millis t = drive_machine(m, from);
      REQUIRE(m.state() == from);
      require_ignored(m.card_removed(t), m, false);
      require_ignored(m.tap_off(kAlice, t), m, false);
      require_ignored(m.activity(t), m, false);
      require_ignored(m.tick(t + ms(100000000)), m, false);
      require_ignored(m.busy(true, t + ms(100000001)), m, false);
      if (from != S::kOutOfService) require_ignored(m.release(t + ms(100000002)), m, false);
    }
  }
  SECTION("in use") {
    MachineInterlock m{all_features()};
    drive_machine(m, S::kInUse);
    require_ignored(m.staff_confirm(ms(2000)), m, true);
    require_ignored(m.release(ms(2001)), m, true);
    require_ignored(m.fire_alarm(false, ms(2002)), m, true);
    require_ignored(m.fault(false, ms(2003)), m, true);
    require_ignored(m.busy(false, ms(2004)), m, true);
  }
  SECTION("grace") {
    MachineInterlock m{all_features()};
    drive_machine(m, S::kGrace);
    require_ignored(m.card_removed(ms(1001)), m, true);
    require_ignored(m.activity(ms(1002)), m, true);  // the card left: activity cannot resume
    require_ignored(m.staff_confirm(ms(1003)), m, true);
    require_ignored(m.busy(true, ms(1004)), m, true);  // tracked for the busy hold, no output
    CHECK(m.busy_active());
  }
  SECTION("busy hold") {
    MachineInterlock m{all_features()};
    drive_machine(m, S::kBusyHold);
    require_ignored(m.card_removed(ms(31001)), m, true);
    require_ignored(m.activity(ms(31002)), m, true);
    require_ignored(m.staff_confirm(ms(31003)), m, true);
    require_ignored(m.busy(true, ms(31004)), m, true);
    require_ignored(m.tap_off(kAlice, ms(31005)), m, true);
  }
}

TEST_CASE("time going backwards is treated as no time passing (machine)", "[firmware][machine]") {
  MachineConfig c = card_config();
  c.idle_timeout = ms(60000);
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(10000));
  require_ignored(m.tick(ms(5000)), m, true);
  m.activity(ms(0));  // counts as 10000
  CHECK(m.next_deadline() == ms(70000));
}

TEST_CASE("an impossible machine state traps out of service", "[firmware][machine]") {
  MachineInterlock m = ready(card_config());
  m.grant(kAlice, ms(0));
  MachineInterlockTestPeer::corrupt_state(m, 77);
  CHECK_FALSE(m.relay());
  auto fx = m.tick(ms(1000));
  CHECK(fx.state == S::kOutOfService);
  CHECK_FALSE(fx.relay);
  REQUIRE(fx.events.size() == 2);
  CHECK(fx.events[0].kind == K::kTrap);
  CHECK(fx.events[1] == ended(kAlice, ms(1000), ms(0), R::kFault));
  CHECK(m.out_of_service_reason() == OutOfServiceReason::kInternalError);
  CHECK(m.release(ms(2000)).state == S::kIdle);
}

TEST_CASE("machine enums have stable distinct names", "[firmware][machine]") {
  std::vector<std::string> names;
  for (int i = 0; i <= static_cast<int>(S::kFault); ++i) names.push_back(to_string(S(i)));
  CHECK(names == std::vector<std::string>{"startup", "idle", "in_use", "grace", "busy_hold",
                                          "awaiting_checkoff", "out_of_service", "fire_alarm",
                                          "fault"});
  names.clear();
  for (int i = 0; i <= static_cast<int>(R::kReaderDown); ++i) {
    names.push_back(to_string(R(i)));
  }
  CHECK(names == std::vector<std::string>{"tap_off", "card_removed", "idle_timeout", "max_duration",
                                          "staff", "fire_alarm", "fault", "power_loss_recovered",
                                          "reader_down"});
  names.clear();
  for (int i = 0; i <= static_cast<int>(OutOfServiceReason::kInternalError); ++i) {
    names.push_back(to_string(OutOfServiceReason(i)));
  }
  CHECK(names == std::vector<std::string>{"none", "staff_lockout", "inspection_overdue",
                                          "problem_reported", "bad_config", "internal_error"});
  names.clear();
  for (int i = 0; i <= static_cast<int>(K::kTrap); ++i) names.push_back(to_string(K(i)));
  CHECK(names == std::vector<std::string>{"session_started", "session_ended", "session_resumed",
                                          "grace_started", "trap"});
  names.clear();
  for (int i = 0; i <= static_cast<int>(MachineConfigError::kNegativeMaxSession); ++i) {
    names.push_back(to_string(MachineConfigError(i)));
  }
  CHECK(names == std::vector<std::string>{"none", "unknown_mode", "negative_grace",
                                          "warn_interval_not_positive", "negative_idle_timeout",
                                          "negative_max_session"});
  CHECK(std::string(to_string(SessionMode::kCardStays)) == "card_stays");
  CHECK(std::string(to_string(SessionMode::kTapOnTapOff)) == "tap_on_tap_off");
  CHECK(std::string(to_string(static_cast<S>(99))) == "unknown");
  CHECK(std::string(to_string(static_cast<R>(99))) == "unknown");
  CHECK(std::string(to_string(static_cast<K>(99))) == "unknown");
  CHECK(std::string(to_string(static_cast<SessionMode>(99))) == "unknown");
  CHECK(std::string(to_string(static_cast<OutOfServiceReason>(99))) == "unknown");
  CHECK(std::string(to_string(static_cast<MachineConfigError>(99))) == "unknown");
}

// Issue 20, 2a: an input that arrives after a deadline passed, with no tick in between, must see
// the state that deadline left behind. Max passing during Grace forbids a resume.
TEST_CASE("a card back after the maximum passed in grace does not resume", "[firmware][machine]") {
  MachineConfig c = card_config();
  c.grace = ms(3);
  c.max_session = ms(4);
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  auto fx = m.card_removed(ms(3));
  CHECK(list(fx.events) == std::vector<Ev>{grace(kAlice, ms(3), ms(0), R::kCardRemoved)});
  fx = m.grant(kAlice, ms(5));
  CHECK(fx.result == InputResult::kUnavailable);
  CHECK(fx.feedback == Feedback::kDenied);
  CHECK(fx.state == S::kGrace);
  CHECK(fx.events.empty());
  CHECK(fx.transitions.empty());
  fx = m.tick(ms(6));
  CHECK(fx.state == S::kIdle);
  CHECK_FALSE(fx.relay);
  CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(3), ms(0), R::kCardRemoved)});
}

TEST_CASE("tap mode: activity after the maximum passed in an idle grace does not resume",
          "[firmware][machine][tap]") {
  MachineConfig c = tap_config();
  c.grace = ms(3);
  c.idle_timeout = ms(4);
  c.max_session = ms(6);
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  CHECK(m.grant(kAlice, ms(1)).result == InputResult::kAccepted);
  // Idle deadline at 5 (Grace until 8), maximum at 6: the grant at 7 comes after both.
  auto fx = m.grant(kAlice, ms(7));
  CHECK(fx.result == InputResult::kUnavailable);
  CHECK(fx.feedback == Feedback::kDenied);
  CHECK(fx.state == S::kGrace);
  CHECK(list(fx.events) == std::vector<Ev>{grace(kAlice, ms(5), ms(0), R::kIdleTimeout)});
  CHECK(list(fx.transitions) == std::vector<T>{{S::kInUse, S::kGrace, ms(5)}});
  require_ignored(m.activity(ms(7)), m, true);
  fx = m.tick(ms(8));
  CHECK(fx.state == S::kIdle);
  CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(5), ms(0), R::kIdleTimeout)});
}

TEST_CASE("a grant one millisecond before the maximum still resumes", "[firmware][machine]") {
  MachineConfig c = card_config();
  c.grace = ms(3);
  c.max_session = ms(4);
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  m.card_removed(ms(2));
  auto fx = m.grant(kAlice, ms(3));
  CHECK(fx.state == S::kInUse);
  CHECK(fx.feedback == Feedback::kGranted);
  fx = m.tick(ms(4));
  CHECK(list(fx.events) == std::vector<Ev>{grace(kAlice, ms(4), ms(0), R::kMaxDuration)});
}

namespace {

// Tap mode with a busy input and a hold limit: Alice's session ran from 0, her job started at
// `busy_at`, and she tapped off at `off_at`, leaving the machine in kBusyHold.
MachineInterlock busy_hold_after_alice(Millis hold_max, Millis busy_at, Millis off_at) {
  MachineConfig c = tap_config();
  c.has_busy_input = true;
  c.busy_hold_max = hold_max;
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  m.busy(true, busy_at);
  m.tap_off(kAlice, off_at);
  return m;
}

}  // namespace

// Issue 20, 2d: a busy input stuck high must not hold power for ever.
TEST_CASE("busy hold ends at its configured maximum", "[firmware][machine][busy]") {
  MachineInterlock m = busy_hold_after_alice(ms(60000), ms(1000), ms(5000));
  CHECK(m.state() == S::kBusyHold);
  CHECK(m.next_deadline() == ms(65000));
  require_ignored(m.tick(ms(64999)), m, true);
  auto fx = m.tick(ms(65000));
  CHECK(fx.result == InputResult::kAccepted);
  CHECK(fx.state == S::kIdle);
  CHECK_FALSE(fx.relay);
  CHECK(fx.events.empty());
  CHECK(list(fx.alarms) == std::vector<Al>{{AK::kBusyHoldLimit, true, kAlice, ms(65000)}});
  CHECK(list(fx.transitions) == std::vector<T>{{S::kBusyHold, S::kIdle, ms(65000)}});

  SECTION("the alarm clears when the busy input falls") {
    fx = m.busy(false, ms(70000));
    CHECK(fx.result == InputResult::kAccepted);
    CHECK(list(fx.alarms) == std::vector<Al>{{AK::kBusyHoldLimit, false, kAlice, ms(70000)}});
  }
  SECTION("the stuck input holds no power after the next session") {
    fx = m.grant(kBob, ms(70000));
    CHECK(fx.state == S::kInUse);
    CHECK(list(fx.events) == std::vector<Ev>{started(kBob, ms(70000))});
    CHECK(fx.alarms.empty());  // the alarm is already up
    fx = m.tap_off(kBob, ms(71000));
    CHECK(fx.state == S::kIdle);
    CHECK_FALSE(fx.relay);
  }
}

TEST_CASE("an input after the busy hold limit is handled after the limit",
          "[firmware][machine][busy]") {
  MachineInterlock m = busy_hold_after_alice(ms(100), ms(10), ms(20));
  // Alice comes back after the limit: the hold is over, so she starts from Idle with the input
  // still high (a stuck sensor now), and the grant reports the limit first.
  auto fx = m.grant(kAlice, ms(500));
  CHECK(fx.state == S::kInUse);
  CHECK(list(fx.alarms) == std::vector<Al>{{AK::kBusyHoldLimit, true, kAlice, ms(120)}});
  CHECK(list(fx.events) == std::vector<Ev>{started(kAlice, ms(500))});
  CHECK(list(fx.transitions) ==
        std::vector<T>{{S::kBusyHold, S::kIdle, ms(120)}, {S::kIdle, S::kInUse, ms(500)}});
}

TEST_CASE("a busy input already high at session start raises an alarm and holds no power",
          "[firmware][machine][busy]") {
  MachineConfig c = tap_config();
  c.has_busy_input = true;
  c.idle_timeout = ms(60000);
  MachineInterlock m = ready(c);
  CHECK(m.busy(true, ms(100)).result == InputResult::kIgnored);
  auto fx = m.grant(kAlice, ms(1000));
  CHECK(fx.state == S::kInUse);
  CHECK(fx.relay);
  CHECK(list(fx.events) == std::vector<Ev>{started(kAlice, ms(1000))});
  CHECK(list(fx.alarms) == std::vector<Al>{{AK::kBusySensor, true, kAlice, ms(1000)}});
  // A suspect input does not keep the session from idling out.
  CHECK(m.next_deadline() == ms(61000));

  SECTION("tap-off cuts the power") {
    fx = m.tap_off(kAlice, ms(5000));
    CHECK(fx.state == S::kIdle);
    CHECK_FALSE(fx.relay);
    CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(5000), ms(1000), R::kTapOff)});
  }
  SECTION("once seen low, the next rise is a real job that holds power") {
    fx = m.busy(false, ms(2000));
    CHECK(list(fx.alarms) == std::vector<Al>{{AK::kBusySensor, false, kAlice, ms(2000)}});
    m.busy(true, ms(3000));
    CHECK(m.next_deadline() == std::nullopt);
    CHECK(m.tap_off(kAlice, ms(5000)).state == S::kBusyHold);
  }
}

TEST_CASE("the previous member resumes from busy hold without a sensor alarm",
          "[firmware][machine][busy]") {
  MachineInterlock m = busy_hold_after_alice(ms(60000), ms(1000), ms(2000));
  auto fx = m.grant(kAlice, ms(3000));
  CHECK(fx.state == S::kInUse);
  CHECK(list(fx.events) == std::vector<Ev>{started(kAlice, ms(3000))});
  CHECK(fx.alarms.empty());
  CHECK(m.tap_off(kAlice, ms(4000)).state == S::kBusyHold);
  CHECK(m.next_deadline() == ms(64000));
}

TEST_CASE("busy hold maximum validation and names", "[firmware][machine][busy]") {
  MachineConfig c = tap_config();
  c.busy_hold_max = ms(-1);
  CHECK(validate(c) == MachineConfigError::kNegativeBusyHoldMax);
  CHECK(std::string(to_string(MachineConfigError::kNegativeBusyHoldMax)) ==
        "negative_busy_hold_max");
  CHECK(std::string(to_string(AK::kBusySensor)) == "busy_sensor");
  CHECK(std::string(to_string(AK::kBusyHoldLimit)) == "busy_hold_limit");
  CHECK(std::string(to_string(static_cast<AK>(9))) == "unknown");
}

TEST_CASE("a machine reader going down starts grace as a card removal does",
          "[firmware][machine][reader]") {
  for (const auto& c : {card_config(), tap_config()}) {
    INFO(to_string(c.mode));
    MachineInterlock m = ready(c);
    m.grant(kAlice, ms(1000));
    auto fx = m.reader(false, ms(10000));
    CHECK(fx.result == InputResult::kAccepted);
    CHECK(fx.state == S::kGrace);
    CHECK(fx.relay);
    CHECK(m.reader_down());
    CHECK(list(fx.events) == std::vector<Ev>{grace(kAlice, ms(10000), ms(1000), R::kReaderDown)});

    // Whatever claims a grant while the reader is down starts and resumes nothing.
    fx = m.grant(kAlice, ms(20000));
    CHECK(fx.result == InputResult::kUnavailable);
    CHECK(fx.state == S::kGrace);
    CHECK(m.grant(kBob, ms(20000)).result == InputResult::kUnavailable);
    CHECK(m.activity(ms(20000)).state == S::kGrace);

    // The session ends exactly as after a removal: billed until the reader went down.
    fx = m.tick(ms(40000));
    CHECK(fx.state == S::kIdle);
    CHECK_FALSE(fx.relay);
    CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(10000), ms(1000), R::kReaderDown)});

    // No new session until the reader is back.
    CHECK(m.grant(kBob, ms(50000)).result == InputResult::kUnavailable);
    CHECK(m.reader(true, ms(60000)).result == InputResult::kAccepted);
    fx = m.grant(kBob, ms(61000));
    CHECK(fx.result == InputResult::kAccepted);
    CHECK(fx.state == S::kInUse);
  }
}

TEST_CASE("the reader back within grace: the member's card resumes the session",
          "[firmware][machine][reader]") {
  MachineInterlock m = ready(card_config());
  m.grant(kAlice, ms(1000));
  m.reader(false, ms(10000));
  m.reader(true, ms(15000));
  auto fx = m.grant(kAlice, ms(15500));  // the card, still on the reader, is seen again
  CHECK(fx.result == InputResult::kAccepted);
  CHECK(fx.state == S::kInUse);
  CHECK(list(fx.events) ==
        std::vector<Ev>{{K::kSessionResumed, kAlice, ms(15500), ms(1000), R::kReaderDown}});
}

TEST_CASE("a reader down keeps a running job in busy hold within its limit",
          "[firmware][machine][reader][busy]") {
  MachineConfig c = card_config();
  c.has_busy_input = true;
  c.busy_hold_max = ms(60000);
  MachineInterlock m = ready(c);
  m.grant(kAlice, ms(0));
  m.busy(true, ms(100));
  m.reader(false, ms(1000));
  auto fx = m.tick(ms(31000));
  CHECK(fx.state == S::kBusyHold);
  CHECK(fx.relay);
  CHECK(list(fx.events) == std::vector<Ev>{ended(kAlice, ms(1000), ms(0), R::kReaderDown)});
  fx = m.tick(ms(91000));
  CHECK(fx.state == S::kIdle);
  CHECK_FALSE(fx.relay);
}

TEST_CASE("reader inputs that change nothing are ignored", "[firmware][machine][reader]") {
  MachineInterlock m = ready(card_config());
  require_ignored(m.reader(true, ms(10)), m, false);
  CHECK(m.reader(false, ms(20)).result == InputResult::kAccepted);
  require_ignored(m.reader(false, ms(30)), m, false);
  CHECK(m.state() == S::kIdle);
}
