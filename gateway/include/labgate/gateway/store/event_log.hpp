#pragma once
// The event log: access events, sessions, the MQTT outbox with its gapless sequence, the
// daemon's heartbeat and the nonces of accepted signed commands. Each tap write is one
// transaction holding the event and its outbox row.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/gateway/store/context.hpp"
#include "labgate/gateway/store/records.hpp"

namespace labgate::gateway::store {

/// Filter of list_events and list_sessions; unset fields do not filter.
/// Newest first, at most `limit` rows.
struct HistoryFilter {
  std::optional<std::string> member_no{};
  std::optional<std::string> machine_id{};
  std::optional<std::string> door_id{};   ///< events only
  std::optional<std::int64_t> from_ms{};  ///< inclusive
  std::optional<std::int64_t> to_ms{};    ///< exclusive
  bool open_only{false};                  ///< sessions only
  std::int64_t limit{100};
};

/// What the tap path writes when a session opens.
struct NewSession {
  std::string uuid;
  std::int64_t member_id{0};
  std::optional<std::string> machine_id;  ///< required for kMachine, absent for kCoworking
  SessionKind kind{SessionKind::kMachine};
  std::int64_t started_at_ms{0};
};

/// Which session to close: by uuid or by id.
struct SessionRef {
  std::optional<std::string> uuid;
  std::optional<std::int64_t> id;
};

/// Result of the writes that record an event: the event's sequence number and the row touched.
struct SessionWrite {
  std::int64_t seq{0};
  Session session;
};

/// A session as the ward report counts it.
struct SessionSpan {
  std::int64_t member_id{0};
  std::optional<std::string> machine_id;  ///< absent for coworking
  bool coworking{false};
  std::int64_t started_at_ms{0};
  std::optional<std::int64_t> ended_at_ms;
};

/// Builds an outbox payload once the sequence number is known.
using PayloadBuilder = std::function<std::string(std::int64_t seq)>;

/// Events, sessions, outbox, heartbeat and command nonces. Obtained from Store::events().
class EventLog : public Repository {
 public:
  /// A view over `context`.
  explicit EventLog(const StoreContext& context) : Repository(context) {}

  // ---- sessions the tap path reads ----

  /// The open session on a machine.
  Result<std::optional<Session>> open_session_for_machine(std::string_view machine_id);
  /// The member's open coworking session.
  Result<std::optional<Session>> open_coworking_session(std::int64_t member_id);

  // ---- tap path writes: event + outbox in one transaction, gapless sequence ----

  /// Records the event and its outbox row; returns the sequence number assigned to both.
  Result<std::int64_t> record_access(const AccessEvent& event, const OutboxMessage& outbox);
  /// As above, the payload built from the assigned sequence number.
  Result<std::int64_t> record_access(const AccessEvent& event, std::string topic, bool retain,
                                     const PayloadBuilder& payload);
  /// Opens a session and records its event + outbox row, stamping the rate in force at its start.
  /// kConstraint when the machine (or the member's coworking) already has an open session.
  /// Renews by-use certifications.
  Result<SessionWrite> open_session(const NewSession& session, const AccessEvent& event,
                                    const OutboxMessage& outbox);
  /// As above, the payload built from the assigned sequence number.
  Result<SessionWrite> open_session(const NewSession& session, const AccessEvent& event,
                                    std::string topic, bool retain, const PayloadBuilder& payload);
  /// Closes an open session at `ended_at_ms` (never before its start) and records the event +
  /// outbox row. measured_seconds defaults to the whole duration; busy_seconds (time the
  /// machine's busy input was on, for busy/idle rates) stays NULL when not given. kConflict if
  /// already closed.
  Result<SessionWrite> close_session(const SessionRef& ref, std::int64_t ended_at_ms,
                                     std::string_view reason,
                                     std::optional<std::int64_t> measured_seconds,
                                     const AccessEvent& event, const OutboxMessage& outbox,
                                     std::optional<std::int64_t> busy_seconds = std::nullopt);
  /// As above, the payload built from the assigned sequence number.
  Result<SessionWrite> close_session(const SessionRef& ref, std::int64_t ended_at_ms,
                                     std::string_view reason,
                                     std::optional<std::int64_t> measured_seconds,
                                     const AccessEvent& event, std::string topic, bool retain,
                                     const PayloadBuilder& payload,
                                     std::optional<std::int64_t> busy_seconds = std::nullopt);
  /// Records the daemon's liveness time (used by recover_open_sessions).
  Status write_heartbeat(std::int64_t now_ms);
  /// Last heartbeat time, if any.
  Result<std::optional<std::int64_t>> last_heartbeat();
  /// At start-up: closes every open session at the last heartbeat (never before its start) with
  /// `reason`, in one transaction, and returns the closed sessions. The daemon then records
  /// their events with record_access.
  Result<std::vector<Session>> recover_open_sessions(
      std::string_view reason = "power_loss_recovered");

