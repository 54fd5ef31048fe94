#include "labgate/gateway/app/machines.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "machine.hpp"

namespace labgate::gateway::app {

using firmware::MachineState;
using firmware::Millis;
using firmware::OutOfServiceReason;

namespace {

// The tap's answer: the policy's, unless the interlock refused the grant the policy gave.
struct Verdict {
  bool granted{false};
  policy::Reason reason{policy::Reason::kUnknownCredential};
  std::string detail;
};

Verdict verdict_of(const policy::Decision& decision, const firmware::MachineEffects& fx,
                   MachineState state) {
  if (!decision.granted) return {false, decision.reason, decision.detail};
  if (fx.result == firmware::InputResult::kMachineInUse) {
    return {false, policy::Reason::kMachineInUse, decision.detail};
  }
  if (fx.result == firmware::InputResult::kUnavailable) {
    return {false, policy::Reason::kMachineNotReady, firmware::to_string(state)};
  }
  return {true, decision.reason, decision.detail};
}

policy::MachineReadiness readiness_of(const firmware::MachineInterlock& c) {
  switch (c.state()) {
    case MachineState::kStartup:
      return policy::MachineReadiness::kStartup;
    case MachineState::kAwaitingCheckoff:
      return policy::MachineReadiness::kAwaitingCheckoff;
    case MachineState::kOutOfService:
      // A lockout or an overdue inspection is reported by the policy under its own reason;
      // only a reported problem or a controller fault is "not ready".
      return c.out_of_service_reason() == OutOfServiceReason::kStaffLockout ||
                     c.out_of_service_reason() == OutOfServiceReason::kInspectionOverdue
                 ? policy::MachineReadiness::kReady
                 : policy::MachineReadiness::kOutOfService;
    case MachineState::kFault:
      return policy::MachineReadiness::kOutOfService;
    default:
      return policy::MachineReadiness::kReady;
  }
}

}  // namespace

MachineUnit::MachineUnit(const SiteSetup& setup, store::Store& store, Clock& clock,
                         Journal& journal)
    : setup_(setup), store_(store), clock_(clock), journal_(journal) {
  for (const auto& m : setup.machines) {
    machines_.push_back(std::make_unique<Machine>(m, clock_.mono()));
  }
}

MachineUnit::~MachineUnit() = default;

MachineUnit::Machine* MachineUnit::find(const std::string& machine_id) {
  for (auto& m : machines_) {
    if (m->setup.id == machine_id) return m.get();
  }
  return nullptr;
}

void MachineUnit::attach_relay(const std::string& machine_id,
                               std::shared_ptr<drivers::Output> relay, bool confirms) {
  if (auto* m = find(machine_id)) {
    m->relay = std::move(relay);
    m->confirms = confirms;
  }
}

std::optional<std::size_t> MachineUnit::route(const std::string& reader_id) const {
  for (std::size_t i = 0; i < machines_.size(); ++i) {
    if (machines_[i]->setup.reader == reader_id) return i;
  }
  return std::nullopt;
}

const std::string& MachineUnit::id(std::size_t machine) const {
  return machines_.at(machine)->setup.id;
}

// ---------------------------------------------------------------------------------------------
// Start and stop

void MachineUnit::sync_store() {
  for (auto& m : machines_) {
    auto existing = store_.taps().machine(m->setup.id);
    if (!existing.ok()) continue;
    const bool busy_input = m->setup.controller.has_busy_input;
    if (existing.value()) {
      // The store checks idle prices against this flag; the configuration is the truth.
      if (existing.value()->busy_input != busy_input) {
        auto r = store_.staff().set_machine_busy_input(m->setup.id, busy_input, "labgated");
        if (!r.ok()) {
          spdlog::error("store: cannot record the busy input of machine {}: {}", m->setup.id,
                        r.error().message);
        }
      }
      continue;
    }
    store::NewMachine nm;
    nm.id = m->setup.id;
    nm.name = m->setup.name;
    nm.certification_type = m->setup.certification;
    nm.session_mode =
        m->setup.controller.mode == firmware::SessionMode::kCardStays ? "hold" : "tap";
    nm.inspection_interval_days = m->setup.inspection_interval_days;
    nm.needs_checkoff = m->setup.controller.needs_checkoff;
    nm.busy_input = busy_input;
    auto r = store_.staff().add_machine(nm, "labgated");
    if (!r.ok() && r.error().kind == store::ErrorKind::kNotFound && nm.certification_type) {
      // The machine still refuses everybody until staff define the certification type
      // (labgatectl cert-types add); recording it now keeps its events and inspections.
      spdlog::warn(
          "machine {}: certification type '{}' is not defined yet; nobody can use it "
          "until staff add it",
          nm.id, *nm.certification_type);
      nm.certification_type.reset();
      r = store_.staff().add_machine(nm, "labgated");
    }
    if (!r.ok()) spdlog::error("store: cannot record machine {}: {}", nm.id, r.error().message);
  }
}

void MachineUnit::start() {
  const auto now = clock_.mono();
  for (auto& m : machines_) apply(*m, m->controller.tick(now));
  refresh();
  for (auto& m : machines_) {
    spdlog::info("machine {} is in startup: relay off until staff confirm", m->setup.id);
  }
}

void MachineUnit::stop() {
  const auto now = clock_.mono();
  for (auto& m : machines_) {
    apply(*m, m->controller.lockout(OutOfServiceReason::kStaffLockout, now));
    if (m->relay) m->relay->set(false);
  }
}

// ---------------------------------------------------------------------------------------------
// Taps

DrivenAt MachineUnit::tap(std::size_t index, const drivers::ReaderEvent& event,
                          const CardLookup& card, policy::TapContext context, TapDone done) {
  Machine& m = *machines_.at(index);
  const auto& found = card.found;
  if (m.pending_start) {
    // The previous grant still waits for its relay: no second decision on this machine.
    TapOutcome o{false, "relay_pending", m.setup.id, found ? found->member.member_no : "", "", 0};
    spdlog::info("machine {}: {} refused, the relay has not confirmed yet", m.setup.id,
                 o.member_no.empty() ? "unknown card" : o.member_no);
    record_tap(m, event, card, std::move(o), std::move(done));
    return std::nullopt;
  }
  // The running session's own member: tap-off, or coming back during Grace.
  const auto holder = m.controller.member();
  if (found && holder && *holder == found->member.id &&
      !found->credential.revoked_at_ms.has_value()) {
    return holder_tap(m, event, *found, std::move(done));
  }

  const auto decision = policy::decide_machine(request(m, card, std::move(context)));
  const auto now = clock_.mono();
  const auto fx =
      decision.granted ? m.controller.grant(found->member.id, now) : m.controller.deny(now);
  const auto verdict = verdict_of(decision, fx, m.controller.state());
  Cause cause{event.reader_id, verdict.granted ? found->member.member_no : "", ""};
  apply(m, fx, cause);
  const auto driven = std::chrono::steady_clock::now();

  TapOutcome outcome{verdict.granted, std::string(policy::to_string(verdict.reason)),
                     m.setup.id,      found ? found->member.member_no : "",
                     verdict.detail,  0};
  spdlog::info("machine {} ({}): {} {} {}", m.setup.id, event.reader_id,
               outcome.member_no.empty() ? "unknown card" : outcome.member_no,
               verdict.granted ? "GRANTED" : "DENIED", outcome.reason);
  record_tap(m, event, card, std::move(outcome), std::move(done));
  return driven;
}

DrivenAt MachineUnit::holder_tap(Machine& m, const drivers::ReaderEvent& event,
                                 const store::CredentialMatch& found, TapDone done) {
  const bool tap_off = m.setup.controller.mode == firmware::SessionMode::kTapOnTapOff;
  const auto now = clock_.mono();
  apply(m,
        tap_off ? m.controller.tap_off(found.member.id, now)
                : m.controller.grant(found.member.id, now),
        Cause{event.reader_id, found.member.member_no, ""});
  const auto driven = std::chrono::steady_clock::now();
  TapOutcome outcome{true,       tap_off ? "session_ended" : "session_resumed",
                     m.setup.id, found.member.member_no,
                     "",         0};
  spdlog::info("machine {}: {} {}", m.setup.id, found.member.member_no, outcome.reason);
  CardLookup card{true, found, ""};
  record_tap(m, event, card, std::move(outcome), std::move(done));
  return driven;
}

policy::MachineRequest MachineUnit::request(Machine& m, const CardLookup& card,
                                            policy::TapContext context) {
  policy::MachineRequest req;
  req.tap = std::move(context);
  req.machine.certification_required = m.setup.certification.has_value();
  req.machine.inspection_required = m.setup.inspection_interval_days > 0;
  const auto& found = card.found;
  if (card.store_ok) {
    auto row = store_.taps().machine(m.setup.id);
    if (row.ok() && row.value()) {
      req.machine.locked_out = row.value()->locked_out;
      req.machine.next_inspection_due = date_of(row.value()->next_inspection_due);
    } else if (!row.ok()) {
      req.tap.store_available = false;
      journal_.store_failed("machine lookup failed: " + row.error().message);
    }
    if (found && m.setup.certification && !certification(m, *found, req)) {
      req.tap.store_available = false;
    }
  }
  if (auto holder = m.controller.member()) req.machine.occupied_by = *holder;
  if (found && card.store_ok && credit_check_) {
    req.credit_ok = credit_check_(found->member.id, m.setup.id, journal_.wall_ms());
  }
  req.machine.readiness = readiness_of(m.controller);
  return req;
}

bool MachineUnit::certification(Machine& m, const store::CredentialMatch& found,
                                policy::MachineRequest& req) {
  const auto today = policy::to_string(setup_.calendar.to_local(clock_.wall()).date);
  auto cert = store_.taps().valid_certification(found.member.id, *m.setup.certification, today);
  if (!cert.ok()) {
    journal_.store_failed("certification lookup failed: " + cert.error().message);
    return false;
  }
  if (cert.value()) {
    policy::CertificationFacts cf;
    cf.present = true;
    cf.expires_on = date_of(cert.value()->expires_on);
    cf.revoked = cert.value()->revoked_at_ms.has_value();
    req.certification = cf;
    return true;
  }
  // No currently valid one: look for an expired or revoked one so the member is told why.
  store::CertificationFilter f;
  f.member_no = found.member.member_no;
  f.type_code = *m.setup.certification;
  f.include_revoked = true;
  auto all = store_.staff().list_certifications(f);
  if (!all.ok() || all.value().empty()) return true;
  const auto& c = all.value().back();
  policy::CertificationFacts cf;
  cf.present = true;
  cf.expires_on = date_of(c.expires_on);
  cf.revoked = c.revoked_at_ms.has_value();
  req.certification = cf;
  return true;
}

void MachineUnit::record_tap(Machine& m, const drivers::ReaderEvent& event, const CardLookup& card,
                             TapOutcome outcome, TapDone done) {
  store::AccessEvent e;
  e.at_ms = journal_.wall_ms();
  e.reader_id = event.reader_id;
  e.machine_id = m.setup.id;
  e.kind = "tap_machine";
  e.decision = outcome.granted ? store::Decision::kGranted : store::Decision::kDenied;
  e.reason = outcome.reason;
  e.detail = outcome.detail;
  if (card.found) {
    e.member_id = card.found->member.id;
    e.credential_id = card.found->credential.id;
    e.member_no = card.found->member.member_no;
  }
  if (outcome.granted && m.pending_start && !m.pending_start->tap) {
    // Answered once the relay confirms (granted) or fails to (refused).
    m.pending_start->tap = std::move(e);
    m.pending_start->done = std::move(done);
    m.pending_start->outcome = std::move(outcome);
    return;
  }
  journal_.record(std::move(e), journal_.topics().machine_session(m.setup.id),
                  tap_answer(std::move(done), std::move(outcome)));
}

// ---------------------------------------------------------------------------------------------
// Inputs

void MachineUnit::card_removed(std::size_t machine) {
  Machine& m = *machines_.at(machine);
  apply(m, m.controller.card_removed(clock_.mono()));
}

void MachineUnit::busy(const std::string& machine_id, bool active) {
  const auto now = clock_.mono();
  for (auto& m : machines_) {
    if (m->setup.id != machine_id) continue;
    note_busy(*m, active, now);
    apply(*m, m->controller.busy(active, now));
  }
}

void MachineUnit::fire_alarm(bool active) {
  const auto now = clock_.mono();
  for (auto& m : machines_) apply(*m, m->controller.fire_alarm(active, now));
}

void MachineUnit::store_fault(bool active) {
  const auto now = clock_.mono();
  for (auto& m : machines_) apply(*m, m->controller.fault(active, now));
}

void MachineUnit::reader_status(std::size_t machine, bool down) {
  // Nobody can take the card away or tap off: the session winds down as after a removal.
  Machine& m = *machines_.at(machine);
  apply(m, m.controller.reader(!down, clock_.mono()));
}

void MachineUnit::relay_confirmed(const std::string& machine_id, bool on) {
  auto* m = find(machine_id);
  if (m == nullptr || !on) return;
  m->awaiting_on = false;
  if (m->pending_start) commit_start(*m);
}

void MachineUnit::relay_unconfirmed(const std::string& machine_id, bool wanted) {
  auto* m = find(machine_id);
  if (m == nullptr) return;
  auto e = machine_event(*m, journal_.wall_ms(), "relay_unconfirmed", "plug_no_confirm",
                         m->pending_start
                             ? std::optional<std::int64_t>(m->pending_start->session.member_id)
                             : std::nullopt);
  e.detail = wanted ? "on" : "off";
  spdlog::error("machine {}: relay did not confirm {}{}", machine_id, wanted ? "on" : "off",
                m->pending_start ? ": session not started" : "");
  journal_.record(std::move(e), journal_.topics().alarm());
  if (!wanted) return;
  m->awaiting_on = false;
  if (!m->pending_start) return;
  // Out of the session the way staff would take it out (relay off at once, no Grace), then
  // straight back: the member was refused, the machine itself is not suspect beyond the alarm.
  const Cause cause{std::nullopt, "", "plug_no_confirm"};
  const auto now = clock_.mono();
  apply(*m, m->controller.lockout(OutOfServiceReason::kProblemReported, now), cause);
  apply(*m, m->controller.release(now), cause);
}

// ---------------------------------------------------------------------------------------------
// Staff actions

bool MachineUnit::lockout(const std::string& machine_id, const std::string& reason,
                          const store::Actor& actor) {
  auto* m = find(machine_id);
  if (m == nullptr) return false;
  auto r = store_.staff().lockout_machine(machine_id, reason, actor);
  if (!r.ok() && r.error().kind != store::ErrorKind::kConflict) {
    spdlog::error("lockout of {} not stored: {}", machine_id, r.error().message);
  }
  m->wanted_oos = OutOfServiceReason::kStaffLockout;
  apply(*m, m->controller.lockout(OutOfServiceReason::kStaffLockout, clock_.mono()));
  return true;
}

bool MachineUnit::release(const std::string& machine_id, const store::Actor& actor) {
  auto* m = find(machine_id);
  if (m == nullptr) return false;
  auto r = store_.staff().release_machine(machine_id, actor);
  if (!r.ok() && r.error().kind != store::ErrorKind::kConflict) {
    spdlog::error("release of {} not stored: {}", machine_id, r.error().message);
  }
  m->wanted_oos = OutOfServiceReason::kNone;
  apply(*m, m->controller.release(clock_.mono()));
  refresh();  // an overdue inspection still keeps it out of service
  return true;
}

bool MachineUnit::confirm(const std::string& machine_id, const store::Actor& actor) {
  auto* m = find(machine_id);
  if (m == nullptr) return false;
  apply(*m, m->controller.staff_confirm(clock_.mono()));
  (void)store_.audit().append_audit(
      actor, "machine_confirm", machine_id,
      std::string(R"({"state":")") + firmware::to_string(m->controller.state()) + "\"}");
  return true;
}

void MachineUnit::all_stop(const store::Actor& actor) {
  for (auto& m : machines_) lockout(m->setup.id, "all-stop", actor);
}

void MachineUnit::refresh() {
  const auto now = clock_.mono();
  const auto local = setup_.calendar.to_local(clock_.wall());
  for (auto& m : machines_) {
    auto row = store_.taps().machine(m->setup.id);
    if (!row.ok() || !row.value()) continue;
    auto wanted = OutOfServiceReason::kNone;
    if (row.value()->locked_out) {
      wanted = OutOfServiceReason::kStaffLockout;
    } else if (m->setup.inspection_interval_days > 0) {
      auto due = date_of(row.value()->next_inspection_due);
      if (!due || std::chrono::sys_days(*due) < std::chrono::sys_days(local.date)) {
        wanted = OutOfServiceReason::kInspectionOverdue;
      }
    }
    if (wanted == m->wanted_oos) continue;
    m->wanted_oos = wanted;
    if (wanted == OutOfServiceReason::kNone) {
      spdlog::info("machine {}: back in service", m->setup.id);
      apply(*m, m->controller.release(now));
    } else {
      spdlog::warn("machine {}: out of service ({})", m->setup.id, firmware::to_string(wanted));
      apply(*m, m->controller.lockout(wanted, now));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Time and status

void MachineUnit::tick() {
  const auto now = clock_.mono();
  for (auto& m : machines_) {
    auto deadline = m->controller.next_deadline();
    if (deadline && *deadline <= now) apply(*m, m->controller.tick(now));
  }
}

std::optional<Millis> MachineUnit::next_deadline() const {
  std::optional<Millis> out;
  for (const auto& m : machines_) out = earliest(out, m->controller.next_deadline());
  return out;
}

void MachineUnit::status_lines(std::vector<std::string>& out) const {
  for (const auto& m : machines_) {
    auto holder = m->controller.member();
    out.push_back("machine " + m->setup.id + " " + firmware::to_string(m->controller.state()) +
                  " relay=" + (m->controller.relay() ? "on" : "off") +
                  " user=" + (holder ? m->member_no : std::string("-")));
  }
}

}  // namespace labgate::gateway::app
