#pragma once
// Event payloads of DESIGN §4. Pure functions: the daemon calls them inside the store
// transaction that records an event and writes the result as the event's outbox row.
//
// Every payload is a JSON object that starts with
//   "event_id": "<32 hex digits, unique>", "seq": <per-gateway sequence>,
//   "time": "<ISO-8601 UTC, millisecond precision, e.g. 2024-05-01T03:04:05.678Z>",
//   "site": "<site>", "gateway": "<gateway>"
// followed by the fields of the event. Optional fields are omitted when empty.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "labgate/gateway/mqtt/topics.hpp"

namespace labgate::gateway::mqtt {

/// A message ready for the outbox (or, for discovery, for a direct retained publish).
struct OutboxMessage {
  std::string topic;
  std::string payload;
  bool retain{false};
};

/// Identity and time of one event.
struct EventHeader {
  std::string event_id;  ///< from new_event_id(); consumers de-duplicate on it
  std::int64_t seq{0};   ///< per-gateway sequence number (the outbox order)
  std::chrono::system_clock::time_point time{};
};

/// A fresh random event id: 32 lowercase hex digits (128 bits from libsodium).
std::string new_event_id();

/// `tp` as ISO-8601 UTC with milliseconds: "YYYY-MM-DDThh:mm:ss.sssZ".
std::string iso8601_utc(std::chrono::system_clock::time_point tp);

/// Something that happened at a door.
struct DoorEvent {
  std::string door;        ///< door id
  std::string kind;        ///< "granted", "denied", "exit_button", "forced_open", "held_open",
                           ///< "closed", "remote_unlock", "fire_release", "fire_restore"
  std::string member;      ///< member id when known
  std::string credential;  ///< keyed hash of the card identifier when a card was shown
  std::string reader;      ///< reader id when a card was shown
  std::string reason;      ///< denial reason ("expired", "outside_hours", ...) or detail
};
/// `<root>door/<id>/event`, not retained.
OutboxMessage door_event_message(const Topics& topics, const EventHeader& header,
                                 const DoorEvent& event);

/// Start or end of a machine session.
struct MachineSession {
  std::string machine;     ///< machine id
  std::string session_id;  ///< the store's session id
  std::string member;      ///< member id
  std::string phase;       ///< "start" or "end"
  std::chrono::system_clock::time_point started{};
  std::optional<std::chrono::system_clock::time_point> ended;  ///< set for "end"
  std::string end_reason;  ///< "tap_off", "card_removed", "idle", "max_duration", "staff",
                           ///< "fire_alarm", "power_loss_recovered"
  std::optional<std::int64_t> measured_seconds;  ///< set for "end"
};
/// `<root>machine/<id>/session`, not retained.
OutboxMessage machine_session_message(const Topics& topics, const EventHeader& header,
                                      const MachineSession& session);

/// Current state of a door.
struct DoorState {
  std::string door;
  std::string lock;     ///< "locked" or "unlocked"
  std::string contact;  ///< "open", "closed" or "unknown"
  std::string mode;     ///< "normal", "fire_release", "held_open", "forced_open", ...
};
/// `<root>door/<id>/state`, retained.
OutboxMessage door_state_message(const Topics& topics, const EventHeader& header,
                                 const DoorState& state);

/// Current state of a machine.
struct MachineState {
  std::string machine;
  std::string state;    ///< "startup", "idle", "in_use", "grace", "out_of_service", "check_off"
  bool powered{false};  ///< relay commanded on
  std::string user;     ///< member id while in use
  std::string reason;   ///< why out of service
};
/// `<root>machine/<id>/state`, retained.
OutboxMessage machine_state_message(const Topics& topics, const EventHeader& header,
                                    const MachineState& state);

// ---- what labgated publishes ----
// The daemon's wire format: one JSON object per message with its keys in alphabetical order
// (consumers and the integration tests read it so). Each is built once, inside the store
// transaction that assigns its sequence number, so the number in the payload is the outbox
// row's own.

/// One recorded event (tap, door event, session start or end, alarm), as published.
struct GatewayEvent {
  std::string kind;      ///< "tap_entry", "tap_machine", "session_started", "fire_alarm", ...
  std::string decision;  ///< "granted", "denied" or "info"
  std::string reason;    ///< policy reason code, end reason, "ok", "alarm", ...
  std::optional<std::string> reader;
  std::optional<std::string> door;
  std::optional<std::string> machine;
  std::optional<std::string> member;    ///< member number
  std::string detail;                   ///< omitted when empty
  std::optional<std::string> session;   ///< "open" / "closed" on a machine session's event
  std::optional<std::int64_t> seconds;  ///< measured seconds of a closed machine session
};
/// `header` carries the event's uuid, its sequence number and when it happened.
std::string gateway_event_payload(const Topics& topics, const EventHeader& header,
                                  const GatewayEvent& event);

/// A door's state as labgated retains it on `<root>door/<id>/state`.
struct DoorStatus {
  std::string door;
  std::string state;  ///< firmware state name ("locked", "unlocked", "held_open", ...)
  bool strike_released{false};
};
std::string door_status_payload(const EventHeader& header, const DoorStatus& status);

/// A machine's state as labgated retains it on `<root>machine/<id>/state`.
struct MachineStatus {
  std::string machine;
  std::string state;  ///< firmware state name
  bool relay{false};
  std::optional<std::string> user;  ///< member number of the session's holder; null when free
};
std::string machine_status_payload(const EventHeader& header, const MachineStatus& status);

/// The event id of a message that has no event of its own (a retained state): derived from the
/// site, gateway and sequence number, so a row re-sent after a crash keeps its id.
std::string stable_event_id(const Topics& topics, std::int64_t seq);

/// An alarm.
struct Alarm {
  std::string kind;      ///< "forced_open", "held_open", "fire_alarm", "plug_unconfirmed", ...
  std::string severity;  ///< "info", "warning" or "critical"
  std::string source;    ///< door, machine or gateway id
  std::string detail;
};
/// `<root>alarm`, not retained.
OutboxMessage alarm_message(const Topics& topics, const EventHeader& header, const Alarm& alarm);

}  // namespace labgate::gateway::mqtt
