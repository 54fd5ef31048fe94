#include "labgate/gateway/app/site.hpp"

#include <spdlog/spdlog.h>

#include "labgate/gateway/app/credentials.hpp"
#include "labgate/gateway/app/doors.hpp"
#include "labgate/gateway/app/journal.hpp"
#include "labgate/gateway/app/machines.hpp"
#include "labgate/gateway/app/presence.hpp"

namespace labgate::gateway::app {

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
    for (const auto& r : c.rooms) {
      if (r.door != d.id) continue;
      ds.room = r.id;
      ds.early_entry_ms = std::int64_t{r.rules.early_entry_minutes} * 60'000;
    }
    for (const auto& l : c.lockers) {
      if (l.door == d.id) ds.locker = l.id;
    }
    s.doors.push_back(std::move(ds));
  }
  for (const auto& r : c.rooms) {
    s.rooms.push_back({r.id, r.name, r.door, r.rules, r.rate_per_hour});
  }
  for (const auto& l : c.lockers) s.lockers.push_back({l.id, l.name, l.door, l.rate_per_month});
  s.holidays = c.site.holidays;
  s.closure = c.site.closure;
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

std::function<void(std::int64_t)> tap_answer(TapDone done, TapOutcome outcome) {
  if (!done) return {};
  return [done = std::move(done), outcome = std::move(outcome)](std::int64_t seq) mutable {
    outcome.seq = seq;
    done(outcome);
  };
}

class Site::Step {
 public:
  explicit Step(Site& site) : site_(site), batch_(std::in_place, *site.journal_) {
    ++site_.step_depth_;
  }
  ~Step() {
    batch_.reset();  // commits first: the deadline below is for what the outputs now do
    if (--site_.step_depth_ == 0 && site_.deadline_listener_) {
      site_.deadline_listener_(site_.next_deadline());
    }
  }
  Step(const Step&) = delete;
  Step& operator=(const Step&) = delete;

 private:
  Site& site_;
  std::optional<Journal::Batch> batch_;
};

Site::Site(SiteSetup setup, store::Store& store, Clock& clock)
    : setup_(std::move(setup)), store_(store), clock_(clock) {
  journal_ = std::make_unique<Journal>(
      store_, clock_, mqtt::Topics(setup_.site_id, setup_.gateway_id), setup_.heartbeat);
  credentials_ = std::make_unique<Credentials>(setup_, store_, clock_);
  presence_ = std::make_unique<Presence>(setup_, store_, clock_, *journal_);
  doors_ = std::make_unique<DoorUnit>(setup_, store_, clock_, *journal_, *presence_);
  machines_ = std::make_unique<MachineUnit>(setup_, store_, clock_, *journal_);
  journal_->set_fault_listener([this](bool faulted) { store_fault(faulted); });
}

Site::~Site() = default;

void Site::attach_strike(const std::string& door_id, std::shared_ptr<drivers::Output> strike) {
  doors_->attach_strike(door_id, std::move(strike));
}

void Site::attach_relay(const std::string& machine_id, std::shared_ptr<drivers::Output> relay,
                        bool confirms) {
  machines_->attach_relay(machine_id, std::move(relay), confirms);
}

void Site::bind_input(const std::string& input_id, drivers::InputKind kind,
                      const std::string& target) {
  inputs_[input_id] = {kind, target};
}

void Site::set_credit_check(CreditCheck check) {
  machines_->set_credit_check(std::move(check));
}

void Site::set_commit_listener(std::function<void()> listener) {
  journal_->set_commit_listener(std::move(listener));
}

void Site::set_commit_observer(CommitObserver observer) {
  journal_->set_commit_observer(std::move(observer));
}

bool Site::faulted() const {
  return journal_->faulted();
}

std::size_t Site::pending_writes() const {
  return journal_->pending();
}

void Site::relay_confirmed(const std::string& machine_id, bool on) {
  Step step(*this);
  machines_->relay_confirmed(machine_id, on);
}

void Site::relay_unconfirmed(const std::string& machine_id, bool wanted) {
  Step step(*this);
  machines_->relay_unconfirmed(machine_id, wanted);
}

// ---------------------------------------------------------------------------------------------
// Start and stop

