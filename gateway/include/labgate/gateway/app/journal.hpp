#pragma once
// The journal: the last stage of the tap path. Every unit of the site hands it what happened
// (an event, a session opened or closed, a retained state); it keeps the writes in order, commits
// each with its outbox row and a gapless sequence number, and builds each payload once, inside
// the transaction, after the store has assigned that number (mqtt/payloads).
//
// One batch per tap: while a Batch is open (a tap, an input, a tick) nothing is committed, so the
// relay and the strike are driven before any disk write. A write the store cannot take (busy,
// unavailable) puts the journal in its fault mode: it keeps the writes in memory, retries on a
// timer, and tells its fault listener, which puts doors and machines in their fail modes.
//
// Threading: lives on the daemon's event loop, like the Site that owns it.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "labgate/firmware/common.hpp"
#include "labgate/gateway/app/clock.hpp"
#include "labgate/gateway/mqtt/payloads.hpp"
#include "labgate/gateway/mqtt/topics.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::app {

/// The end of a session, as the journal closes it.
struct SessionClose {
  std::string uuid;
  std::int64_t ended_at_ms{0};
  std::string reason;
  std::optional<std::int64_t> measured_seconds;  ///< none: the whole duration
  std::optional<std::int64_t> busy_seconds;      ///< for busy/idle rates; none: NULL
};

/// An event of decision "info" (most of what is not a tap): `kind` at `at_ms` with `reason`.
store::AccessEvent info_event(std::int64_t at_ms, std::string kind, std::string reason);

/// Marks a machine session's event in its payload ("session":"open" / "closed", "seconds").
struct SessionMark {
  std::string phase;
  std::optional<std::int64_t> seconds;
};

/// The ordered, durable record of the site. See the file comment.
class Journal {
 public:
  /// Runs once a write is committed (its seq) or dropped (0).
  using Committed = std::function<void(std::int64_t seq)>;
  /// Told when the fault mode starts (true) or ends (false), before anything else is recorded.
  using FaultListener = std::function<void(bool faulted)>;

  /// `store` and `clock` must outlive the journal.
  Journal(store::Store& store, Clock& clock, mqtt::Topics topics,
          std::chrono::milliseconds heartbeat);
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  /// Holds commits until the outermost batch closes (then flushes, unless faulted).
  class Batch {
   public:
    explicit Batch(Journal& journal);
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

   private:
    Journal& journal_;
  };

  /// The site's topics.
  const mqtt::Topics& topics() const { return topics_; }
  /// A fresh random v4 UUID, for events and sessions.
  std::string new_uuid();
  /// Wall time now, in ms since the epoch.
  std::int64_t wall_ms() const;
  /// Wall time of the monotonic instant `mono` (a deadline that fell due between ticks).
  std::int64_t wall_ms_at(firmware::Millis mono) const;

  /// Records an event with its outbox row on `topic`. The event gets a uuid if it has none.
  void record(store::AccessEvent event, std::string topic, Committed done = {},
              std::optional<SessionMark> mark = std::nullopt);
  /// Opens a session and records its event.
  void open_session(store::NewSession session, store::AccessEvent event, std::string topic,
                    std::optional<SessionMark> mark = std::nullopt);
  /// Closes a session and records its event; a session already closed (by recovery) is logged
  /// and skipped, never blocking the writes behind it.
  void close_session(SessionClose close, store::AccessEvent event, std::string topic,
                     std::optional<SessionMark> mark = std::nullopt);
  /// Publishes a retained state: `build` makes the payload from the row's event header.
  void publish_state(std::string topic, std::function<std::string(const mqtt::EventHeader&)> build);

  /// At start-up: closes the sessions a crash left open at the last heartbeat and records their
  /// end. False (and fault mode) when the store cannot.
  bool recover_open_sessions();
  /// Writes the liveness time now (start, stop).
  void heartbeat();
  /// The store failed on the tap path (a lookup): enter the fault mode.
  void store_failed(const std::string& why);
  /// Retries held writes, leaves the fault mode once the store answers, writes the heartbeat.
  void tick();

  /// Installs the fault listener (one).
  void set_fault_listener(FaultListener listener) { fault_listener_ = std::move(listener); }
  /// Runs once after each flush that committed writes (the MQTT bridge wakes its drainer).
  void set_commit_listener(std::function<void()> listener) {
    commit_listener_ = std::move(listener);
  }
  /// Runs with each committed write's seq and the outbox message it built (the admin channel's
  /// live stream), so nobody reads back what was just written.
  using CommitObserver = std::function<void(std::int64_t seq, const mqtt::OutboxMessage&)>;
  /// Installs the commit observer (one; empty: none).
  void set_commit_observer(CommitObserver observer) { commit_observer_ = std::move(observer); }

  /// True while the store is unavailable.
  bool faulted() const { return faulted_; }
  /// Writes waiting for the store.
  std::size_t pending() const { return pending_.size(); }

 private:
  struct PendingWrite {
    std::function<store::Result<std::int64_t>()> write;
    Committed after;
  };

  void enqueue(PendingWrite write);
  // Returns `payload`, keeping a copy in built_ for the commit observer.
  std::string keep(const std::string& topic, bool retain, std::string payload);
  void flush();
  void enter_fault(const std::string& why);
  void leave_fault();
  // The payload of `event` committed as `seq`.
  std::string event_payload(const store::AccessEvent& event, std::int64_t seq,
                            const std::optional<SessionMark>& mark) const;

  store::Store& store_;
  Clock& clock_;
  mqtt::Topics topics_;
  std::chrono::milliseconds heartbeat_interval_;
  std::deque<PendingWrite> pending_;
  FaultListener fault_listener_;
  std::function<void()> commit_listener_;
  CommitObserver commit_observer_;
  // The message the write being flushed built, kept only while a commit observer is installed.
  std::optional<mqtt::OutboxMessage> built_;
  int batch_depth_{0};
  bool faulted_{false};
  std::string fault_reason_;
  firmware::Millis last_heartbeat_{-1};
  std::chrono::steady_clock::time_point last_retry_{};
  std::uint64_t uuid_counter_{0};
  std::uint64_t uuid_salt_{0};
};

}  // namespace labgate::gateway::app
