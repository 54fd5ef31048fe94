#include "labgate/gateway/app/journal.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

namespace labgate::gateway::app {

namespace {

// Past this many unrecorded writes the oldest are dropped (and logged) rather than letting a
// dead disk exhaust memory; at one tap per second that is more than a day of events.
constexpr std::size_t kMaxPending = 100'000;
constexpr firmware::Millis kRetryInterval{1000};

mqtt::EventHeader header_of(const store::AccessEvent& e, std::int64_t seq) {
  return {e.uuid, seq, std::chrono::system_clock::time_point(std::chrono::milliseconds(e.at_ms))};
}

}  // namespace

store::AccessEvent info_event(std::int64_t at_ms, std::string kind, std::string reason) {
  store::AccessEvent e;
  e.at_ms = at_ms;
  e.kind = std::move(kind);
  e.decision = store::Decision::kInfo;
  e.reason = std::move(reason);
  return e;
}

Journal::Journal(store::Store& store, Clock& clock, mqtt::Topics topics,
                 std::chrono::milliseconds heartbeat)
    : store_(store), clock_(clock), topics_(std::move(topics)), heartbeat_interval_(heartbeat) {
  if (sodium_init() < 0) spdlog::critical("libsodium failed to initialise");
  randombytes_buf(&uuid_salt_, sizeof uuid_salt_);
}

Journal::Batch::Batch(Journal& journal) : journal_(journal) {
  ++journal_.batch_depth_;
}

Journal::Batch::~Batch() {
  if (--journal_.batch_depth_ == 0 && !journal_.faulted_) journal_.flush();
}

std::int64_t Journal::wall_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall().time_since_epoch())
      .count();
}

std::int64_t Journal::wall_ms_at(firmware::Millis mono) const {
  return wall_ms() - (clock_.mono() - mono).count();
}

