#include "labgate/firmware/door_controller.hpp"

#include <cstring>
#include <functional>
#include <string>

#include "test_support.hpp"

namespace labgate::firmware {

// Reaches the private state so the trap for impossible states can be exercised.
struct DoorControllerTestPeer {
  static void corrupt_state(DoorController& d, int raw) { d.state_ = static_cast<DoorState>(raw); }
};

}  // namespace labgate::firmware

namespace {

using namespace labgate::firmware;
using labgate::firmware::test::list;
using labgate::firmware::test::ms;
using E = DoorEvent;
using S = DoorState;
using T = Transition<DoorState>;

DoorConfig secure() {
  DoorConfig c;
  c.fail_mode = FailMode::kSecure;
  return c;
}

DoorConfig safe() {
  DoorConfig c;
  c.fail_mode = FailMode::kSafe;
  return c;
}

// An input that means nothing must leave every output as it was and report nothing.
void require_ignored(const DoorEffects& fx, const DoorController& d, bool strike_before) {
  CHECK(fx.result == InputResult::kIgnored);
  CHECK(fx.state == d.state());
  CHECK(fx.strike_release == strike_before);
  CHECK(fx.feedback == Feedback::kNone);
  CHECK(fx.events.empty());
  CHECK(fx.transitions.empty());
}

}  // namespace

TEST_CASE("door config validation", "[firmware][door]") {
  CHECK(validate(DoorConfig{}) == DoorConfigError::kNone);
  DoorConfig c;
  c.strike_pulse = ms(2999);
  CHECK(validate(c) == DoorConfigError::kStrikePulseTooShort);
  c.strike_pulse = ms(3000);
  CHECK(validate(c) == DoorConfigError::kNone);
  c.held_open_limit = ms(0);
  CHECK(validate(c) == DoorConfigError::kHeldOpenLimitNotPositive);
  c.held_open_limit = ms(1);
  CHECK(validate(c) == DoorConfigError::kNone);
  c.fail_mode = static_cast<FailMode>(7);
  CHECK(validate(c) == DoorConfigError::kUnknownFailMode);
}

TEST_CASE("door with an invalid config is parked in fault", "[firmware][door]") {
  DoorConfig c = safe();
  c.strike_pulse = ms(1000);
  DoorController d{c};
  CHECK(d.config_error() == DoorConfigError::kStrikePulseTooShort);
  CHECK(d.state() == S::kFault);
  CHECK(d.strike_release());  // fail-safe

  // Leaving a fault that was never entered changes nothing; the door stays parked.
  auto fx = d.fault(false, ms(10));
  require_ignored(fx, d, true);
  fx = d.fault(true, ms(20));
  fx = d.fault(false, ms(30));
  CHECK(fx.state == S::kFault);

  // Grants are reported but do not start a pulse of untrusted length.
  fx = d.grant(ms(40));
  CHECK(list(fx.events) == std::vector<E>{E::kGranted});
  CHECK(d.next_deadline() == std::nullopt);

  // The fire alarm still releases an egress door, and it returns to fault afterwards.
  fx = d.fire_alarm(true, ms(50));
  CHECK(fx.state == S::kFireRelease);
  fx = d.fire_alarm(false, ms(60));
  CHECK(fx.state == S::kFault);

  DoorConfig unknown = secure();
  unknown.fail_mode = static_cast<FailMode>(9);
  DoorController u{unknown};
  CHECK(u.state() == S::kFault);
  CHECK_FALSE(u.strike_release());  // an unknown fail mode counts as fail-secure
}

TEST_CASE("door starts locked, or open when the contact says so", "[firmware][door]") {
  DoorController d{secure(), ms(100)};
  CHECK(d.state() == S::kLocked);
  CHECK_FALSE(d.strike_release());
  CHECK(d.contact_position() == DoorContact::kClosed);
  CHECK(d.unlock_cause() == UnlockCause::kNone);
  CHECK(d.next_deadline() == std::nullopt);
  auto fx = d.tick(ms(1000000));
  require_ignored(fx, d, false);
  CHECK(fx.indicator == Indicator::kIdle);

  DoorController open{secure(), ms(100), DoorContact::kOpen};
  CHECK(open.state() == S::kOpen);
  CHECK(open.next_deadline() == ms(30100));
  CHECK(open.tick(ms(30099)).state == S::kOpen);
  fx = open.tick(ms(30100));
  CHECK(fx.state == S::kHeldOpen);
  CHECK(list(fx.events) == std::vector<E>{E::kHeldOpen});

  DoorConfig no_contact = secure();
  no_contact.has_contact = false;
  DoorController nc{no_contact, ms(0), DoorContact::kOpen};
  CHECK(nc.state() == S::kLocked);
}

