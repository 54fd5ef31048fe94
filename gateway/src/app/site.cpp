#include "labgate/gateway/app/site.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "labgate/gateway/mqtt/topics.hpp"

namespace labgate::gateway::app {

using firmware::Millis;
using json = nlohmann::json;

namespace {

// Past this many unrecorded writes the oldest are dropped (and logged) rather than letting a
// dead disk exhaust memory; at one tap per second that is more than a day of events.
constexpr std::size_t kMaxPending = 100'000;
constexpr Millis kRetryInterval{1000};

std::optional<policy::Technology> to_policy(drivers::CardTechnology t) {
  switch (t) {
    case drivers::CardTechnology::kIso14443aUid:
      return policy::Technology::kIso14443a;
    case drivers::CardTechnology::kFelica:
      return policy::Technology::kFelica;
    case drivers::CardTechnology::kDesfire:
      return policy::Technology::kDesfire;
  }
  return std::nullopt;
}

std::optional<policy::LocalDate> date_of(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return policy::parse_date(*s);
}

policy::MemberStatus to_policy(store::MemberStatus s) {
  switch (s) {
    case store::MemberStatus::kPending:
      return policy::MemberStatus::kPending;
    case store::MemberStatus::kActive:
      return policy::MemberStatus::kActive;
    case store::MemberStatus::kSuspended:
      return policy::MemberStatus::kSuspended;
  }
  return policy::MemberStatus::kSuspended;
}

const char* end_reason_code(firmware::EndReason r) {
  // Stored codes follow DESIGN §3's list of end reasons.
  return firmware::to_string(r);
}

}  // namespace

static firmware::FailMode to_firmware(config::FailMode m) {
  return m == config::FailMode::kSafe ? firmware::FailMode::kSafe : firmware::FailMode::kSecure;
}

SiteSetup site_setup_from(const config::SiteConfig& c) {
  SiteSetup s;
  s.site_id = c.site.id;
  s.gateway_id = c.site.gateway;
  s.calendar = c.calendar;
  s.accepted = c.site.accept;
  s.closing_minute = c.site.closing_minute;
  s.heartbeat = c.store.heartbeat;
  for (const auto& r : c.readers) {
    if (r.accept) s.reader_accept[r.id] = *r.accept;
  }
  for (const auto& d : c.doors) {
    DoorSetup ds;
    ds.id = d.id;
    ds.name = d.name;
    ds.entry_reader = d.entry_reader;
    ds.exit_reader = d.exit_reader;
    ds.presence = d.presence;
    ds.anti_passback = d.anti_passback;
    ds.controller.strike_pulse = d.strike_pulse;
    ds.controller.held_open_limit = d.held_open;
    ds.controller.fail_mode = to_firmware(d.fail_mode);
    ds.controller.egress = d.egress;
    ds.controller.fire_release = d.fire_release;
    ds.controller.has_contact = d.contact.has_value();
    s.doors.push_back(std::move(ds));
  }
  for (const auto& m : c.machines) {
    MachineSetup ms;
    ms.id = m.id;
    ms.name = m.name;
    ms.reader = m.reader;
    if (!m.certification.empty()) ms.certification = m.certification;
    ms.inspection_interval_days = m.inspection_interval_days;
    ms.controller.mode = m.mode == config::SessionMode::kTapOnOff
                             ? firmware::SessionMode::kTapOnTapOff
                             : firmware::SessionMode::kCardStays;
    ms.controller.grace = m.grace;
    ms.controller.idle_timeout = m.idle_timeout;
    ms.controller.max_session = m.max_session;
    ms.controller.busy_hold_max = m.busy_hold_max;
    ms.controller.has_busy_input = m.busy.has_value();
    ms.controller.needs_checkoff = m.needs_checkoff;
    s.machines.push_back(std::move(ms));
  }
  return s;
}

std::string TapOutcome::summary() const {
  std::string s = granted ? "granted" : "denied";
  s += " " + (target.empty() ? std::string("-") : target);
  s += " " + (member_no.empty() ? std::string("-") : member_no);
  s += " " + reason;
  if (seq > 0) s += " seq=" + std::to_string(seq);
  return s;
}

struct Site::DoorUnit {
  DoorUnit(DoorSetup s, Millis now) : setup(std::move(s)), controller(setup.controller, now) {}
  DoorSetup setup;
  firmware::DoorController controller;
  std::shared_ptr<drivers::Output> strike;
  std::string last_state;
  // Fault causes of this door besides the site's store fault (its entry and exit readers that
  // are down): the door leaves its fail mode only when none is left.
  std::set<std::string> readers_down;
};

struct Site::MachineUnit {
  MachineUnit(MachineSetup s, Millis now)
      : setup(std::move(s)), controller(setup.controller, now) {}
  MachineSetup setup;
  firmware::MachineInterlock controller;
  std::shared_ptr<drivers::Output> relay;
  std::optional<std::string> session_uuid;
  std::string member_no;  // of the running session
  std::string last_state;
  firmware::OutOfServiceReason wanted_oos{firmware::OutOfServiceReason::kNone};
  bool confirms{false};     // the relay reports its state later (smart plug)
  bool awaiting_on{false};  // an ON command of a confirming relay is not yet confirmed
  // A session whose relay has not confirmed ON yet: nothing of it is committed.
  struct PendingStart {
    store::NewSession session;
    store::AccessEvent event;  // session_started
    std::string topic;
    std::optional<store::AccessEvent> tap;  // the granted tap, answered at commit
    TapDone done;
    TapOutcome outcome;
  };
  std::optional<PendingStart> pending_start;
  // The busy input's recent on-periods (bounded), for the busy seconds of the next session end.
  bool busy_now{false};
  Millis busy_since{0};
  std::deque<std::pair<Millis, Millis>> busy_spans;
  std::string abort_reason;  // why the pending start is being abandoned
};

Site::Site(SiteSetup setup, store::Store& store, Clock& clock)
    : setup_(std::move(setup)), store_(store), clock_(clock) {
  if (sodium_init() < 0) spdlog::critical("libsodium failed to initialise");
  randombytes_buf(&uuid_salt_, sizeof uuid_salt_);
  for (const auto& d : setup_.doors) {
    doors_.push_back(std::make_unique<DoorUnit>(d, clock_.mono()));
  }
  for (const auto& m : setup_.machines) {
    machines_.push_back(std::make_unique<MachineUnit>(m, clock_.mono()));
  }
}

Site::~Site() = default;

void Site::attach_strike(const std::string& door_id, std::shared_ptr<drivers::Output> strike) {
  for (auto& d : doors_) {
    if (d->setup.id == door_id) d->strike = std::move(strike);
  }
}

void Site::attach_relay(const std::string& machine_id, std::shared_ptr<drivers::Output> relay,
                        bool confirms) {
  for (auto& m : machines_) {
    if (m->setup.id != machine_id) continue;
    m->relay = std::move(relay);
    m->confirms = confirms;
  }
}

Site::MachineUnit* Site::machine_by_id(const std::string& machine_id) {
  for (auto& m : machines_) {
    if (m->setup.id == machine_id) return m.get();
  }
  return nullptr;
}

void Site::relay_confirmed(const std::string& machine_id, bool on) {
  Batch batch(*this);
  auto* m = machine_by_id(machine_id);
  if (m == nullptr || !on) return;
  m->awaiting_on = false;
  if (m->pending_start) commit_start(*m);
}

void Site::relay_unconfirmed(const std::string& machine_id, bool wanted) {
  Batch batch(*this);
  auto* m = machine_by_id(machine_id);
  if (m == nullptr) return;
  store::AccessEvent e;
  e.at_ms = wall_ms();
  e.machine_id = machine_id;
  e.kind = "relay_unconfirmed";
  e.decision = store::Decision::kInfo;
  e.reason = "plug_no_confirm";
  e.detail = wanted ? "on" : "off";
  if (m->pending_start) {
    e.member_id = m->pending_start->session.member_id;
    e.member_no = m->member_no;
  }
  spdlog::error("machine {}: relay did not confirm {}{}", machine_id, wanted ? "on" : "off",
                m->pending_start ? ": session not started" : "");
  record(std::move(e), mqtt::Topics(setup_.site_id, setup_.gateway_id).alarm());
  if (!wanted) return;
  m->awaiting_on = false;
  if (!m->pending_start) return;
  // Out of the session the way staff would take it out (relay off at once, no Grace), then
  // straight back: the member was refused, the machine itself is not suspect beyond the alarm.
  m->abort_reason = "plug_no_confirm";
  const auto now = clock_.mono();
  apply(*m, m->controller.lockout(firmware::OutOfServiceReason::kProblemReported, now));
  apply(*m, m->controller.release(now));
  m->abort_reason.clear();
}

void Site::commit_start(MachineUnit& m) {
  auto p = std::move(*m.pending_start);
  m.pending_start.reset();
  spdlog::info("machine {}: relay confirmed on; session {} of {} started", m.setup.id,
               p.session.uuid, m.member_no);
  enqueue({[this, s = p.session, e = p.event, topic = p.topic]() -> store::Result<std::int64_t> {
             auto r = store_.events().open_session(
                 s, e, {topic, payload(e, 0, R"({"session":"open"})"), false});
             if (!r.ok()) return r.error();
             return r.value().seq;
           },
           {}});
  if (p.tap) record(std::move(*p.tap), p.topic, std::move(p.done), p.outcome);
  publish_machine_state(m);
}

void Site::abort_start(MachineUnit& m, const std::string& reason) {
  auto p = std::move(*m.pending_start);
  m.pending_start.reset();
  m.session_uuid.reset();
  spdlog::warn("machine {}: session of {} not started ({})", m.setup.id, m.member_no, reason);
  if (!p.tap) return;
  p.tap->decision = store::Decision::kDenied;
  p.tap->reason = reason;
  p.outcome.granted = false;
  p.outcome.reason = reason;
  record(std::move(*p.tap), p.topic, std::move(p.done), p.outcome);
}

void Site::bind_input(const std::string& input_id, drivers::InputKind kind,
                      const std::string& target) {
  inputs_[input_id] = {kind, target};
}

std::int64_t Site::wall_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall().time_since_epoch())
      .count();
}

