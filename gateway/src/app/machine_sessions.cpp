#include <spdlog/spdlog.h>

#include <algorithm>

#include "labgate/gateway/mqtt/payloads.hpp"
#include "machine.hpp"

// The machine unit's effect side: what the interlock's effects come to (relay, session records,
// grace, alarms, the retained state), the sessions held for a confirming relay, and busy time.

namespace labgate::gateway::app {

using firmware::Millis;

// ---------------------------------------------------------------------------------------------
// Interlock effects

void MachineUnit::apply(Machine& m, const firmware::MachineEffects& fx, const Cause& cause) {
  for (const auto& t : fx.transitions) {
    spdlog::debug("machine {}: [{}] -> [{}]", m.setup.id, firmware::to_string(t.from),
                  firmware::to_string(t.to));
  }
  if (m.relay && m.relay->commanded() != fx.relay) {
    auto r = m.relay->set(fx.relay);
    if (r == drivers::IoResult::kFatal) {
      spdlog::error("machine {}: relay output {} failed", m.setup.id, m.relay->id());
    }
    m.awaiting_on = m.confirms && fx.relay && r == drivers::IoResult::kRetry;
  }
  if (fx.warning_beep) spdlog::info("machine {}: warning beep (session ending)", m.setup.id);
  for (const auto& ev : fx.events) {
    switch (ev.kind) {
      case firmware::MachineEventKind::kSessionStarted:
        session_started(m, ev, cause);
        break;
      case firmware::MachineEventKind::kSessionEnded:
        session_ended(m, ev, cause);
        break;
      case firmware::MachineEventKind::kGraceStarted:
        grace_started(m, ev);
        break;
      case firmware::MachineEventKind::kSessionResumed:
        spdlog::info("machine {}: session of {} resumed", m.setup.id, m.member_no);
        break;
      case firmware::MachineEventKind::kTrap:
        // Not the busy alarms: they come in fx.alarms, recorded below.
        trapped(m);
        break;
    }
  }
  for (const auto& a : fx.alarms) record_alarm(m, a);
  publish_state(m);
}

void MachineUnit::session_started(Machine& m, const firmware::MachineEvent& ev,
                                  const Cause& cause) {
  if (!cause.member_no.empty()) m.member_no = cause.member_no;
  store::NewSession s;
  s.uuid = journal_.new_uuid();
  s.member_id = ev.member;
  s.machine_id = m.setup.id;
  s.kind = store::SessionKind::kMachine;
  s.started_at_ms = journal_.wall_ms_at(ev.at);
  m.session_uuid = s.uuid;
  auto e = machine_event(m, s.started_at_ms, "session_started", "ok", ev.member);
  e.uuid = journal_.new_uuid();
  e.reader_id = cause.reader_id;
  e.detail = s.uuid;
  if (m.awaiting_on) {
    // The relay has been commanded but may not have switched: nothing is committed until it
    // confirms (relay_confirmed) or fails to (relay_unconfirmed).
    spdlog::info("machine {}: session of {} waits for the relay to confirm on", m.setup.id,
                 m.member_no);
    m.pending_start = Machine::PendingStart{std::move(s), std::move(e), std::nullopt, {}, {}};
    return;
  }
  spdlog::info("machine {}: session {} of {} started, relay on", m.setup.id, s.uuid, m.member_no);
  journal_.open_session(std::move(s), std::move(e), journal_.topics().machine_session(m.setup.id),
                        SessionMark{"open", std::nullopt});
}

void MachineUnit::session_ended(Machine& m, const firmware::MachineEvent& ev, const Cause& cause) {
  if (m.pending_start) {
    // Ended (card gone, fire alarm, lockout, fault, confirmation timeout) before the relay
    // confirmed: the session never existed.
    abort_start(m,
                cause.abort_reason.empty() ? std::string("session_aborted") : cause.abort_reason);
    return;
  }
  if (!m.session_uuid) {
    spdlog::error("machine {}: a session ended that was never recorded as started", m.setup.id);
    return;
  }
  SessionClose close;
  close.uuid = *m.session_uuid;
  m.session_uuid.reset();
  close.ended_at_ms = journal_.wall_ms_at(ev.at);
  close.reason = firmware::to_string(ev.reason);
  const auto measured = std::max<std::int64_t>(0, (ev.at - ev.started_at).count() / 1000);
  close.measured_seconds = measured;
  if (m.setup.controller.has_busy_input) {
    close.busy_seconds = take_busy_seconds(m, ev.started_at, ev.at);
  }
  auto e = machine_event(m, close.ended_at_ms, "session_ended", close.reason, ev.member);
  e.uuid = journal_.new_uuid();
  e.detail = close.uuid;
  spdlog::info("machine {}: session {} of {} ended ({}), {} s", m.setup.id, close.uuid, m.member_no,
               close.reason, measured);
  journal_.close_session(std::move(close), std::move(e),
                         journal_.topics().machine_session(m.setup.id),
                         SessionMark{"closed", measured});
}

void MachineUnit::grace_started(Machine& m, const firmware::MachineEvent& ev) {
  spdlog::info("machine {}: session of {} ending ({}), grace period runs", m.setup.id, m.member_no,
               firmware::to_string(ev.reason));
  auto e = machine_event(m, journal_.wall_ms(), "grace_started", firmware::to_string(ev.reason),
                         ev.member);
  journal_.record(std::move(e), journal_.topics().machine_session(m.setup.id));
}

void MachineUnit::trapped(Machine& m) {
  spdlog::critical("machine {}: controller trapped an impossible state; relay off", m.setup.id);
  journal_.record(machine_event(m, journal_.wall_ms(), "trap", "alarm"), journal_.topics().alarm());
}

void MachineUnit::record_alarm(Machine& m, const firmware::MachineAlarm& a) {
  // kind: "busy_sensor" / "busy_hold_limit" when raised, with "_cleared" when the busy input is
  // seen low again; staff see why a machine's power was cut or held back.
  std::string kind = firmware::to_string(a.kind);
  if (a.raised) {
    spdlog::warn("machine {}: alarm {} (busy input suspect; it holds no power until seen low)",
                 m.setup.id, kind);
  } else {
    spdlog::info("machine {}: alarm {} cleared (busy input low)", m.setup.id, kind);
    kind += "_cleared";
  }
  auto e = machine_event(m, journal_.wall_ms_at(a.at), std::move(kind), "alarm");
  if (a.member != 0) e.member_id = a.member;
  journal_.record(std::move(e), journal_.topics().alarm());
}

void MachineUnit::commit_start(Machine& m) {
  auto p = std::move(*m.pending_start);
  m.pending_start.reset();
  spdlog::info("machine {}: relay confirmed on; session {} of {} started", m.setup.id,
               p.session.uuid, m.member_no);
  const auto topic = journal_.topics().machine_session(m.setup.id);
  journal_.open_session(std::move(p.session), std::move(p.event), topic,
                        SessionMark{"open", std::nullopt});
  if (p.tap) {
    journal_.record(std::move(*p.tap), topic, tap_answer(std::move(p.done), std::move(p.outcome)));
  }
  publish_state(m);
}

void MachineUnit::abort_start(Machine& m, const std::string& reason) {
  auto p = std::move(*m.pending_start);
  m.pending_start.reset();
  m.session_uuid.reset();
  spdlog::warn("machine {}: session of {} not started ({})", m.setup.id, m.member_no, reason);
  if (!p.tap) return;
  p.tap->decision = store::Decision::kDenied;
  p.tap->reason = reason;
  p.outcome.granted = false;
  p.outcome.reason = reason;
  journal_.record(std::move(*p.tap), journal_.topics().machine_session(m.setup.id),
                  tap_answer(std::move(p.done), std::move(p.outcome)));
}

void MachineUnit::publish_state(Machine& m) {
  // A session waiting for its relay is not in use yet; its commit publishes the state.
  if (m.pending_start) return;
  const std::string state = firmware::to_string(m.controller.state());
  const auto holder = m.controller.member();
  const std::string key = state + (holder ? ":" + m.member_no : "");
  if (key == m.last_state) return;
  m.last_state = key;
  mqtt::MachineStatus status{m.setup.id, state, m.controller.relay(),
                             holder ? std::optional<std::string>(m.member_no) : std::nullopt};
  journal_.publish_state(
      journal_.topics().machine_state(m.setup.id),
      [status](const mqtt::EventHeader& h) { return mqtt::machine_status_payload(h, status); });
}

// ---------------------------------------------------------------------------------------------
// Busy time

void MachineUnit::note_busy(Machine& m, bool busy, Millis now) {
  if (busy == m.busy_now) return;
  m.busy_now = busy;
  if (busy) {
    m.busy_since = now;
    return;
  }
  m.busy_spans.emplace_back(m.busy_since, now);
  // A flapping input must not grow memory without bound; older spans only matter to a session
  // that has already been running for thousands of busy periods.
  constexpr std::size_t kMaxSpans = 4096;
  if (m.busy_spans.size() > kMaxSpans) m.busy_spans.pop_front();
}

std::int64_t MachineUnit::take_busy_seconds(Machine& m, Millis from, Millis to) {
  Millis total{0};
  auto add = [&](Millis a, Millis b) {
    a = std::max(a, from);
    b = std::min(b, to);
    if (b > a) total += b - a;
  };
  for (const auto& [a, b] : m.busy_spans) add(a, b);
  if (m.busy_now) add(m.busy_since, to);
  // Spans before this session's end are billed now; the next session starts after it.
  while (!m.busy_spans.empty() && m.busy_spans.front().second <= to) m.busy_spans.pop_front();
  return total.count() / 1000;
}

}  // namespace labgate::gateway::app