TEST_CASE("grant releases the strike for exactly the pulse", "[firmware][door]") {
  DoorController d{secure()};
  auto fx = d.grant(ms(1000));
  CHECK(fx.result == InputResult::kAccepted);
  CHECK(fx.state == S::kUnlocked);
  CHECK(fx.strike_release);
  CHECK(fx.indicator == Indicator::kActive);
  CHECK(fx.feedback == Feedback::kGranted);
  CHECK(list(fx.events) == std::vector<E>{E::kGranted});
  CHECK(list(fx.transitions) == std::vector<T>{{S::kLocked, S::kUnlocked, ms(1000)}});
  CHECK(d.unlock_cause() == UnlockCause::kGrant);
  CHECK(d.next_deadline() == ms(6000));

  fx = d.tick(ms(5999));
  require_ignored(fx, d, true);
  CHECK(fx.state == S::kUnlocked);

  fx = d.tick(ms(6000));
  CHECK(fx.result == InputResult::kAccepted);
  CHECK(fx.state == S::kLocked);
  CHECK_FALSE(fx.strike_release);
  CHECK(fx.indicator == Indicator::kIdle);
  CHECK(list(fx.events) == std::vector<E>{E::kRelocked});
  CHECK(list(fx.transitions) == std::vector<T>{{S::kUnlocked, S::kLocked, ms(6000)}});
  CHECK(d.unlock_cause() == UnlockCause::kNone);
}

TEST_CASE("a configured strike pulse is honoured", "[firmware][door]") {
  DoorConfig c = secure();
  c.strike_pulse = ms(3000);
  DoorController d{c};
  d.grant(ms(0));
  CHECK(d.tick(ms(2999)).strike_release);
  CHECK_FALSE(d.tick(ms(3000)).strike_release);
}

TEST_CASE("a second release extends the pulse", "[firmware][door]") {
  DoorController d{secure()};
  d.grant(ms(0));
  auto fx = d.grant(ms(3000));
  CHECK(list(fx.events) == std::vector<E>{E::kGranted});
  CHECK(fx.transitions.empty());
  CHECK(d.tick(ms(7999)).state == S::kUnlocked);
  CHECK(d.tick(ms(8000)).state == S::kLocked);
}

TEST_CASE("exit button and remote unlock release like a grant", "[firmware][door]") {
  DoorController d{secure()};
  auto fx = d.exit_button(ms(0));
  CHECK(fx.state == S::kUnlocked);
  CHECK(list(fx.events) == std::vector<E>{E::kExitReleased});
  CHECK(d.unlock_cause() == UnlockCause::kExit);
  CHECK(d.tick(ms(4999)).state == S::kUnlocked);
  CHECK(d.tick(ms(5000)).state == S::kLocked);

  fx = d.remote_unlock(ms(10000));
  CHECK(fx.state == S::kUnlocked);
  CHECK(fx.strike_release);
  CHECK(list(fx.events) == std::vector<E>{E::kRemoteUnlocked});
  CHECK(d.unlock_cause() == UnlockCause::kRemote);
  CHECK(d.tick(ms(14999)).state == S::kUnlocked);
  CHECK(d.tick(ms(15000)).state == S::kLocked);
}

TEST_CASE("deny is signalled in every state without changing it", "[firmware][door]") {
  DoorController d{secure()};
  auto fx = d.deny(ms(0));
  CHECK(fx.result == InputResult::kAccepted);
  CHECK(fx.state == S::kLocked);
  CHECK_FALSE(fx.strike_release);
  CHECK(fx.feedback == Feedback::kDenied);
  CHECK(list(fx.events) == std::vector<E>{E::kDenied});
  CHECK(fx.transitions.empty());

  d.grant(ms(100));
  fx = d.deny(ms(200));
  CHECK(fx.state == S::kUnlocked);
  CHECK(fx.strike_release);
  CHECK(list(fx.events) == std::vector<E>{E::kDenied});
}