std::int64_t Site::wall_ms_at(Millis mono) const {
  return wall_ms() - (clock_.mono() - mono).count();
}

std::string Site::new_uuid() {
  // Random v4 UUID; the counter keeps ids unique even if the RNG were to repeat.
  std::uint8_t b[16];
  randombytes_buf(b, sizeof b);
  ++uuid_counter_;
  for (int i = 0; i < 8; ++i) {
    b[8 + i] ^= static_cast<std::uint8_t>((uuid_counter_ ^ uuid_salt_) >> (8 * i));
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[b[i] >> 4]);
    s.push_back(kHex[b[i] & 0x0f]);
  }
  return s;
}

std::string Site::payload(const store::AccessEvent& e, std::int64_t seq,
                          const std::string& extra_json) const {
  json j;
  j["event_id"] = e.uuid;
  j["seq"] = seq;
  j["time"] =
      iso8601_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(e.at_ms)));
  j["site"] = setup_.site_id;
  j["gateway"] = setup_.gateway_id;
  j["kind"] = e.kind;
  j["decision"] = store::to_string(e.decision);
  j["reason"] = e.reason;
  if (e.reader_id) j["reader"] = *e.reader_id;
  if (e.door_id) j["door"] = *e.door_id;
  if (e.machine_id) j["machine"] = *e.machine_id;
  if (e.member_no) j["member"] = *e.member_no;
  if (!e.detail.empty()) j["detail"] = e.detail;
  if (!extra_json.empty()) {
    auto extra = json::parse(extra_json, nullptr, false);
    if (extra.is_object()) {
      for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
    }
  }
  return j.dump();
}

// ---------------------------------------------------------------------------------------------
// Durable recording

void Site::enqueue(PendingWrite write) {
  if (pending_.size() >= kMaxPending) {
    spdlog::error("store: {} writes waiting; dropping the oldest unrecorded event", kMaxPending);
    auto oldest = std::move(pending_.front());
    pending_.pop_front();
    if (oldest.after) oldest.after(0);
  }
  pending_.push_back(std::move(write));
  // Inside a batch (a tap, an input, a tick) the commits wait until the outputs are driven:
  // the relay never waits for the disk.
  // While faulted, only the timed retry in tick() touches the store: retrying on every new
  // write would hold the loop for a busy timeout each time.
  if (batch_depth_ == 0 && !faulted_) flush_pending();
}

Site::Batch::Batch(Site& site) : site_(site) {
  ++site_.batch_depth_;
}

Site::Batch::~Batch() {
  if (--site_.batch_depth_ == 0 && !site_.faulted_) site_.flush_pending();
}

void Site::flush_pending() {
  while (!pending_.empty()) {
    auto& front = pending_.front();
    auto r = front.write();
    if (!r.ok()) {
      const auto& err = r.error();
      if (err.kind == store::ErrorKind::kBusy || err.kind == store::ErrorKind::kUnavailable) {
        enter_fault(std::string("store write failed: ") + err.message);
        last_retry_ = std::chrono::steady_clock::now();
        return;
      }
      // A write the store refuses for its content will never succeed: log it whole and move on
      // so one bad row cannot block every later event.
      spdlog::error("store refused a write ({}): {}", store::to_string(err.kind), err.message);
      auto after = std::move(front.after);
      pending_.pop_front();
      if (after) after(0);
      continue;
    }
    auto after = std::move(front.after);
    pending_.pop_front();
    if (after) after(r.value());
    if (commit_observer_ && r.value() > 0) commit_observer_(r.value());
  }
}

void Site::record(store::AccessEvent event, std::string topic, TapDone done, TapOutcome outcome) {
  event.uuid = event.uuid.empty() ? new_uuid() : event.uuid;
  PendingWrite w;
  w.write = [this, event, topic]() {
    return store_.events().record_access(
        event, topic, false, [this, &event](std::int64_t seq) { return payload(event, seq); });
  };
  if (done) {
    w.after = [done = std::move(done), outcome = std::move(outcome)](std::int64_t seq) mutable {
      outcome.seq = seq;
      done(outcome);
    };
  }
  enqueue(std::move(w));
}

