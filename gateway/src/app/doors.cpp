#include "labgate/gateway/app/doors.hpp"

#include <spdlog/spdlog.h>

#include <set>

#include "labgate/gateway/app/presence.hpp"
#include "labgate/gateway/mqtt/payloads.hpp"

namespace labgate::gateway::app {

using firmware::DoorEvent;

struct DoorUnit::Door {
  Door(const DoorSetup& s, firmware::Millis now) : setup(s), controller(setup.controller, now) {}
  DoorSetup setup;
  firmware::DoorController controller;
  std::shared_ptr<drivers::Output> strike;
  std::string last_state;
  // Fault causes of this door besides the site's store fault (its entry and exit readers that
  // are down): the door leaves its fail mode only when none is left.
  std::set<std::string> readers_down;
};

DoorUnit::DoorUnit(const SiteSetup& setup, store::Store& store, Clock& clock, Journal& journal,
                   Presence& presence)
    : store_(store),
      clock_(clock),
      journal_(journal),
      presence_(presence),
      calendar_(setup.calendar) {
  for (const auto& d : setup.doors) doors_.push_back(std::make_unique<Door>(d, clock_.mono()));
}

DoorUnit::~DoorUnit() = default;

DoorUnit::Door* DoorUnit::find(const std::string& door_id) {
  for (auto& d : doors_) {
    if (d->setup.id == door_id) return d.get();
  }
  return nullptr;
}

void DoorUnit::attach_strike(const std::string& door_id, std::shared_ptr<drivers::Output> strike) {
  if (auto* d = find(door_id)) d->strike = std::move(strike);
}

std::optional<DoorUnit::Route> DoorUnit::route(const std::string& reader_id) const {
  for (std::size_t i = 0; i < doors_.size(); ++i) {
    const auto& s = doors_[i]->setup;
    if (s.entry_reader == reader_id) return Route{i, policy::Direction::kEntry};
    if (s.exit_reader == reader_id) return Route{i, policy::Direction::kExit};
  }
  return std::nullopt;
}

const std::string& DoorUnit::id(const Route& route) const {
  return doors_.at(route.door)->setup.id;
}

void DoorUnit::sync_store() {
  for (auto& d : doors_) {
    store::Door row;
    row.id = d->setup.id;
    row.name = d->setup.name;
    row.fail_mode = firmware::to_string(d->setup.controller.fail_mode);
    row.role = d->setup.entry_reader && d->setup.exit_reader ? "both"
               : d->setup.exit_reader                        ? "exit"
                                                             : "entry";
    if (auto r = store_.staff().upsert_door(row, "labgated"); !r.ok()) {
      spdlog::error("store: cannot record door {}: {}", row.id, r.error().message);
    }
  }
}

void DoorUnit::start() {
  const auto now = clock_.mono();
  for (auto& d : doors_) apply(*d, d->controller.tick(now));
}

void DoorUnit::stop() {
  for (auto& d : doors_) {
    if (d->strike) d->strike->set(false);
  }
}

policy::ResourceGate DoorUnit::resource_gate(const DoorSetup& door, std::int64_t member_id,
                                             std::chrono::system_clock::time_point at) {
  policy::ResourceGate gate;
  const auto at_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  store::Result<bool> admitted = false;
  if (door.room) {
    gate.refusal = policy::Reason::kOutsideBooking;
    admitted = store_.taps().booking_admits(*door.room, member_id, at_ms, door.early_entry_ms);
    gate.detail = "no booking of room " + *door.room + " admits this member now";
  } else {
    gate.refusal = policy::Reason::kNoLockerLoan;
    admitted = store_.taps().loan_admits(*door.locker, member_id,
                                         policy::to_string(calendar_.to_local(at).date));
    gate.detail = "locker " + *door.locker + " is not lent to this member today";
  }
  if (!admitted.ok()) {
    gate.refusal = policy::Reason::kStoreUnavailable;
    gate.detail = admitted.error().message;
    return gate;
  }
  gate.admitted = admitted.value();
  if (gate.admitted) gate.detail.clear();
  return gate;
}

DrivenAt DoorUnit::tap(const Route& route, const drivers::ReaderEvent& event,
                       const CardLookup& card, policy::TapContext context, TapDone done) {
  Door& door = *doors_.at(route.door);
  const auto& found = card.found;
  policy::DoorRequest req;
  req.tap = std::move(context);
  req.direction = route.direction;
  req.door.anti_passback = door.setup.anti_passback;
  req.door.egress = door.setup.controller.egress;
  if (found && door.setup.anti_passback) {
    req.door.last_direction = presence_.last_direction(found->member.id);
  }
  if (found && route.direction == policy::Direction::kEntry &&
      (door.setup.room || door.setup.locker)) {
    req.door.gate = resource_gate(door.setup, found->member.id, req.tap.at);
  }
  const auto decision = policy::decide_door(req);
  const auto now = clock_.mono();
  apply(door, decision.granted ? door.controller.grant(now) : door.controller.deny(now));
  const auto driven = std::chrono::steady_clock::now();

  const bool entry = route.direction == policy::Direction::kEntry;
  TapOutcome outcome;
  outcome.granted = decision.granted;
  outcome.reason = std::string(policy::to_string(decision.reason));
  outcome.target = door.setup.id;
  outcome.detail = decision.detail;
  store::AccessEvent e;
  e.at_ms = journal_.wall_ms();
  e.reader_id = event.reader_id;
  e.door_id = door.setup.id;
  e.kind = entry ? "tap_entry" : "tap_exit";
  e.decision = decision.granted ? store::Decision::kGranted : store::Decision::kDenied;
  e.reason = outcome.reason;
  e.detail = decision.detail;
  if (found) {
    e.member_id = found->member.id;
    e.credential_id = found->credential.id;
    e.member_no = found->member.member_no;
    outcome.member_no = found->member.member_no;
  } else if (card.store_ok) {
    spdlog::warn("unknown {} card on reader {}", drivers::to_string(event.card->technology),
                 event.reader_id);
  }
  spdlog::info("{} {} at {} ({}): {} {}", entry ? "entry" : "exit",
               outcome.member_no.empty() ? "unknown card" : outcome.member_no, door.setup.id,
               event.reader_id, decision.granted ? "GRANTED" : "DENIED", outcome.reason);
  journal_.record(std::move(e), journal_.topics().door_event(door.setup.id),
                  tap_answer(std::move(done), outcome));
  if (decision.granted && door.setup.presence && found) {
    presence_.passage(door.setup.id, route.direction, found->member.id, found->member.member_no);
  }
  return driven;
}

void DoorUnit::contact(const std::string& door_id, bool open) {
  for (auto& d : doors_) {
    if (d->setup.id != door_id) continue;
    apply(*d,
          d->controller.contact(
              open ? firmware::DoorContact::kOpen : firmware::DoorContact::kClosed, clock_.mono()));
  }
}

void DoorUnit::exit_button(const std::string& door_id) {
  for (auto& d : doors_) {
    if (d->setup.id == door_id) apply(*d, d->controller.exit_button(clock_.mono()));
  }
}

bool DoorUnit::remote_unlock(const std::string& door_id) {
  auto* d = find(door_id);
  if (d == nullptr) return false;
  apply(*d, d->controller.remote_unlock(clock_.mono()));
  return true;
}

void DoorUnit::fire_alarm(bool active) {
  const auto now = clock_.mono();
  for (auto& d : doors_) apply(*d, d->controller.fire_alarm(active, now));
}

void DoorUnit::store_fault(bool active) {
  store_fault_ = active;
  for (auto& d : doors_) apply_faults(*d);
}

void DoorUnit::reader_status(const Route& route, const std::string& reader_id, bool down) {
  // A door whose reader is down cannot decide: it sits in its fail mode until the reader
  // returns and the store answers. Other doors and readers carry on.
  Door& d = *doors_.at(route.door);
  if (down) {
    d.readers_down.insert(reader_id);
  } else {
    d.readers_down.erase(reader_id);
  }
  apply_faults(d);
}

void DoorUnit::apply_faults(Door& d) {
  apply(d, d.controller.fault(store_fault_ || !d.readers_down.empty(), clock_.mono()));
}

void DoorUnit::tick() {
  const auto now = clock_.mono();
  for (auto& d : doors_) {
    auto deadline = d->controller.next_deadline();
    if (deadline && *deadline <= now) apply(*d, d->controller.tick(now));
  }
}

std::optional<firmware::Millis> DoorUnit::next_deadline() const {
  std::optional<firmware::Millis> out;
  for (const auto& d : doors_) out = earliest(out, d->controller.next_deadline());
  return out;
}

void DoorUnit::status_lines(std::vector<std::string>& out) const {
  for (const auto& d : doors_) {
    out.push_back("door " + d->setup.id + " " + firmware::to_string(d->controller.state()) +
                  " strike=" + (d->controller.strike_release() ? "released" : "locked"));
  }
}

void DoorUnit::apply(Door& d, const firmware::DoorEffects& fx) {
  for (const auto& t : fx.transitions) {
    spdlog::debug("door {}: [{}] -> [{}]", d.setup.id, firmware::to_string(t.from),
                  firmware::to_string(t.to));
  }
  if (d.strike && d.strike->commanded() != fx.strike_release) {
    auto r = d.strike->set(fx.strike_release);
    if (r != drivers::IoResult::kDone) {
      spdlog::error("door {}: strike output {} did not take the command", d.setup.id,
                    d.strike->id());
    }
  }
  // A deadline (pulse end, held-open limit) may have passed between ticks: the controller
  // processed it at the time it fell due, so its events carry that time.
  const auto at_ms = fx.transitions.empty()
                         ? journal_.wall_ms()
                         : journal_.wall_ms_at(fx.transitions[fx.transitions.size() - 1].at);
  for (auto ev : fx.events) {
    // Grants and denials are recorded with the tap that caused them.
    if (ev != DoorEvent::kGranted && ev != DoorEvent::kDenied) record_effect_event(d, ev, at_ms);
  }
  publish_state(d);
}

void DoorUnit::record_effect_event(Door& d, DoorEvent ev, std::int64_t at_ms) {
  store::AccessEvent e;
  e.at_ms = at_ms;
  e.door_id = d.setup.id;
  e.kind = firmware::to_string(ev);
  const bool alarm =
      ev == DoorEvent::kHeldOpen || ev == DoorEvent::kForcedOpen || ev == DoorEvent::kTrap;
  e.decision = ev == DoorEvent::kExitReleased ? store::Decision::kGranted : store::Decision::kInfo;
  e.reason = alarm ? "alarm" : "ok";
  if (alarm) {
    spdlog::warn("door {}: {}", d.setup.id, firmware::to_string(ev));
  } else {
    spdlog::info("door {}: {}", d.setup.id, firmware::to_string(ev));
  }
  const auto& topics = journal_.topics();
  journal_.record(std::move(e), alarm ? topics.alarm() : topics.door_event(d.setup.id));
}

void DoorUnit::publish_state(Door& d) {
  std::string state = firmware::to_string(d.controller.state());
  if (state == d.last_state) return;
  d.last_state = state;
  mqtt::DoorStatus status{d.setup.id, state, d.controller.strike_release()};
  journal_.publish_state(
      journal_.topics().door_state(d.setup.id),
      [status](const mqtt::EventHeader& h) { return mqtt::door_status_payload(h, status); });
}

}  // namespace labgate::gateway::app