void Site::warn_rate_drift() {
  // The config's rate of a room or locker only seeds its first rate; after that the rate
  // history (labgatectl rates set, the console) decides, and a config edit is not a price change.
  const auto now = journal_->wall_ms();
  const auto check = [&](std::string_view kind, const std::string& id, std::int64_t config) {
    auto r = store_.bookings().resource_rate_at(kind, id, now);
    if (r && *r && (*r)->price != config) {
      spdlog::warn(
          "config: {} '{}' rate {} differs from the rate in force ({}, rate {}): the rate history "
          "decides; change it with labgatectl rates set --{} {}",
          kind, id, config, (*r)->price, (*r)->id, kind, id);
    }
  };
  for (const auto& r : setup_.rooms) check("room", r.id, r.rate_per_hour);
  for (const auto& l : setup_.lockers) check("locker", l.id, l.rate_per_month);
}

void Site::start() {
  Step step(*this);
  doors_->sync_store();
  machines_->sync_store();
  if (auto r = store_.bookings().sync_site(setup_.rooms, setup_.lockers, setup_.holidays,
                                           setup_.closure);
      !r.ok()) {
    spdlog::error("store: cannot record rooms and lockers: {}", r.error().message);
  }
  warn_rate_drift();
  journal_->recover_open_sessions();
  journal_->record(info_event(journal_->wall_ms(), "gateway_started", "ok"),
                   journal_->topics().alarm());
  journal_->heartbeat();
  doors_->start();
  machines_->start();
}

void Site::stop() {
  Step step(*this);
  machines_->stop();
  doors_->stop();
  journal_->record(info_event(journal_->wall_ms(), "gateway_stopped", "ok"),
                   journal_->topics().alarm());
  journal_->heartbeat();
}

// ---------------------------------------------------------------------------------------------
// Routing

void Site::on_reader_event(const drivers::ReaderEvent& event, TapDone done) {
  Step step(*this);
  using Kind = drivers::ReaderEvent::Kind;
  switch (event.kind) {
    case Kind::kCardPresent:
      handle_card(event, std::move(done));
      return;
    case Kind::kCardRemoved:
      // A removal that only says the reader went down: the kReaderDown right behind it winds
      // the session down, with that reason.
      if (event.reader_lost) return;
      if (auto m = machines_->route(event.reader_id)) machines_->card_removed(*m);
      return;
    case Kind::kReaderDown:
    case Kind::kReaderUp:
      reader_status(event);
      return;
  }
}

void Site::handle_card(const drivers::ReaderEvent& event, TapDone done) {
  if (!event.card) return;
  if (interceptor_ && interceptor_(event, done)) return;
  const auto t0 = std::chrono::steady_clock::now();
  const auto door = doors_->route(event.reader_id);
  const auto machine = door ? std::nullopt : machines_->route(event.reader_id);
  if (!door && !machine) {
    spdlog::warn("card on reader {} which serves no door or machine", event.reader_id);
    TapOutcome o;
    o.reason = "unknown_reader";
    o.target = event.reader_id;
    if (done) done(o);
    return;
  }
  const auto card = credentials_->lookup(*event.card);
  if (!card.store_ok) journal_->store_failed("credential lookup failed: " + card.failure);
  auto context = credentials_->context(event, card, fire_);
  const DrivenAt driven =
      door ? doors_->tap(*door, event, card, std::move(context), std::move(done))
           : machines_->tap(*machine, event, card, std::move(context), std::move(done));
  if (driven) {
    last_decision_us_ = std::chrono::duration_cast<std::chrono::microseconds>(*driven - t0).count();
  }
}

void Site::reader_status(const drivers::ReaderEvent& event) {
  const bool down = event.kind == drivers::ReaderEvent::Kind::kReaderDown;
  store::AccessEvent e = info_event(journal_->wall_ms(), down ? "reader_down" : "reader_up",
                                    down ? "reader_down" : "ok");
  e.reader_id = event.reader_id;
  e.detail = event.detail;
  if (auto door = doors_->route(event.reader_id)) {
    e.door_id = doors_->id(*door);
    doors_->reader_status(*door, event.reader_id, down);
  } else if (auto machine = machines_->route(event.reader_id)) {
    e.machine_id = machines_->id(*machine);
    machines_->reader_status(*machine, down);
  }
  if (down) {
    spdlog::error("reader {} down: {}", event.reader_id, event.detail);
  } else {
    spdlog::info("reader {} up", event.reader_id);
  }
  journal_->record(std::move(e), journal_->topics().alarm());
}