  // ---- outbox ----

  /// Appends an outbox row alone (retained state messages); returns its sequence number.
  Result<std::int64_t> append_outbox(const OutboxMessage& message, std::int64_t created_at_ms);
  /// As above, the payload built from the assigned sequence number.
  Result<std::int64_t> append_outbox(std::string topic, bool retain, const PayloadBuilder& payload,
                                     std::int64_t created_at_ms);
  /// Unsent rows with seq > after_seq, in seq order, at most `limit`.
  Result<std::vector<OutboxRow>> fetch_unsent(std::int64_t after_seq, std::int64_t limit);
  /// Marks rows sent, all in one transaction.
  Status mark_sent(std::span<const std::int64_t> seqs, std::int64_t sent_at_ms);
  /// Deletes rows sent before `older_than_ms`; returns how many.
  Result<std::int64_t> prune_sent(std::int64_t older_than_ms);
  /// Number of unsent rows.
  Result<std::int64_t> unsent_count();
  /// The last sequence number assigned (0 before the first).
  Result<std::int64_t> last_seq();

  // ---- signed MQTT commands ----

  /// Durably remembers the nonce of an accepted command until `forget_after_ms`, first
  /// forgetting the nonces whose time is before `now_ms`. One small transaction: true when
  /// recorded, false when the nonce is already remembered (a replay, also across a restart).
  Result<bool> remember_command_nonce(std::string_view nonce, std::int64_t forget_after_ms,
                                      std::int64_t now_ms);
  /// Number of nonces remembered (tests and status).
  Result<std::int64_t> command_nonce_count();

  // ---- history ----

  /// Access events, newest first.
  Result<std::vector<AccessEvent>> list_events(const HistoryFilter& filter);
  /// Sessions, newest first.
  Result<std::vector<Session>> list_sessions(const HistoryFilter& filter);

  // ---- report reads (in start order; the report's sweep line relies on it) ----

  /// The first session start or event, whichever is earlier.
  Result<std::optional<std::int64_t>> first_activity_ms();
  /// Sessions open or longer than 24 h that started before `started_before_ms` and did not end
  /// by `ending_after_ms`, by start.
  Status scan_long_sessions(std::int64_t started_before_ms, std::int64_t ending_after_ms,
                            const std::function<void(SessionSpan&&)>& sink);
  /// Sessions starting in [from_ms, to_ms), by start.
  Status scan_sessions_started(std::int64_t from_ms, std::int64_t to_ms,
                               const std::function<void(SessionSpan&&)>& sink);
  /// Granted door events of members in [from_ms, to_ms): (member id, time).
  Status scan_door_grants(
      std::int64_t from_ms, std::int64_t to_ms,
      const std::function<void(std::int64_t member_id, std::int64_t at_ms)>& sink);

 private:
  Result<std::int64_t> next_seq();
  Status insert_event(AccessEvent& event);
  Status insert_outbox(std::int64_t seq, const OutboxMessage& message, std::int64_t created_at_ms);
  // Builds the payload for `seq` (a throwing builder is an invalid write) and inserts the row.
  Status insert_outbox(std::int64_t seq, std::string topic, bool retain,
                       const PayloadBuilder& payload, std::int64_t created_at_ms);
  Result<Session> session_by_ref(const SessionRef& ref);
};

}  // namespace labgate::gateway::store
