#pragma once
// Private to the machine unit (machines.cpp, machine_sessions.cpp): one machine's state.

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "labgate/gateway/app/machines.hpp"

namespace labgate::gateway::app {

struct MachineUnit::Machine {
  Machine(const MachineSetup& s, firmware::Millis now)
      : setup(s), controller(setup.controller, now) {}
  MachineSetup setup;
  firmware::MachineInterlock controller;
  std::shared_ptr<drivers::Output> relay;
  std::optional<std::string> session_uuid;
  std::string member_no;  // of the running session's holder
  std::string last_state;
  firmware::OutOfServiceReason wanted_oos{firmware::OutOfServiceReason::kNone};
  bool confirms{false};     // the relay reports its state later (smart plug)
  bool awaiting_on{false};  // an ON command of a confirming relay is not yet confirmed
  // A session whose relay has not confirmed ON yet: nothing of it is committed.
  struct PendingStart {
    store::NewSession session;
    store::AccessEvent event;               // session_started
    std::optional<store::AccessEvent> tap;  // the granted tap, answered at commit
    TapDone done;
    TapOutcome outcome;
  };
  std::optional<PendingStart> pending_start;
  // The busy input's recent on-periods (bounded), for the busy seconds of the next session end.
  bool busy_now{false};
  firmware::Millis busy_since{0};
  std::deque<std::pair<firmware::Millis, firmware::Millis>> busy_spans;
};

/// An info event of `m`; with `member`, the session holder's id and number.
inline store::AccessEvent machine_event(const MachineUnit::Machine& m, std::int64_t at_ms,
                                        std::string kind, std::string reason,
                                        std::optional<std::int64_t> member = std::nullopt) {
  auto e = info_event(at_ms, std::move(kind), std::move(reason));
  e.machine_id = m.setup.id;
  if (member) {
    e.member_id = member;
    e.member_no = m.member_no;
  }
  return e;
}

}  // namespace labgate::gateway::app