void Site::on_input(const drivers::InputEvent& event) {
  Step step(*this);
  auto it = inputs_.find(event.input_id);
  if (it == inputs_.end()) {
    spdlog::warn("input {} is not bound to anything; ignored", event.input_id);
    return;
  }
  const auto& [kind, target] = it->second;
  switch (kind) {
    case drivers::InputKind::kDoorContact:
      doors_->contact(target, event.active);
      return;
    case drivers::InputKind::kExitButton:
      if (event.active) doors_->exit_button(target);
      return;
    case drivers::InputKind::kBusy:
      machines_->busy(target, event.active);
      return;
    case drivers::InputKind::kFireAlarm:
      fire_alarm(event.active);
      return;
  }
}

void Site::fire_alarm(bool active) {
  if (active == fire_) return;
  fire_ = active;
  spdlog::critical("fire alarm {}", fire_ ? "ASSERTED: egress doors released, machines cut"
                                          : "cleared: machines wait for staff confirmation");
  doors_->fire_alarm(fire_);
  machines_->fire_alarm(fire_);
  journal_->record(
      info_event(journal_->wall_ms(), fire_ ? "fire_alarm" : "fire_alarm_cleared", "fire_alarm"),
      journal_->topics().alarm());
}

void Site::store_fault(bool faulted) {
  doors_->store_fault(faulted);
  machines_->store_fault(faulted);
}

// ---------------------------------------------------------------------------------------------
// Time

void Site::on_deadline() {
  Step step(*this);
  doors_->tick();
  machines_->tick();
}

std::optional<firmware::Millis> Site::next_deadline() const {
  return earliest(doors_->next_deadline(), machines_->next_deadline());
}

void Site::publish_retained(std::string topic,
                            std::function<std::string(const mqtt::EventHeader&)> build) {
  journal_->publish_state(std::move(topic), std::move(build));
}

void Site::tick() {
  Step step(*this);
  doors_->tick();
  machines_->tick();
  journal_->tick();
  // Staff changes are polled on real time: a manual (demo) clock may stand still while
  // labgatectl changes the database.
  const auto real = std::chrono::steady_clock::now();
  if (real - last_poll_ >= setup_.store_poll) {
    last_poll_ = real;
    auto v = store_.data_version();
    if (v.ok() && v.value() != data_version_) {
      data_version_ = v.value();
      machines_->refresh();
    }
  }
  presence_->tick();
}

// ---------------------------------------------------------------------------------------------
// Staff and remote actions

bool Site::remote_unlock(const std::string& door_id, const store::Actor& actor) {
  Step step(*this);
  if (!doors_->remote_unlock(door_id)) return false;
  (void)store_.audit().append_audit(actor, "remote_unlock", door_id, "{}");
  return true;
}

bool Site::lockout(const std::string& machine_id, const std::string& reason,
                   const store::Actor& actor) {
  Step step(*this);
  return machines_->lockout(machine_id, reason, actor);
}

bool Site::release(const std::string& machine_id, const store::Actor& actor) {
  Step step(*this);
  return machines_->release(machine_id, actor);
}

bool Site::confirm(const std::string& machine_id, const store::Actor& actor) {
  Step step(*this);
  return machines_->confirm(machine_id, actor);
}

void Site::all_stop(const store::Actor& actor) {
  Step step(*this);
  machines_->all_stop(actor);
}

std::vector<std::string> Site::status_lines() const {
  std::vector<std::string> out;
  doors_->status_lines(out);
  machines_->status_lines(out);
  out.push_back(std::string("site fault=") + (journal_->faulted() ? "yes" : "no") + " fire=" +
                (fire_ ? "yes" : "no") + " pending=" + std::to_string(journal_->pending()));
  return out;
}

}  // namespace labgate::gateway::app