TEST_CASE("open after a grant, relock on close", "[firmware][door]") {
  DoorController d{secure()};
  d.grant(ms(0));
  auto fx = d.contact(DoorContact::kOpen, ms(1000));
  CHECK(fx.state == S::kOpen);
  CHECK(fx.strike_release);
  CHECK(fx.indicator == Indicator::kActive);
  CHECK(list(fx.events) == std::vector<E>{E::kOpened});
  CHECK(list(fx.transitions) == std::vector<T>{{S::kUnlocked, S::kOpen, ms(1000)}});

  fx = d.contact(DoorContact::kClosed, ms(2000));
  CHECK(fx.state == S::kLocked);
  CHECK_FALSE(fx.strike_release);
  CHECK(list(fx.events) == std::vector<E>{E::kClosed, E::kRelocked});
  CHECK(list(fx.transitions) == std::vector<T>{{S::kOpen, S::kLocked, ms(2000)}});
  // The old pulse end is gone with the relock.
  CHECK(d.next_deadline() == std::nullopt);
  require_ignored(d.tick(ms(5000)), d, false);
}

TEST_CASE("the strike relocks at the pulse end while the door stays open", "[firmware][door]") {
  DoorController d{secure()};
  d.grant(ms(0));
  d.contact(DoorContact::kOpen, ms(1000));
  CHECK(d.next_deadline() == ms(5000));
  require_ignored(d.tick(ms(4999)), d, true);
  auto fx = d.tick(ms(5000));
  CHECK(fx.state == S::kOpen);
  CHECK_FALSE(fx.strike_release);
  CHECK(fx.indicator == Indicator::kIdle);
  CHECK(list(fx.events) == std::vector<E>{E::kRelocked});
  CHECK(fx.transitions.empty());
  fx = d.contact(DoorContact::kClosed, ms(6000));
  CHECK(list(fx.events) == std::vector<E>{E::kClosed});
  CHECK(fx.state == S::kLocked);
}

TEST_CASE("held open raises at the limit and clears on close", "[firmware][door]") {
  DoorController d{secure()};
  d.grant(ms(0));
  d.contact(DoorContact::kOpen, ms(1000));
  d.tick(ms(5000));
  CHECK(d.next_deadline() == ms(31000));
  auto fx = d.tick(ms(30999));
  require_ignored(fx, d, false);
  CHECK(fx.state == S::kOpen);

  fx = d.tick(ms(31000));
  CHECK(fx.state == S::kHeldOpen);
  CHECK(fx.indicator == Indicator::kAlarm);
  CHECK(list(fx.events) == std::vector<E>{E::kHeldOpen});
  CHECK(list(fx.transitions) == std::vector<T>{{S::kOpen, S::kHeldOpen, ms(31000)}});
  CHECK(d.next_deadline() == std::nullopt);
  require_ignored(d.tick(ms(90000)), d, false);

  fx = d.contact(DoorContact::kClosed, ms(100000));
  CHECK(fx.state == S::kLocked);
  CHECK(fx.indicator == Indicator::kIdle);
  CHECK(list(fx.events) == std::vector<E>{E::kClosed, E::kHeldOpenCleared});
}

TEST_CASE("held open limit shorter than the pulse", "[firmware][door]") {
  DoorConfig c = secure();
  c.held_open_limit = ms(2000);
  DoorController d{c};
  d.grant(ms(0));
  d.contact(DoorContact::kOpen, ms(1000));
  CHECK(d.next_deadline() == ms(3000));
  auto fx = d.tick(ms(3000));
  CHECK(fx.state == S::kHeldOpen);
  CHECK(fx.strike_release);  // the pulse still runs
  fx = d.tick(ms(5000));
  CHECK(list(fx.events) == std::vector<E>{E::kRelocked});
  CHECK(fx.state == S::kHeldOpen);
}