void Site::enter_fault(const std::string& why) {
  if (faulted_) return;
  faulted_ = true;
  fault_reason_ = why;
  spdlog::error("site fault: {} — doors in their fail mode, every machine off", why);
  auto now = clock_.mono();
  for (auto& d : doors_) apply(*d, d->controller.fault(true, now));
  for (auto& m : machines_) apply(*m, m->controller.fault(true, now));
}

void Site::leave_fault() {
  if (!faulted_) return;
  faulted_ = false;
  spdlog::warn("site fault cleared: the store answers again");
  auto now = clock_.mono();
  // A door whose reader is still down still cannot decide: it stays in its fail mode.
  for (auto& d : doors_) apply(*d, d->controller.fault(!d->readers_down.empty(), now));
  for (auto& m : machines_) apply(*m, m->controller.fault(false, now));
  store::AccessEvent e;
  e.at_ms = wall_ms();
  e.kind = "store_recovered";
  e.decision = store::Decision::kInfo;
  e.reason = "ok";
  e.detail = fault_reason_;
  record(std::move(e), mqtt::Topics(setup_.site_id, setup_.gateway_id).alarm());
}

// ---------------------------------------------------------------------------------------------
// Start and stop

void Site::start() {
  Batch batch(*this);
  auto now = clock_.mono();
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
  for (auto& m : machines_) {
    auto existing = store_.taps().machine(m->setup.id);
    if (existing.ok() && !existing.value()) {
      store::NewMachine nm;
      nm.id = m->setup.id;
      nm.name = m->setup.name;
      nm.certification_type = m->setup.certification;
      nm.session_mode =
          m->setup.controller.mode == firmware::SessionMode::kCardStays ? "hold" : "tap";
      nm.inspection_interval_days = m->setup.inspection_interval_days;
      nm.needs_checkoff = m->setup.controller.needs_checkoff;
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
      if (!r.ok()) {
        spdlog::error("store: cannot record machine {}: {}", nm.id, r.error().message);
      }
    }
  }

  // Sessions a crash left open end at the last sign of life, never later.
  auto recovered = store_.events().recover_open_sessions("power_loss_recovered");
  if (!recovered.ok()) {
    enter_fault("cannot recover open sessions: " + recovered.error().message);
  } else {
    mqtt::Topics topics(setup_.site_id, setup_.gateway_id);
    for (const auto& s : recovered.value()) {
      spdlog::warn("session {} of member {} on {} closed at the last heartbeat (power loss)",
                   s.uuid, s.member_id, s.machine_id.value_or("coworking"));
      store::AccessEvent e;
      e.at_ms = s.ended_at_ms.value_or(wall_ms());
      e.machine_id = s.machine_id;
      e.member_id = s.member_id;
      e.kind = "session_ended";
      e.decision = store::Decision::kInfo;
      e.reason = "power_loss_recovered";
      e.detail = s.uuid;
      record(std::move(e), s.machine_id ? topics.machine_session(*s.machine_id) : topics.alarm());
    }
  }

  store::AccessEvent started;
  started.at_ms = wall_ms();
  started.kind = "gateway_started";
  started.decision = store::Decision::kInfo;
  started.reason = "ok";
  record(std::move(started), mqtt::Topics(setup_.site_id, setup_.gateway_id).alarm());
  if (auto r = store_.events().write_heartbeat(wall_ms()); !r.ok()) {
    spdlog::error("store: heartbeat failed: {}", r.error().message);
  }
  last_heartbeat_ = now;

  for (auto& d : doors_) apply(*d, d->controller.tick(now));
  for (auto& m : machines_) apply(*m, m->controller.tick(now));
  refresh_machines();
  for (auto& m : machines_) {
    spdlog::info("machine {} is in startup: relay off until staff confirm", m->setup.id);
  }
}

void Site::stop() {
  Batch batch(*this);
  auto now = clock_.mono();
  for (auto& m : machines_) {
    apply(*m, m->controller.lockout(firmware::OutOfServiceReason::kStaffLockout, now));
    if (m->relay) m->relay->set(false);
  }
  for (auto& d : doors_) {
    if (d->strike) d->strike->set(false);
  }
  store::AccessEvent e;
  e.at_ms = wall_ms();
  e.kind = "gateway_stopped";
  e.decision = store::Decision::kInfo;
  e.reason = "ok";
  record(std::move(e), mqtt::Topics(setup_.site_id, setup_.gateway_id).alarm());
  if (auto r = store_.events().write_heartbeat(wall_ms()); !r.ok()) {
    spdlog::error("store: final heartbeat failed: {}", r.error().message);
  }
}

// ---------------------------------------------------------------------------------------------
// Devices

Site::DoorUnit* Site::door_by_reader(const std::string& reader_id, policy::Direction& direction) {
  for (auto& d : doors_) {
    if (d->setup.entry_reader == reader_id) {
      direction = policy::Direction::kEntry;
      return d.get();
    }
    if (d->setup.exit_reader == reader_id) {
      direction = policy::Direction::kExit;
      return d.get();
    }
  }
  return nullptr;
}

Site::MachineUnit* Site::machine_by_reader(const std::string& reader_id) {
  for (auto& m : machines_) {
    if (m->setup.reader == reader_id) return m.get();
  }
  return nullptr;
}

void Site::on_reader_event(const drivers::ReaderEvent& event, TapDone done) {
  Batch batch(*this);
  using Kind = drivers::ReaderEvent::Kind;
  switch (event.kind) {
    case Kind::kCardPresent:
      handle_card(event, std::move(done));
      return;
    case Kind::kCardRemoved:
      // A removal that only says the reader went down: the kReaderDown right behind it winds
      // the session down, with that reason.
      if (event.reader_lost) return;
      if (auto* m = machine_by_reader(event.reader_id)) {
        apply(*m, m->controller.card_removed(clock_.mono()));
      }
      return;
    case Kind::kReaderDown:
    case Kind::kReaderUp: {
      bool down = event.kind == Kind::kReaderDown;
      policy::Direction dir{};
      store::AccessEvent e;
      e.at_ms = wall_ms();
      e.reader_id = event.reader_id;
      e.kind = down ? "reader_down" : "reader_up";
      e.decision = store::Decision::kInfo;
      e.reason = down ? "reader_down" : "ok";
      e.detail = event.detail;
      mqtt::Topics topics(setup_.site_id, setup_.gateway_id);
      if (auto* d = door_by_reader(event.reader_id, dir)) {
        e.door_id = d->setup.id;
        // A door whose reader is down cannot decide: it sits in its fail mode until the reader
        // returns and the store answers. Other doors and readers carry on.
        if (down) {
          d->readers_down.insert(event.reader_id);
        } else {
          d->readers_down.erase(event.reader_id);
        }
        apply(*d, d->controller.fault(!d->readers_down.empty() || faulted_, clock_.mono()));
      } else if (auto* m = machine_by_reader(event.reader_id)) {
        e.machine_id = m->setup.id;
        // Nobody can take the card away or tap off: the session winds down as after a removal.
        apply(*m, m->controller.reader(!down, clock_.mono()));
      }
      if (down) {
        spdlog::error("reader {} down: {}", event.reader_id, event.detail);
      } else {
        spdlog::info("reader {} up", event.reader_id);
      }
      record(std::move(e), topics.alarm());
      return;
    }
  }
}