std::string Journal::new_uuid() {
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

std::string Journal::event_payload(const store::AccessEvent& e, std::int64_t seq,
                                   const std::optional<SessionMark>& mark) const {
  mqtt::GatewayEvent g;
  g.kind = e.kind;
  g.decision = store::to_string(e.decision);
  g.reason = e.reason;
  g.reader = e.reader_id;
  g.door = e.door_id;
  g.machine = e.machine_id;
  g.member = e.member_no;
  g.detail = e.detail;
  if (mark) {
    g.session = mark->phase;
    g.seconds = mark->seconds;
  }
  return mqtt::gateway_event_payload(topics_, header_of(e, seq), g);
}

// ---------------------------------------------------------------------------------------------
// Writes

void Journal::record(store::AccessEvent event, std::string topic, Committed done,
                     std::optional<SessionMark> mark) {
  if (event.uuid.empty()) event.uuid = new_uuid();
  enqueue({[this, event = std::move(event), topic = std::move(topic), mark = std::move(mark)]() {
             return store_.events().record_access(event, topic, false, [&](std::int64_t seq) {
               return keep(topic, false, event_payload(event, seq, mark));
             });
           },
           std::move(done)});
}

void Journal::open_session(store::NewSession session, store::AccessEvent event, std::string topic,
                           std::optional<SessionMark> mark) {
  if (event.uuid.empty()) event.uuid = new_uuid();
  enqueue({[this, s = std::move(session), e = std::move(event), topic = std::move(topic),
            mark = std::move(mark)]() -> store::Result<std::int64_t> {
             auto r = store_.events().open_session(s, e, topic, false, [&](std::int64_t seq) {
               return keep(topic, false, event_payload(e, seq, mark));
             });
             if (!r.ok()) return r.error();
             return r.value().seq;
           },
           {}});
}

void Journal::close_session(SessionClose close, store::AccessEvent event, std::string topic,
                            std::optional<SessionMark> mark) {
  if (event.uuid.empty()) event.uuid = new_uuid();
  enqueue({[this, c = std::move(close), e = std::move(event), topic = std::move(topic),
            mark = std::move(mark)]() -> store::Result<std::int64_t> {
             store::SessionRef ref;
             ref.uuid = c.uuid;
             auto r = store_.events().close_session(
                 ref, c.ended_at_ms, c.reason, c.measured_seconds, e, topic, false,
                 [&](std::int64_t seq) { return keep(topic, false, event_payload(e, seq, mark)); },
                 c.busy_seconds);
             if (!r.ok()) {
               // A session already closed (e.g. by recovery) must not block the queue.
               if (r.error().kind == store::ErrorKind::kConflict ||
                   r.error().kind == store::ErrorKind::kNotFound) {
                 spdlog::warn("session {} was already closed: {}", c.uuid, r.error().message);
                 return std::int64_t{0};
               }
               return r.error();
             }
             return r.value().seq;
           },
           {}});
}

void Journal::publish_state(std::string topic,
                            std::function<std::string(const mqtt::EventHeader&)> build) {
  const auto at = clock_.wall();
  enqueue({[this, topic = std::move(topic), build = std::move(build), at]() {
             return store_.events().append_outbox(
                 topic, true,
                 [&](std::int64_t seq) {
                   return keep(topic, true, build({mqtt::stable_event_id(topics_, seq), seq, at}));
                 },
                 wall_ms());
           },
           {}});
}

std::string Journal::keep(const std::string& topic, bool retain, std::string payload) {
  if (commit_observer_) built_ = mqtt::OutboxMessage{topic, payload, retain};
  return payload;
}

void Journal::enqueue(PendingWrite write) {
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
  if (batch_depth_ == 0 && !faulted_) flush();
}

void Journal::flush() {
  bool committed = false;
  while (!pending_.empty()) {
    auto& front = pending_.front();
    built_.reset();  // a rolled-back attempt's message is not the one that commits
    auto r = front.write();
    if (!r.ok()) {
      const auto& err = r.error();
      if (err.kind == store::ErrorKind::kBusy || err.kind == store::ErrorKind::kUnavailable) {
        enter_fault(std::string("store write failed: ") + err.message);
        last_retry_ = std::chrono::steady_clock::now();
        break;
      }
      // A write the store refuses for its content will never succeed: log it whole and move on
      // so one bad row cannot block every later event.
      spdlog::error("store refused a write ({}): {}", store::to_string(err.kind), err.message);
      auto after = std::move(front.after);
      pending_.pop_front();
      if (after) after(0);
      continue;
    }
    committed = true;
    auto after = std::move(front.after);
    pending_.pop_front();
    if (after) after(r.value());
    if (commit_observer_ && r.value() > 0 && built_) commit_observer_(r.value(), *built_);
  }
  if (committed && commit_listener_) commit_listener_();
}

// ---------------------------------------------------------------------------------------------
// Fault mode and liveness

void Journal::store_failed(const std::string& why) {
  enter_fault(why);
}

void Journal::enter_fault(const std::string& why) {
  if (faulted_) return;
  faulted_ = true;
  fault_reason_ = why;
  spdlog::error("site fault: {} — doors in their fail mode, every machine off", why);
  if (fault_listener_) fault_listener_(true);
}

void Journal::leave_fault() {
  if (!faulted_) return;
  faulted_ = false;
  spdlog::warn("site fault cleared: the store answers again");
  if (fault_listener_) fault_listener_(false);
  auto e = info_event(wall_ms(), "store_recovered", "ok");
  e.detail = fault_reason_;
  record(std::move(e), topics_.alarm());
}

bool Journal::recover_open_sessions() {
  // Sessions a crash left open end at the last sign of life, never later.
  auto recovered = store_.events().recover_open_sessions("power_loss_recovered");
  if (!recovered.ok()) {
    enter_fault("cannot recover open sessions: " + recovered.error().message);
    return false;
  }
  for (const auto& s : recovered.value()) {
    spdlog::warn("session {} of member {} on {} closed at the last heartbeat (power loss)", s.uuid,
                 s.member_id, s.machine_id.value_or("coworking"));
    auto e = info_event(s.ended_at_ms.value_or(wall_ms()), "session_ended", "power_loss_recovered");
    e.machine_id = s.machine_id;
    e.member_id = s.member_id;
    e.detail = s.uuid;
    record(std::move(e), s.machine_id ? topics_.machine_session(*s.machine_id) : topics_.alarm());
  }
  return true;
}

void Journal::heartbeat() {
  if (auto r = store_.events().write_heartbeat(wall_ms()); !r.ok()) {
    spdlog::error("store: heartbeat failed: {}", r.error().message);
  }
  last_heartbeat_ = clock_.mono();
}

void Journal::tick() {
  // Retries run on real time: a manual (demo) clock may stand still while labgatectl changes
  // the database.
  const auto real = std::chrono::steady_clock::now();
  // At most one attempt per retry interval: each may wait out the busy timeout on the loop.
  if ((faulted_ || !pending_.empty()) && real - last_retry_ >= kRetryInterval) {
    last_retry_ = real;
    flush();
    if (faulted_ && pending_.empty()) {
      // The held writes went through; probe with a write of our own before trusting the store.
      auto v = store_.data_version();
      auto hb = store_.events().write_heartbeat(wall_ms());
      if (v.ok() && hb.ok()) leave_fault();
    }
  }
  const auto now = clock_.mono();
  if (!faulted_ && (last_heartbeat_.count() < 0 || now - last_heartbeat_ >= heartbeat_interval_)) {
    last_heartbeat_ = now;
    if (auto r = store_.events().write_heartbeat(wall_ms()); !r.ok()) {
      enter_fault("heartbeat write failed: " + r.error().message);
    }
  }
}

}  // namespace labgate::gateway::app