TEST_CASE("deadlines are processed in order before the input", "[firmware][door]") {
  SECTION("contact opening after the pulse ran out is forced, even without a tick") {
    DoorController d{secure()};
    d.grant(ms(0));
    auto fx = d.contact(DoorContact::kOpen, ms(5000));
    CHECK(fx.state == S::kForcedOpen);
    CHECK(list(fx.events) == std::vector<E>{E::kRelocked, E::kOpened, E::kForcedOpen});
    CHECK(list(fx.transitions) == std::vector<T>{{S::kUnlocked, S::kLocked, ms(5000)},
                                                 {S::kLocked, S::kForcedOpen, ms(5000)}});
  }
  SECTION("one millisecond earlier it is a legitimate open") {
    DoorController d{secure()};
    d.grant(ms(0));
    auto fx = d.contact(DoorContact::kOpen, ms(4999));
    CHECK(fx.state == S::kOpen);
    CHECK(list(fx.events) == std::vector<E>{E::kOpened});
  }
  SECTION("a late close still reports the held-open alarm it missed") {
    DoorController d{secure()};
    d.grant(ms(0));
    d.contact(DoorContact::kOpen, ms(1000));
    auto fx = d.contact(DoorContact::kClosed, ms(40000));
    CHECK(list(fx.events) ==
          std::vector<E>{E::kRelocked, E::kHeldOpen, E::kClosed, E::kHeldOpenCleared});
    CHECK(list(fx.transitions) == std::vector<T>{{S::kOpen, S::kHeldOpen, ms(31000)},
                                                 {S::kHeldOpen, S::kLocked, ms(40000)}});
    CHECK(fx.state == S::kLocked);
  }
}

TEST_CASE("a new release while open restarts the held-open timer", "[firmware][door]") {
  DoorController d{secure()};
  d.grant(ms(0));
  d.contact(DoorContact::kOpen, ms(1000));
  auto fx = d.grant(ms(20000));
  CHECK(fx.state == S::kOpen);
  CHECK(fx.strike_release);
  // The first pulse ran out at 5000 without a tick; that relock is reported first.
  CHECK(list(fx.events) == std::vector<E>{E::kRelocked, E::kGranted});
  CHECK(d.tick(ms(49999)).state == S::kOpen);
  CHECK(d.tick(ms(50000)).state == S::kHeldOpen);
}

TEST_CASE("forced open raises at once and clears on close", "[firmware][door]") {
  DoorController d{secure()};
  auto fx = d.contact(DoorContact::kOpen, ms(100));
  CHECK(fx.state == S::kForcedOpen);
  CHECK_FALSE(fx.strike_release);
  CHECK(fx.indicator == Indicator::kAlarm);
  CHECK(list(fx.events) == std::vector<E>{E::kOpened, E::kForcedOpen});
  CHECK(list(fx.transitions) == std::vector<T>{{S::kLocked, S::kForcedOpen, ms(100)}});
  CHECK(d.next_deadline() == std::nullopt);

  // A grant at a forced door is reported; the alarm stays until the door closes.
  fx = d.grant(ms(200));
  CHECK(fx.state == S::kForcedOpen);
  CHECK(list(fx.events) == std::vector<E>{E::kGranted});
  CHECK(fx.strike_release);

  fx = d.contact(DoorContact::kClosed, ms(300));
  CHECK(fx.state == S::kLocked);
  CHECK(list(fx.events) == std::vector<E>{E::kClosed, E::kForcedOpenCleared, E::kRelocked});
}

TEST_CASE("grant while held open is reported and keeps the alarm", "[firmware][door]") {
  DoorController d{secure()};
  d.grant(ms(0));
  d.contact(DoorContact::kOpen, ms(1000));
  d.tick(ms(31000));
  auto fx = d.grant(ms(32000));
  CHECK(fx.state == S::kHeldOpen);
  CHECK(list(fx.events) == std::vector<E>{E::kGranted});
  CHECK(fx.strike_release);
  CHECK(fx.indicator == Indicator::kAlarm);
}