void Site::on_input(const drivers::InputEvent& event) {
  Batch batch(*this);
  auto it = inputs_.find(event.input_id);
  if (it == inputs_.end()) {
    spdlog::warn("input {} is not bound to anything; ignored", event.input_id);
    return;
  }
  auto now = clock_.mono();
  const auto& [kind, target] = it->second;
  switch (kind) {
    case drivers::InputKind::kDoorContact:
      for (auto& d : doors_) {
        if (d->setup.id == target) {
          apply(*d, d->controller.contact(event.active ? firmware::DoorContact::kOpen
                                                       : firmware::DoorContact::kClosed,
                                          now));
        }
      }
      return;
    case drivers::InputKind::kExitButton:
      if (!event.active) return;
      for (auto& d : doors_) {
        if (d->setup.id == target) apply(*d, d->controller.exit_button(now));
      }
      return;
    case drivers::InputKind::kBusy:
      for (auto& m : machines_) {
        if (m->setup.id != target) continue;
        note_busy(*m, event.active, now);
        apply(*m, m->controller.busy(event.active, now));
      }
      return;
    case drivers::InputKind::kFireAlarm: {
      if (event.active == fire_) return;
      fire_ = event.active;
      spdlog::critical("fire alarm {}", fire_ ? "ASSERTED: egress doors released, machines cut"
                                              : "cleared: machines wait for staff confirmation");
      for (auto& d : doors_) apply(*d, d->controller.fire_alarm(fire_, now));
      for (auto& m : machines_) apply(*m, m->controller.fire_alarm(fire_, now));
      store::AccessEvent e;
      e.at_ms = wall_ms();
      e.kind = fire_ ? "fire_alarm" : "fire_alarm_cleared";
      e.decision = store::Decision::kInfo;
      e.reason = "fire_alarm";
      record(std::move(e), mqtt::Topics(setup_.site_id, setup_.gateway_id).alarm());
      return;
    }
  }
}

policy::CardProof Site::desfire_proof(const drivers::Card& card,
                                      const std::optional<store::CredentialMatch>& match,
                                      const policy::LocalDate& today) const {
  policy::CardProof p;
  if (!card.proof) {
    p.detail = "the reader did not authenticate the card";
    return p;
  }
  p.authenticated = card.proof->authenticated;
  p.detail = card.proof->failure;
  if (!p.authenticated) return p;
  const int version = card.proof->key_version;
  auto it = setup_.key_accept_until.find(version);
  if (it == setup_.key_accept_until.end()) {
    p.key_version_accepted = false;
    p.detail = "key version " + std::to_string(version) + " is not in the key file";
  } else if (!it->second.empty() && it->second < policy::to_string(today)) {
    p.key_version_accepted = false;
    p.detail = "key version " + std::to_string(version) + " was accepted until " + it->second +
               "; rekey the card at the desk";
  }
  // The file's credential id must be the one the card's (authenticated) UID is enrolled as: a
  // card reissued to someone else keeps no old identity.
  if (match)
    p.credential_matches =
        match->credential.id == static_cast<std::int64_t>(card.proof->credential);
  return p;
}

policy::TapContext Site::tap_context(const drivers::ReaderEvent& event,
                                     const std::optional<store::CredentialMatch>& match,
                                     bool store_ok) {
  policy::TapContext ctx;
  ctx.at = clock_.wall();
  ctx.calendar = &setup_.calendar;
  ctx.site_technologies = setup_.accepted;
  if (auto it = setup_.reader_accept.find(event.reader_id); it != setup_.reader_accept.end()) {
    ctx.reader_technologies = it->second;
  }
  ctx.store_available = store_ok;
  ctx.fire_alarm = fire_;
  if (event.card && event.card->technology == drivers::CardTechnology::kDesfire) {
    ctx.proof = desfire_proof(*event.card, match, setup_.calendar.to_local(ctx.at).date);
  }
  if (match) {
    policy::CredentialFacts cf;
    cf.technology = policy::parse_technology(match->credential.technology)
                        .value_or(policy::Technology::kIso14443a);
    cf.revoked = match->credential.revoked_at_ms.has_value();
    cf.needs_issue = match->credential.needs_issue();
    ctx.credential = cf;
    policy::MemberFacts mf;
    mf.id = match->member.id;
    mf.status = to_policy(match->member.status);
    mf.valid_from = date_of(match->member.valid_from);
    mf.valid_until = date_of(match->member.valid_until);
    // A plan whose windows cannot be read keeps the empty (never open) schedule: its members
    // are refused as outside plan hours, and plan_windows() logged why.
    if (match->plan) {
      if (auto w = plan_windows(*match->plan)) {
        mf.plan.windows = *w;
        mf.plan.holidays = match->plan->holidays_allowed;
        mf.plan.closure = match->plan->closure_allowed;
      }
    }
    ctx.member = mf;
  }
  return ctx;
}

std::optional<policy::TimeWindows> Site::plan_windows(const store::Plan& plan) {
  auto it = windows_cache_.find(plan.windows);
  if (it != windows_cache_.end()) return it->second;
  auto parsed = policy::parse_windows(plan.windows);
  if (!parsed.has_value()) {
    spdlog::error("plan {} has unreadable windows '{}': refusing its members", plan.code,
                  plan.windows);
    return std::nullopt;
  }
  windows_cache_.emplace(plan.windows, parsed.value());
  return parsed.value();
}

void Site::handle_card(const drivers::ReaderEvent& event, TapDone done) {
  if (!event.card) return;
  if (interceptor_ && interceptor_(event, done)) return;
  policy::Direction direction{};
  if (auto* d = door_by_reader(event.reader_id, direction)) {
    door_tap(*d, direction, event, std::move(done));
  } else if (auto* m = machine_by_reader(event.reader_id)) {
    machine_tap(*m, event, std::move(done));
  } else {
    spdlog::warn("card on reader {} which serves no door or machine", event.reader_id);
    TapOutcome o;
    o.reason = "unknown_reader";
    o.target = event.reader_id;
    if (done) done(o);
  }
}