TEST_CASE("impossible door inputs are ignored", "[firmware][door]") {
  DoorController d{secure()};
  SECTION("locked") {
    require_ignored(d.contact(DoorContact::kClosed, ms(1)), d, false);
    require_ignored(d.fire_alarm(false, ms(2)), d, false);
    require_ignored(d.fault(false, ms(3)), d, false);
    require_ignored(d.tick(ms(4)), d, false);
    require_ignored(d.contact(static_cast<DoorContact>(5), ms(5)), d, false);
  }
  SECTION("unlocked") {
    d.grant(ms(0));
    require_ignored(d.contact(DoorContact::kClosed, ms(1)), d, true);
    require_ignored(d.fire_alarm(false, ms(2)), d, true);
    require_ignored(d.fault(false, ms(3)), d, true);
    CHECK(d.state() == S::kUnlocked);
  }
  SECTION("open") {
    d.grant(ms(0));
    d.contact(DoorContact::kOpen, ms(1));
    require_ignored(d.contact(DoorContact::kOpen, ms(2)), d, true);
    require_ignored(d.fault(false, ms(3)), d, true);
    CHECK(d.state() == S::kOpen);
  }
  SECTION("fire release") {
    d.fire_alarm(true, ms(0));
    require_ignored(d.fire_alarm(true, ms(1)), d, true);
    require_ignored(d.contact(DoorContact::kClosed, ms(2)), d, true);
    require_ignored(d.tick(ms(100000)), d, true);
  }
  SECTION("fault") {
    d.fault(true, ms(0));
    require_ignored(d.fault(true, ms(1)), d, false);
    require_ignored(d.tick(ms(100000)), d, false);
  }
  SECTION("a door without contact ignores contact inputs") {
    DoorConfig c = secure();
    c.has_contact = false;
    DoorController nc{c};
    require_ignored(nc.contact(DoorContact::kOpen, ms(1)), nc, false);
    nc.grant(ms(10));
    require_ignored(nc.contact(DoorContact::kOpen, ms(11)), nc, true);
    CHECK(nc.tick(ms(5009)).state == S::kUnlocked);
    CHECK(nc.tick(ms(5010)).state == S::kLocked);
  }
}

TEST_CASE("time going backwards is treated as no time passing", "[firmware][door]") {
  DoorController d{secure()};
  d.grant(ms(10000));
  require_ignored(d.tick(ms(5000)), d, true);
  // A grant stamped in the past counts from the latest time seen.
  d.grant(ms(1000));
  CHECK(d.next_deadline() == ms(15000));
  CHECK(d.tick(ms(14999)).state == S::kUnlocked);
  CHECK(d.tick(ms(15000)).state == S::kLocked);
}

namespace {

// Drives a fresh door into `target` through legitimate inputs; returns the time used.
Millis drive_door(DoorController& d, DoorState target) {
  switch (target) {
    case S::kLocked:
      return ms(0);
    case S::kUnlocked:
      d.grant(ms(0));
      return ms(100);
    case S::kOpen:
      d.grant(ms(0));
      d.contact(DoorContact::kOpen, ms(100));
      return ms(200);
    case S::kHeldOpen:
      d.grant(ms(0));
      d.contact(DoorContact::kOpen, ms(100));
      d.tick(ms(30100));
      return ms(30200);
    case S::kForcedOpen:
      d.contact(DoorContact::kOpen, ms(100));
      return ms(200);
    case S::kFault:
      d.fault(true, ms(100));
      return ms(200);
    case S::kFireRelease:
      d.fire_alarm(true, ms(100));
      return ms(200);
  }
  return ms(0);
}

}  // namespace

TEST_CASE("fire alarm releases an egress door from every state", "[firmware][door][fire]") {
  const S states[] = {S::kLocked, S::kUnlocked, S::kOpen, S::kHeldOpen, S::kForcedOpen, S::kFault};
  for (S from : states) {
    for (FailMode mode : {FailMode::kSecure, FailMode::kSafe}) {
      DYNAMIC_SECTION(to_string(from) << " fail-" << to_string(mode)) {
        DoorConfig c;
        c.fail_mode = mode;
        DoorController d{c};
        const Millis t = drive_door(d, from);
        REQUIRE(d.state() == from);
        auto fx = d.fire_alarm(true, t);
        CHECK(fx.result == InputResult::kAccepted);
        CHECK(fx.state == S::kFireRelease);
        CHECK(fx.strike_release);
        CHECK(fx.indicator == Indicator::kAlarm);
        REQUIRE_FALSE(fx.events.empty());
        CHECK(fx.events[0] == E::kFireReleaseOn);
        if (from == S::kHeldOpen) {
          CHECK(list(fx.events) == std::vector<E>{E::kFireReleaseOn, E::kHeldOpenCleared});
        } else if (from == S::kForcedOpen) {
          CHECK(list(fx.events) == std::vector<E>{E::kFireReleaseOn, E::kForcedOpenCleared});
        } else {
          CHECK(list(fx.events) == std::vector<E>{E::kFireReleaseOn});
        }
        CHECK(list(fx.transitions) == std::vector<T>{{from, S::kFireRelease, t}});
        CHECK(d.fire_active());

        // When the alarm clears the door settles as its contact implies; the pulse is long over.
        fx = d.fire_alarm(false, t + ms(60000));
        CHECK(fx.events[0] == E::kFireReleaseOff);
        const bool open = d.contact_position() == DoorContact::kOpen;
        if (from == S::kFault) {
          CHECK(fx.state == S::kFault);
          CHECK(fx.strike_release == (mode == FailMode::kSafe));
        } else if (open) {
          CHECK(fx.state == S::kHeldOpen);
          CHECK_FALSE(fx.strike_release);
        } else {
          CHECK(fx.state == S::kLocked);
          CHECK_FALSE(fx.strike_release);
          CHECK(list(fx.events) == std::vector<E>{E::kFireReleaseOff, E::kRelocked});
        }
      }
    }
  }
}

TEST_CASE("during fire release the door reports but keeps released", "[firmware][door][fire]") {
  DoorController d{secure()};
  d.fire_alarm(true, ms(0));
  auto fx = d.grant(ms(100));
  CHECK(fx.result == InputResult::kAccepted);
  CHECK(fx.feedback == Feedback::kGranted);
  CHECK(list(fx.events) == std::vector<E>{E::kGranted});
  CHECK(fx.state == S::kFireRelease);
  CHECK(d.next_deadline() == std::nullopt);  // no pulse of its own during the alarm

  fx = d.deny(ms(150));
  CHECK(list(fx.events) == std::vector<E>{E::kDenied});
  fx = d.exit_button(ms(160));
  CHECK(list(fx.events) == std::vector<E>{E::kExitReleased});

  fx = d.contact(DoorContact::kOpen, ms(200));
  CHECK(list(fx.events) == std::vector<E>{E::kOpened});
  CHECK(fx.state == S::kFireRelease);
  fx = d.contact(DoorContact::kClosed, ms(300));
  CHECK(list(fx.events) == std::vector<E>{E::kClosed});
  CHECK(fx.state == S::kFireRelease);

  // Fault arriving during the alarm is recorded; the alarm keeps priority.
  fx = d.fault(true, ms(400));
  CHECK(list(fx.events) == std::vector<E>{E::kFaultEnter});
  CHECK(fx.state == S::kFireRelease);
  CHECK(fx.strike_release);
  fx = d.fire_alarm(false, ms(500));
  CHECK(fx.state == S::kFault);
  CHECK_FALSE(fx.strike_release);
  fx = d.fault(false, ms(600));
  CHECK(fx.state == S::kLocked);
  CHECK(list(fx.events) == std::vector<E>{E::kFaultLeave});
}

TEST_CASE("a pulse that outlives the fire alarm leaves the door unlocked",
          "[firmware][door][fire]") {
  DoorController d{secure()};
  d.grant(ms(0));
  d.fire_alarm(true, ms(1000));
  auto fx = d.fire_alarm(false, ms(2000));
  CHECK(fx.state == S::kUnlocked);
  CHECK(fx.strike_release);
  CHECK(d.tick(ms(4999)).state == S::kUnlocked);
  CHECK(d.tick(ms(5000)).state == S::kLocked);

  // Open at clear time with the pulse still running: a legitimate open, not an alarm.
  DoorController o{secure()};
  o.grant(ms(0));
  o.contact(DoorContact::kOpen, ms(500));
  o.fire_alarm(true, ms(1000));
  fx = o.fire_alarm(false, ms(2000));
  CHECK(fx.state == S::kOpen);
  CHECK(o.tick(ms(31999)).state == S::kOpen);
  CHECK(o.tick(ms(32000)).state == S::kHeldOpen);
}