void Site::door_tap(DoorUnit& door, policy::Direction direction, const drivers::ReaderEvent& event,
                    TapDone done) {
  const auto t0 = std::chrono::steady_clock::now();
  auto now = clock_.mono();
  const auto& card = *event.card;
  auto technology = to_policy(card.technology);
  const char* tech_code = drivers::to_string(card.technology);
  auto match = store_.taps().find_credential(tech_code, card.identifier);
  bool store_ok = match.ok();
  if (!store_ok) enter_fault("credential lookup failed: " + match.error().message);
  std::optional<store::CredentialMatch> found;
  if (store_ok) found = match.value();

  policy::DoorRequest req;
  req.tap = tap_context(event, found, store_ok);
  req.direction = direction;
  req.door.anti_passback = door.setup.anti_passback;
  req.door.egress = door.setup.controller.egress;
  if (found && door.setup.anti_passback) {
    auto open = store_.events().open_coworking_session(found->member.id);
    if (open.ok()) {
      req.door.last_direction = open.value() ? policy::Direction::kEntry : policy::Direction::kExit;
    }
  }
  (void)technology;
  auto decision = policy::decide_door(req);

  auto fx = decision.granted ? door.controller.grant(now) : door.controller.deny(now);
  apply(door, fx);
  last_decision_us_ =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();

  TapOutcome outcome;
  outcome.granted = decision.granted;
  outcome.reason = std::string(policy::to_string(decision.reason));
  outcome.target = door.setup.id;
  outcome.detail = decision.detail;
  store::AccessEvent e;
  e.at_ms = wall_ms();
  e.reader_id = event.reader_id;
  e.door_id = door.setup.id;
  e.kind = direction == policy::Direction::kEntry ? "tap_entry" : "tap_exit";
  e.decision = decision.granted ? store::Decision::kGranted : store::Decision::kDenied;
  e.reason = outcome.reason;
  e.detail = decision.detail;
  if (found) {
    e.member_id = found->member.id;
    e.credential_id = found->credential.id;
    e.member_no = found->member.member_no;
    outcome.member_no = found->member.member_no;
  } else if (store_ok) {
    spdlog::warn("unknown {} card on reader {}", tech_code, event.reader_id);
  }
  spdlog::info("{} {} at {} ({}): {} {}", direction == policy::Direction::kEntry ? "entry" : "exit",
               outcome.member_no.empty() ? "unknown card" : outcome.member_no, door.setup.id,
               event.reader_id, decision.granted ? "GRANTED" : "DENIED", outcome.reason);
  record(std::move(e), mqtt::Topics(setup_.site_id, setup_.gateway_id).door_event(door.setup.id),
         std::move(done), outcome);
  if (decision.granted && door.setup.presence && found) {
    presence(door, direction, found->member.id, found->member.member_no);
  }
}

void Site::presence(DoorUnit& door, policy::Direction direction, std::int64_t member_id,
                    const std::string& member_no) {
  mqtt::Topics topics(setup_.site_id, setup_.gateway_id);
  auto open = store_.events().open_coworking_session(member_id);
  if (!open.ok()) return;
  auto at = wall_ms();
  if (direction == policy::Direction::kEntry && !open.value()) {
    store::NewSession s;
    s.uuid = new_uuid();
    s.member_id = member_id;
    s.kind = store::SessionKind::kCoworking;
    s.started_at_ms = at;
    store::AccessEvent e;
    e.uuid = new_uuid();
    e.at_ms = at;
    e.door_id = door.setup.id;
    e.member_id = member_id;
    e.member_no = member_no;
    e.kind = "presence_in";
    e.decision = store::Decision::kInfo;
    e.reason = "ok";
    e.detail = s.uuid;
    enqueue(
        {[this, s, e, topic = topics.door_event(door.setup.id)]() -> store::Result<std::int64_t> {
           auto r = store_.events().open_session(s, e, {topic, payload(e, 0), false});
           if (!r.ok()) return r.error();
           return r.value().seq;
         },
         {}});
  } else if (direction == policy::Direction::kExit && open.value()) {
    auto uuid = open.value()->uuid;
    store::AccessEvent e;
    e.uuid = new_uuid();
    e.at_ms = at;
    e.door_id = door.setup.id;
    e.member_id = member_id;
    e.member_no = member_no;
    e.kind = "presence_out";
    e.decision = store::Decision::kInfo;
    e.reason = "exit";
    e.detail = uuid;
    enqueue_close(uuid, at, "exit", std::nullopt, e, topics.door_event(door.setup.id));
  }
}

void Site::machine_tap(MachineUnit& m, const drivers::ReaderEvent& event, TapDone done) {
  const auto t0 = std::chrono::steady_clock::now();
  auto now = clock_.mono();
  const auto& card = *event.card;
  const char* tech_code = drivers::to_string(card.technology);
  auto match = store_.taps().find_credential(tech_code, card.identifier);
  bool store_ok = match.ok();
  if (!store_ok) enter_fault("credential lookup failed: " + match.error().message);
  std::optional<store::CredentialMatch> found;
  if (store_ok) found = match.value();

  TapOutcome outcome;
  outcome.target = m.setup.id;
  if (found) outcome.member_no = found->member.member_no;

  if (m.pending_start) {
    // The previous grant still waits for its relay: no second decision on this machine.
    outcome.reason = "relay_pending";
    store::AccessEvent e;
    e.at_ms = wall_ms();
    e.reader_id = event.reader_id;
    e.machine_id = m.setup.id;
    e.kind = "tap_machine";
    e.decision = store::Decision::kDenied;
    e.reason = outcome.reason;
    if (found) {
      e.member_id = found->member.id;
      e.credential_id = found->credential.id;
      e.member_no = found->member.member_no;
    }
    spdlog::info("machine {}: {} refused, the relay has not confirmed yet", m.setup.id,
                 outcome.member_no.empty() ? "unknown card" : outcome.member_no);
    record(std::move(e),
           mqtt::Topics(setup_.site_id, setup_.gateway_id).machine_session(m.setup.id),
           std::move(done), outcome);
    return;
  }

  // The running session's own member: tap-off, or coming back during Grace.
  auto holder = m.controller.member();
  if (found && holder && *holder == found->member.id &&
      !found->credential.revoked_at_ms.has_value()) {
    firmware::MachineEffects fx = m.setup.controller.mode == firmware::SessionMode::kTapOnTapOff
                                      ? m.controller.tap_off(found->member.id, now)
                                      : m.controller.grant(found->member.id, now);
    apply(m, fx, event.reader_id);
    last_decision_us_ =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    outcome.granted = true;
    outcome.reason = m.setup.controller.mode == firmware::SessionMode::kTapOnTapOff
                         ? "session_ended"
                         : "session_resumed";
    store::AccessEvent e;
    e.at_ms = wall_ms();
    e.reader_id = event.reader_id;
    e.machine_id = m.setup.id;
    e.member_id = found->member.id;
    e.credential_id = found->credential.id;
    e.member_no = found->member.member_no;
    e.kind = "tap_machine";
    e.decision = store::Decision::kGranted;
    e.reason = outcome.reason;
    spdlog::info("machine {}: {} {}", m.setup.id, found->member.member_no, outcome.reason);
    record(std::move(e),
           mqtt::Topics(setup_.site_id, setup_.gateway_id).machine_session(m.setup.id),
           std::move(done), outcome);
    return;
  }

  policy::MachineRequest req;
  req.tap = tap_context(event, found, store_ok);
  req.machine.certification_required = m.setup.certification.has_value();
  req.machine.inspection_required = m.setup.inspection_interval_days > 0;
  if (store_ok) {
    auto row = store_.taps().machine(m.setup.id);
    if (row.ok() && row.value()) {
      req.machine.locked_out = row.value()->locked_out;
      req.machine.next_inspection_due = date_of(row.value()->next_inspection_due);
    } else if (!row.ok()) {
      req.tap.store_available = false;
      enter_fault("machine lookup failed: " + row.error().message);
    }
    if (found && m.setup.certification) {
      auto local = setup_.calendar.to_local(clock_.wall());
      auto today = policy::to_string(local.date);
      auto cert =
          store_.taps().valid_certification(found->member.id, *m.setup.certification, today);
      if (cert.ok() && cert.value()) {
        policy::CertificationFacts cf;
        cf.present = true;
        cf.expires_on = date_of(cert.value()->expires_on);
        cf.revoked = cert.value()->revoked_at_ms.has_value();
        req.certification = cf;
      } else if (cert.ok()) {
        // No currently valid one: look for an expired or revoked one so the member is told why.
        store::CertificationFilter f;
        f.member_no = found->member.member_no;
        f.type_code = *m.setup.certification;
        f.include_revoked = true;
        auto all = store_.staff().list_certifications(f);
        if (all.ok() && !all.value().empty()) {
          const auto& c = all.value().back();
          policy::CertificationFacts cf;
          cf.present = true;
          cf.expires_on = date_of(c.expires_on);
          cf.revoked = c.revoked_at_ms.has_value();
          req.certification = cf;
        }
      } else {
        req.tap.store_available = false;
        enter_fault("certification lookup failed: " + cert.error().message);
      }
    }
  }
  if (holder) req.machine.occupied_by = *holder;
  if (found && store_ok && credit_check_) {
    req.credit_ok = credit_check_(found->member.id, m.setup.id, wall_ms());
  }
  switch (m.controller.state()) {
    case firmware::MachineState::kStartup:
      req.machine.readiness = policy::MachineReadiness::kStartup;
      break;
    case firmware::MachineState::kAwaitingCheckoff:
      req.machine.readiness = policy::MachineReadiness::kAwaitingCheckoff;
      break;
    case firmware::MachineState::kOutOfService:
      // A lockout or an overdue inspection is reported by the policy under its own reason;
      // only a reported problem or a controller fault is "not ready".
      req.machine.readiness =
          m.controller.out_of_service_reason() == firmware::OutOfServiceReason::kStaffLockout ||
                  m.controller.out_of_service_reason() ==
                      firmware::OutOfServiceReason::kInspectionOverdue
              ? policy::MachineReadiness::kReady
              : policy::MachineReadiness::kOutOfService;
      break;
    case firmware::MachineState::kFault:
      req.machine.readiness = policy::MachineReadiness::kOutOfService;
      break;
    default:
      req.machine.readiness = policy::MachineReadiness::kReady;
  }
  auto decision = policy::decide_machine(req);

  firmware::MachineEffects fx;
  if (decision.granted) {
    fx = m.controller.grant(found->member.id, now);
    if (fx.result == firmware::InputResult::kMachineInUse) {
      decision.granted = false;
      decision.reason = policy::Reason::kMachineInUse;
    } else if (fx.result == firmware::InputResult::kUnavailable) {
      decision.granted = false;
      decision.reason = policy::Reason::kMachineNotReady;
      decision.detail = firmware::to_string(m.controller.state());
    }
  } else {
    fx = m.controller.deny(now);
  }
  if (decision.granted) m.member_no = found->member.member_no;
  apply(m, fx, event.reader_id);
  last_decision_us_ =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();

  outcome.granted = decision.granted;
  outcome.reason = std::string(policy::to_string(decision.reason));
  outcome.detail = decision.detail;
  store::AccessEvent e;
  e.at_ms = wall_ms();
  e.reader_id = event.reader_id;
  e.machine_id = m.setup.id;
  e.kind = "tap_machine";
  e.decision = decision.granted ? store::Decision::kGranted : store::Decision::kDenied;
  e.reason = outcome.reason;
  e.detail = decision.detail;
  if (found) {
    e.member_id = found->member.id;
    e.credential_id = found->credential.id;
    e.member_no = found->member.member_no;
  }
  spdlog::info("machine {} ({}): {} {} {}", m.setup.id, event.reader_id,
               outcome.member_no.empty() ? "unknown card" : outcome.member_no,
               decision.granted ? "GRANTED" : "DENIED", outcome.reason);
  if (decision.granted && m.pending_start && !m.pending_start->tap) {
    // Answered once the relay confirms (granted) or fails to (refused).
    m.pending_start->tap = std::move(e);
    m.pending_start->done = std::move(done);
    m.pending_start->outcome = outcome;
    return;
  }
  record(std::move(e), mqtt::Topics(setup_.site_id, setup_.gateway_id).machine_session(m.setup.id),
         std::move(done), outcome);
}