// Issue 20, 2f: this case used `egress = false` to say "no fire release"; that key is the exit
// reader's policy. The assertions are unchanged; the door now opts out with fire_release.
TEST_CASE("a door without fire release ignores the fire alarm", "[firmware][door][fire]") {
  DoorConfig c = secure();
  c.fire_release = false;
  DoorController d{c};
  auto fx = d.fire_alarm(true, ms(0));
  require_ignored(fx, d, false);
  CHECK(d.state() == S::kLocked);
  CHECK(d.fire_active());
  CHECK(d.grant(ms(10)).state == S::kUnlocked);
}

TEST_CASE("a door whose exit reader checks plans still releases on fire",
          "[firmware][door][fire]") {
  // An escape-route door with egress = false (the exit reader checks plans like an entry reader)
  // stayed locked in a fire alarm before fire release had its own flag.
  for (FailMode mode : {FailMode::kSecure, FailMode::kSafe}) {
    DoorConfig c;
    c.fail_mode = mode;
    c.egress = false;
    DoorController d{c};
    auto fx = d.fire_alarm(true, ms(0));
    CHECK(fx.result == InputResult::kAccepted);
    CHECK(fx.state == S::kFireRelease);
    CHECK(fx.strike_release);
    CHECK(list(fx.events) == std::vector<E>{E::kFireReleaseOn});
  }
  CHECK(DoorConfig{}.fire_release);
}

TEST_CASE("fault follows the fail mode", "[firmware][door][fault]") {
  SECTION("fail-secure stays locked, but grants and exit still pulse") {
    DoorController d{secure()};
    auto fx = d.fault(true, ms(0));
    CHECK(fx.result == InputResult::kAccepted);
    CHECK(fx.state == S::kFault);
    CHECK_FALSE(fx.strike_release);
    CHECK(fx.indicator == Indicator::kFault);
    CHECK(list(fx.events) == std::vector<E>{E::kFaultEnter});
    CHECK(list(fx.transitions) == std::vector<T>{{S::kLocked, S::kFault, ms(0)}});

    fx = d.exit_button(ms(1000));
    CHECK(fx.strike_release);
    CHECK(list(fx.events) == std::vector<E>{E::kExitReleased});
    CHECK(d.tick(ms(5999)).strike_release);
    fx = d.tick(ms(6000));
    CHECK_FALSE(fx.strike_release);
    CHECK(fx.state == S::kFault);
    CHECK(list(fx.events) == std::vector<E>{E::kRelocked});

    // Contact changes are recorded without alarms while the system cannot decide.
    fx = d.contact(DoorContact::kOpen, ms(7000));
    CHECK(list(fx.events) == std::vector<E>{E::kOpened});
    CHECK(fx.state == S::kFault);
    // Leaving the fault with the door open and no pulse is an alarm.
    fx = d.fault(false, ms(8000));
    CHECK(fx.state == S::kHeldOpen);
    CHECK(list(fx.events) == std::vector<E>{E::kFaultLeave, E::kHeldOpen});
  }
  SECTION("fail-safe releases and still reports grants") {
    DoorController d{safe()};
    auto fx = d.fault(true, ms(0));
    CHECK(fx.state == S::kFault);
    CHECK(fx.strike_release);
    fx = d.grant(ms(100));
    CHECK(fx.result == InputResult::kAccepted);
    CHECK(list(fx.events) == std::vector<E>{E::kGranted});
    CHECK(fx.strike_release);
    fx = d.tick(ms(5100));
    CHECK(fx.strike_release);  // released by the fail mode, not the pulse
    CHECK(fx.events.empty());
    fx = d.fault(false, ms(6000));
    CHECK(fx.state == S::kLocked);
    CHECK_FALSE(fx.strike_release);
    CHECK(list(fx.events) == std::vector<E>{E::kFaultLeave, E::kRelocked});
  }
  SECTION("fault from an open door, cleared while the pulse runs") {
    DoorController d{secure()};
    d.grant(ms(0));
    d.contact(DoorContact::kOpen, ms(100));
    auto fx = d.fault(true, ms(200));
    CHECK(fx.state == S::kFault);
    CHECK(fx.strike_release);  // the pulse keeps running
    fx = d.fault(false, ms(300));
    CHECK(fx.state == S::kOpen);
    CHECK(d.tick(ms(30299)).state == S::kOpen);
    CHECK(d.tick(ms(30300)).state == S::kHeldOpen);
  }
  SECTION("fault from every normal state") {
    for (S from : {S::kLocked, S::kUnlocked, S::kOpen, S::kHeldOpen, S::kForcedOpen}) {
      DoorController d{safe()};
      const Millis t = drive_door(d, from);
      REQUIRE(d.state() == from);
      auto fx = d.fault(true, t);
      CHECK(fx.state == S::kFault);
      CHECK(fx.strike_release);
      CHECK(fx.events[0] == E::kFaultEnter);
    }
  }
}