// ---------------------------------------------------------------------------------------------
// Controller effects

void Site::apply(DoorUnit& d, const firmware::DoorEffects& fx) {
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
  mqtt::Topics topics(setup_.site_id, setup_.gateway_id);
  for (auto ev : fx.events) {
    switch (ev) {
      case firmware::DoorEvent::kGranted:
      case firmware::DoorEvent::kDenied:
        continue;  // recorded with the tap that caused them
      default:
        break;
    }
    store::AccessEvent e;
    // A deadline (pulse end, held-open limit) may have passed between ticks: the controller
    // processed it at the time it fell due, so the event carries that time.
    e.at_ms = fx.transitions.empty() ? wall_ms()
                                     : wall_ms_at(fx.transitions[fx.transitions.size() - 1].at);
    e.door_id = d.setup.id;
    e.kind = firmware::to_string(ev);
    bool alarm = ev == firmware::DoorEvent::kHeldOpen || ev == firmware::DoorEvent::kForcedOpen ||
                 ev == firmware::DoorEvent::kTrap;
    e.decision = ev == firmware::DoorEvent::kExitReleased ? store::Decision::kGranted
                                                          : store::Decision::kInfo;
    e.reason = alarm ? "alarm" : "ok";
    if (alarm) {
      spdlog::warn("door {}: {}", d.setup.id, firmware::to_string(ev));
    } else {
      spdlog::info("door {}: {}", d.setup.id, firmware::to_string(ev));
    }
    record(std::move(e), alarm ? topics.alarm() : topics.door_event(d.setup.id));
  }
  publish_door_state(d);
}

void Site::publish_door_state(DoorUnit& d) {
  std::string state = firmware::to_string(d.controller.state());
  if (state == d.last_state) return;
  d.last_state = state;
  json j;
  j["door"] = d.setup.id;
  j["state"] = state;
  j["strike"] = d.controller.strike_release() ? "released" : "locked";
  j["time"] = iso8601_utc(clock_.wall());
  auto topic = mqtt::Topics(setup_.site_id, setup_.gateway_id).door_state(d.setup.id);
  enqueue({[this, topic, body = j.dump()]() {
             return store_.events().append_outbox({topic, body, true}, wall_ms());
           },
           {}});
}

void Site::publish_machine_state(MachineUnit& m) {
  // A session waiting for its relay is not in use yet; its commit publishes the state.
  if (m.pending_start) return;
  std::string state = firmware::to_string(m.controller.state());
  auto holder = m.controller.member();
  std::string key = state + (holder ? ":" + m.member_no : "");
  if (key == m.last_state) return;
  m.last_state = key;
  json j;
  j["machine"] = m.setup.id;
  j["state"] = state;
  j["relay"] = m.controller.relay();
  j["user"] = holder ? json(m.member_no) : json(nullptr);
  j["time"] = iso8601_utc(clock_.wall());
  auto topic = mqtt::Topics(setup_.site_id, setup_.gateway_id).machine_state(m.setup.id);
  enqueue({[this, topic, body = j.dump()]() {
             return store_.events().append_outbox({topic, body, true}, wall_ms());
           },
           {}});
}

void Site::apply(MachineUnit& m, const firmware::MachineEffects& fx,
                 std::optional<std::string> reader_id) {
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
        record_session_start(m, ev, reader_id);
        break;
      case firmware::MachineEventKind::kSessionEnded:
        record_session_end(m, ev);
        break;
      case firmware::MachineEventKind::kGraceStarted: {
        spdlog::info("machine {}: session of {} ending ({}), grace period runs", m.setup.id,
                     m.member_no, firmware::to_string(ev.reason));
        store::AccessEvent e;
        e.at_ms = wall_ms();
        e.machine_id = m.setup.id;
        e.member_id = ev.member;
        e.member_no = m.member_no;
        e.kind = "grace_started";
        e.decision = store::Decision::kInfo;
        e.reason = end_reason_code(ev.reason);
        record(std::move(e),
               mqtt::Topics(setup_.site_id, setup_.gateway_id).machine_session(m.setup.id));
        break;
      }
      case firmware::MachineEventKind::kSessionResumed:
        spdlog::info("machine {}: session of {} resumed", m.setup.id, m.member_no);
        break;
      case firmware::MachineEventKind::kTrap: {
        // Not the busy alarms: they come in fx.alarms, recorded below.
        spdlog::critical("machine {}: controller trapped an impossible state; relay off",
                         m.setup.id);
        store::AccessEvent e;
        e.at_ms = wall_ms();
        e.machine_id = m.setup.id;
        e.kind = "trap";
        e.decision = store::Decision::kInfo;
        e.reason = "alarm";
        record(std::move(e), mqtt::Topics(setup_.site_id, setup_.gateway_id).alarm());
        break;
      }
    }
  }
  for (const auto& a : fx.alarms) record_machine_alarm(m, a);
  publish_machine_state(m);
}

void Site::record_machine_alarm(MachineUnit& m, const firmware::MachineAlarm& a) {
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
  store::AccessEvent e;
  e.at_ms = wall_ms_at(a.at);
  e.machine_id = m.setup.id;
  if (a.member != 0) e.member_id = a.member;
  e.kind = kind;
  e.decision = store::Decision::kInfo;
  e.reason = "alarm";
  record(std::move(e), mqtt::Topics(setup_.site_id, setup_.gateway_id).alarm());
}

void Site::enqueue_close(std::string uuid, std::int64_t ended_at_ms, std::string reason,
                         std::optional<std::int64_t> measured_seconds, store::AccessEvent event,
                         std::string topic, std::string extra_json,
                         std::optional<std::int64_t> busy_seconds) {
  enqueue({[this, uuid = std::move(uuid), ended_at_ms, reason = std::move(reason), measured_seconds,
            event = std::move(event), topic = std::move(topic), extra_json = std::move(extra_json),
            busy_seconds]() -> store::Result<std::int64_t> {
             store::SessionRef ref;
             ref.uuid = uuid;
             auto r = store_.events().close_session(
                 ref, ended_at_ms, reason, measured_seconds, event,
                 {topic, payload(event, 0, extra_json), false}, busy_seconds);
             if (!r.ok()) {
               // A session already closed (e.g. by recovery) must not block the queue.
               if (r.error().kind == store::ErrorKind::kConflict ||
                   r.error().kind == store::ErrorKind::kNotFound) {
                 spdlog::warn("session {} was already closed: {}", uuid, r.error().message);
                 return std::int64_t{0};
               }
               return r.error();
             }
             return r.value().seq;
           },
           {}});
}

void Site::record_session_start(MachineUnit& m, const firmware::MachineEvent& ev,
                                std::optional<std::string> reader_id) {
  store::NewSession s;
  s.uuid = new_uuid();
  s.member_id = ev.member;
  s.machine_id = m.setup.id;
  s.kind = store::SessionKind::kMachine;
  s.started_at_ms = wall_ms_at(ev.at);
  m.session_uuid = s.uuid;
  store::AccessEvent e;
  e.uuid = new_uuid();
  e.at_ms = s.started_at_ms;
  e.reader_id = reader_id;
  e.machine_id = m.setup.id;
  e.member_id = ev.member;
  e.member_no = m.member_no;
  e.kind = "session_started";
  e.decision = store::Decision::kInfo;
  e.reason = "ok";
  e.detail = s.uuid;
  auto topic = mqtt::Topics(setup_.site_id, setup_.gateway_id).machine_session(m.setup.id);
  if (m.awaiting_on) {
    // The relay has been commanded but may not have switched: nothing is committed until it
    // confirms (relay_confirmed) or fails to (relay_unconfirmed).
    spdlog::info("machine {}: session of {} waits for the relay to confirm on", m.setup.id,
                 m.member_no);
    m.pending_start = MachineUnit::PendingStart{s, e, topic, std::nullopt, {}, {}};
    return;
  }
  spdlog::info("machine {}: session {} of {} started, relay on", m.setup.id, s.uuid, m.member_no);
  enqueue({[this, s, e, topic]() -> store::Result<std::int64_t> {
             auto r = store_.events().open_session(
                 s, e, {topic, payload(e, 0, R"({"session":"open"})"), false});
             if (!r.ok()) return r.error();
             return r.value().seq;
           },
           {}});
}

void Site::record_session_end(MachineUnit& m, const firmware::MachineEvent& ev) {
  if (m.pending_start) {
    // Ended (card gone, fire alarm, lockout, fault, confirmation timeout) before the relay
    // confirmed: the session never existed.
    abort_start(m, m.abort_reason.empty() ? std::string("session_aborted") : m.abort_reason);
    return;
  }
  if (!m.session_uuid) {
    spdlog::error("machine {}: a session ended that was never recorded as started", m.setup.id);
    return;
  }
  auto uuid = *m.session_uuid;
  m.session_uuid.reset();
  auto ended = wall_ms_at(ev.at);
  auto measured = std::max<std::int64_t>(0, (ev.at - ev.started_at).count() / 1000);
  std::string reason = end_reason_code(ev.reason);
  store::AccessEvent e;
  e.uuid = new_uuid();
  e.at_ms = ended;
  e.machine_id = m.setup.id;
  e.member_id = ev.member;
  e.member_no = m.member_no;
  e.kind = "session_ended";
  e.decision = store::Decision::kInfo;
  e.reason = reason;
  e.detail = uuid;
  spdlog::info("machine {}: session {} of {} ended ({}), {} s", m.setup.id, uuid, m.member_no,
               reason, measured);
  auto topic = mqtt::Topics(setup_.site_id, setup_.gateway_id).machine_session(m.setup.id);
  std::optional<std::int64_t> busy;
  if (m.setup.controller.has_busy_input) busy = take_busy_seconds(m, ev.started_at, ev.at);
  enqueue_close(uuid, ended, reason, measured, e, topic,
                R"({"session":"closed","seconds":)" + std::to_string(measured) + "}", busy);
}