TEST_CASE("an impossible door state traps into fault", "[firmware][door]") {
  DoorController d{secure()};
  DoorControllerTestPeer::corrupt_state(d, 42);
  CHECK(std::strcmp(to_string(d.state()), "unknown") == 0);
  CHECK_FALSE(d.strike_release());
  auto fx = d.tick(ms(10));
  CHECK(fx.state == S::kFault);
  CHECK(list(fx.events) == std::vector<E>{E::kTrap, E::kFaultEnter});
  REQUIRE(fx.transitions.size() == 1);
  CHECK(fx.transitions[0].to == S::kFault);
  CHECK(std::strcmp(to_string(fx.transitions[0].from), "unknown") == 0);
  CHECK(d.fault_active());
  fx = d.fault(false, ms(20));
  CHECK(fx.state == S::kLocked);
}

TEST_CASE("door enums have stable distinct names", "[firmware][door]") {
  std::vector<std::string> names;
  for (int i = 0; i <= static_cast<int>(S::kFault); ++i) names.push_back(to_string(S(i)));
  CHECK(names == std::vector<std::string>{"locked", "unlocked", "open", "held_open", "forced_open",
                                          "fire_release", "fault"});
  names.clear();
  for (int i = 0; i <= static_cast<int>(E::kTrap); ++i) names.push_back(to_string(E(i)));
  CHECK(names == std::vector<std::string>{"granted", "denied", "exit_released", "remote_unlocked",
                                          "opened", "closed", "held_open", "held_open_cleared",
                                          "forced_open", "forced_open_cleared", "fire_release_on",
                                          "fire_release_off", "fault_enter", "fault_leave",
                                          "relocked", "trap"});
  CHECK(std::string(to_string(FailMode::kSecure)) == "secure");
  CHECK(std::string(to_string(FailMode::kSafe)) == "safe");
  CHECK(std::string(to_string(DoorContact::kClosed)) == "closed");
  CHECK(std::string(to_string(DoorContact::kOpen)) == "open");
  CHECK(std::string(to_string(UnlockCause::kNone)) == "none");
  CHECK(std::string(to_string(UnlockCause::kGrant)) == "grant");
  CHECK(std::string(to_string(UnlockCause::kExit)) == "exit");
  CHECK(std::string(to_string(UnlockCause::kRemote)) == "remote");
  CHECK(std::string(to_string(DoorConfigError::kNone)) == "none");
  CHECK(std::string(to_string(DoorConfigError::kStrikePulseTooShort)) == "strike_pulse_too_short");
  CHECK(std::string(to_string(DoorConfigError::kHeldOpenLimitNotPositive)) ==
        "held_open_limit_not_positive");
  CHECK(std::string(to_string(DoorConfigError::kUnknownFailMode)) == "unknown_fail_mode");
  CHECK(std::string(to_string(static_cast<DoorEvent>(99))) == "unknown");
  CHECK(std::string(to_string(static_cast<FailMode>(99))) == "unknown");
  CHECK(std::string(to_string(static_cast<DoorContact>(99))) == "unknown");
  CHECK(std::string(to_string(static_cast<UnlockCause>(99))) == "unknown");
  CHECK(std::string(to_string(static_cast<DoorConfigError>(99))) == "unknown");
}