void Site::note_busy(MachineUnit& m, bool busy, Millis now) {
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

std::int64_t Site::take_busy_seconds(MachineUnit& m, Millis from, Millis to) {
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

// ---------------------------------------------------------------------------------------------
// Time

void Site::tick() {
  Batch batch(*this);
  auto now = clock_.mono();
  for (auto& d : doors_) {
    auto deadline = d->controller.next_deadline();
    if (deadline && *deadline <= now) apply(*d, d->controller.tick(now));
  }
  for (auto& m : machines_) {
    auto deadline = m->controller.next_deadline();
    if (deadline && *deadline <= now) apply(*m, m->controller.tick(now));
  }
  // Retries and polling for staff changes run on real time: a manual (demo) clock may stand
  // still while labgatectl changes the database.
  const auto real = std::chrono::steady_clock::now();
  // At most one attempt per retry interval: each may wait out the busy timeout on the loop.
  if ((faulted_ || !pending_.empty()) && real - last_retry_ >= kRetryInterval) {
    last_retry_ = real;
    flush_pending();
    if (faulted_ && pending_.empty()) {
      // The held writes went through; probe with a write of our own before trusting the store.
      auto v = store_.data_version();
      auto hb = store_.events().write_heartbeat(wall_ms());
      if (v.ok() && hb.ok()) leave_fault();
    }
  }
  if (!faulted_ && (last_heartbeat_.count() < 0 || now - last_heartbeat_ >= setup_.heartbeat)) {
    last_heartbeat_ = now;
    if (auto r = store_.events().write_heartbeat(wall_ms()); !r.ok()) {
      enter_fault("heartbeat write failed: " + r.error().message);
    }
  }
  if (real - last_poll_ >= setup_.store_poll) {
    last_poll_ = real;
    auto v = store_.data_version();
    if (v.ok() && v.value() != data_version_) {
      data_version_ = v.value();
      refresh_machines();
    }
  }
  close_coworking_at_closing();
}

void Site::refresh_machines() {
  auto now = clock_.mono();
  auto local = setup_.calendar.to_local(clock_.wall());
  for (auto& m : machines_) {
    auto row = store_.taps().machine(m->setup.id);
    if (!row.ok() || !row.value()) continue;
    auto wanted = firmware::OutOfServiceReason::kNone;
    if (row.value()->locked_out) {
      wanted = firmware::OutOfServiceReason::kStaffLockout;
    } else if (m->setup.inspection_interval_days > 0) {
      auto due = date_of(row.value()->next_inspection_due);
      if (!due || std::chrono::sys_days(*due) < std::chrono::sys_days(local.date)) {
        wanted = firmware::OutOfServiceReason::kInspectionOverdue;
      }
    }
    if (wanted == m->wanted_oos) continue;
    m->wanted_oos = wanted;
    if (wanted == firmware::OutOfServiceReason::kNone) {
      spdlog::info("machine {}: back in service", m->setup.id);
      apply(*m, m->controller.release(now));
    } else {
      spdlog::warn("machine {}: out of service ({})", m->setup.id, firmware::to_string(wanted));
      apply(*m, m->controller.lockout(wanted, now));
    }
  }
}

void Site::close_coworking_at_closing() {
  if (!setup_.closing_minute) return;
  auto local = setup_.calendar.to_local(clock_.wall());
  if (local.minute_of_day < *setup_.closing_minute) return;
  auto day =
      static_cast<std::int64_t>(std::chrono::sys_days(local.date).time_since_epoch().count());
  if (last_closing_day_ && *last_closing_day_ == day) return;
  last_closing_day_ = day;
  store::HistoryFilter f;
  f.open_only = true;
  f.limit = 100000;
  auto open = store_.events().list_sessions(f);
  if (!open.ok()) return;
  auto closing_at =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          setup_.calendar.to_sys(local.date, *setup_.closing_minute).time_since_epoch())
          .count();
  mqtt::Topics topics(setup_.site_id, setup_.gateway_id);
  for (const auto& s : open.value()) {
    if (s.kind != store::SessionKind::kCoworking || s.started_at_ms > closing_at) continue;
    store::AccessEvent e;
    e.uuid = new_uuid();
    e.at_ms = closing_at;
    e.member_id = s.member_id;
    e.member_no = s.member_no;
    e.kind = "presence_out";
    e.decision = store::Decision::kInfo;
    e.reason = "closing_time";
    e.detail = s.uuid;
    spdlog::info("coworking session of {} closed at closing time", s.member_no.value_or("?"));
    enqueue_close(s.uuid, closing_at, "closing_time", std::nullopt, e, topics.alarm());
  }
}

// ---------------------------------------------------------------------------------------------
// Staff and remote actions

bool Site::remote_unlock(const std::string& door_id, const std::string& actor) {
  Batch batch(*this);
  for (auto& d : doors_) {
    if (d->setup.id != door_id) continue;
    apply(*d, d->controller.remote_unlock(clock_.mono()));
    (void)store_.audit().append_audit(actor, "remote_unlock", door_id, "{}");
    return true;
  }
  return false;
}

bool Site::lockout(const std::string& machine_id, const std::string& reason,
                   const std::string& actor) {
  Batch batch(*this);
  for (auto& m : machines_) {
    if (m->setup.id != machine_id) continue;
    auto r = store_.staff().lockout_machine(machine_id, reason, actor);
    if (!r.ok() && r.error().kind != store::ErrorKind::kConflict) {
      spdlog::error("lockout of {} not stored: {}", machine_id, r.error().message);
    }
    m->wanted_oos = firmware::OutOfServiceReason::kStaffLockout;
    apply(*m, m->controller.lockout(firmware::OutOfServiceReason::kStaffLockout, clock_.mono()));
    return true;
  }
  return false;
}

bool Site::release(const std::string& machine_id, const std::string& actor) {
  Batch batch(*this);
  for (auto& m : machines_) {
    if (m->setup.id != machine_id) continue;
    auto r = store_.staff().release_machine(machine_id, actor);
    if (!r.ok() && r.error().kind != store::ErrorKind::kConflict) {
      spdlog::error("release of {} not stored: {}", machine_id, r.error().message);
    }
    m->wanted_oos = firmware::OutOfServiceReason::kNone;
    apply(*m, m->controller.release(clock_.mono()));
    refresh_machines();  // an overdue inspection still keeps it out of service
    return true;
  }
  return false;
}

bool Site::confirm(const std::string& machine_id, const std::string& actor) {
  Batch batch(*this);
  for (auto& m : machines_) {
    if (m->setup.id != machine_id) continue;
    apply(*m, m->controller.staff_confirm(clock_.mono()));
    (void)store_.audit().append_audit(
        actor, "machine_confirm", machine_id,
        std::string(R"({"state":")") + firmware::to_string(m->controller.state()) + "\"}");
    return true;
  }
  return false;
}

void Site::all_stop(const std::string& actor) {
  Batch batch(*this);
  for (auto& m : machines_) lockout(m->setup.id, "all-stop", actor);
}

std::vector<std::string> Site::status_lines() const {
  std::vector<std::string> out;
  for (const auto& d : doors_) {
    out.push_back("door " + d->setup.id + " " + firmware::to_string(d->controller.state()) +
                  " strike=" + (d->controller.strike_release() ? "released" : "locked"));
  }
  for (const auto& m : machines_) {
    auto holder = m->controller.member();
    out.push_back("machine " + m->setup.id + " " + firmware::to_string(m->controller.state()) +
                  " relay=" + (m->controller.relay() ? "on" : "off") +
                  " user=" + (holder ? m->member_no : std::string("-")));
  }
  out.push_back(std::string("site fault=") + (faulted_ ? "yes" : "no") +
                " fire=" + (fire_ ? "yes" : "no") + " pending=" + std::to_string(pending_.size()));
  return out;
}

}  // namespace labgate::gateway::app
