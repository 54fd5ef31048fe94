#include "labgate/gateway/mqtt/payloads.hpp"

#include <sodium.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace labgate::gateway::mqtt {

namespace {

using Json = nlohmann::ordered_json;

// The daemon's messages keep their keys sorted (nlohmann::json's std::map): see the header.
using SortedJson = nlohmann::json;

template <typename J>
J header_of(const EventHeader& h) {
  J j;
  j["event_id"] = h.event_id;
  j["seq"] = h.seq;
  j["time"] = iso8601_utc(h.time);
  return j;
}

template <typename J>
J header_json(const Topics& topics, const EventHeader& h) {
  J j = header_of<J>(h);
  j["site"] = topics.site();
  j["gateway"] = topics.gateway();
  return j;
}

void put_optional(Json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

void put_optional(SortedJson& j, const char* key, const std::optional<std::string>& value) {
  if (value) j[key] = *value;
}

// Invalid UTF-8 in a member-supplied string must not throw inside the store transaction.
template <typename J>
std::string dump(const J& j) {
  return j.dump(-1, ' ', false, J::error_handler_t::replace);
}

}  // namespace

std::string new_event_id() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium failed to initialise");
  unsigned char raw[16];
  randombytes_buf(raw, sizeof raw);
  char hex[sizeof raw * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  return hex;
}

std::string iso8601_utc(std::chrono::system_clock::time_point tp) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(tp.time_since_epoch());
  const auto secs = floor<seconds>(ms);
  const auto millis = (ms - secs).count();
  const std::time_t t = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

OutboxMessage door_event_message(const Topics& topics, const EventHeader& header,
                                 const DoorEvent& event) {
  Json j = header_json<Json>(topics, header);
  j["door"] = event.door;
  j["kind"] = event.kind;
  put_optional(j, "member", event.member);
  put_optional(j, "credential", event.credential);
  put_optional(j, "reader", event.reader);
  put_optional(j, "reason", event.reason);
  return {topics.door_event(event.door), dump(j), false};
}

OutboxMessage machine_session_message(const Topics& topics, const EventHeader& header,
                                      const MachineSession& session) {
  Json j = header_json<Json>(topics, header);
  j["machine"] = session.machine;
  j["session_id"] = session.session_id;
  j["member"] = session.member;
  j["phase"] = session.phase;
  j["started"] = iso8601_utc(session.started);
  if (session.ended) j["ended"] = iso8601_utc(*session.ended);
  put_optional(j, "end_reason", session.end_reason);
  if (session.measured_seconds) j["measured_seconds"] = *session.measured_seconds;
  return {topics.machine_session(session.machine), dump(j), false};
}

OutboxMessage door_state_message(const Topics& topics, const EventHeader& header,
                                 const DoorState& state) {
  Json j = header_json<Json>(topics, header);
  j["door"] = state.door;
  j["lock"] = state.lock;
  j["contact"] = state.contact;
  put_optional(j, "mode", state.mode);
  return {topics.door_state(state.door), dump(j), true};
}

OutboxMessage machine_state_message(const Topics& topics, const EventHeader& header,
                                    const MachineState& state) {
  Json j = header_json<Json>(topics, header);
  j["machine"] = state.machine;
  j["state"] = state.state;
  j["powered"] = state.powered;
  // Always present (null when free) so Home Assistant's template sees the user leave.
  j["user"] = state.user.empty() ? Json(nullptr) : Json(state.user);
  put_optional(j, "reason", state.reason);
  return {topics.machine_state(state.machine), dump(j), true};
}

OutboxMessage alarm_message(const Topics& topics, const EventHeader& header, const Alarm& alarm) {
  Json j = header_json<Json>(topics, header);
  j["kind"] = alarm.kind;
  j["severity"] = alarm.severity;
  j["source"] = alarm.source;
  put_optional(j, "detail", alarm.detail);
  return {topics.alarm(), dump(j), false};
}

std::string gateway_event_payload(const Topics& topics, const EventHeader& header,
                                  const GatewayEvent& e) {
  auto j = header_json<SortedJson>(topics, header);
  j["kind"] = e.kind;
  j["decision"] = e.decision;
  j["reason"] = e.reason;
  put_optional(j, "reader", e.reader);
  put_optional(j, "door", e.door);
  put_optional(j, "machine", e.machine);
  put_optional(j, "member", e.member);
  if (!e.detail.empty()) j["detail"] = e.detail;
  put_optional(j, "session", e.session);
  if (e.seconds) j["seconds"] = *e.seconds;
  return dump(j);
}

std::string door_status_payload(const EventHeader& header, const DoorStatus& status) {
  auto j = header_of<SortedJson>(header);
  j["door"] = status.door;
  j["state"] = status.state;
  j["strike"] = status.strike_released ? "released" : "locked";
  return dump(j);
}

std::string machine_status_payload(const EventHeader& header, const MachineStatus& status) {
  auto j = header_of<SortedJson>(header);
  j["machine"] = status.machine;
  j["state"] = status.state;
  j["relay"] = status.relay;
  j["user"] = status.user ? SortedJson(*status.user) : SortedJson(nullptr);
  return dump(j);
}

std::string stable_event_id(const Topics& topics, std::int64_t seq) {
  // FNV-1a of "site/gateway": stable across restarts.
  std::uint64_t h = 14695981039346656037ull;
  for (char c : topics.site() + "/" + topics.gateway()) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  char id[33];
  std::snprintf(id, sizeof id, "%016llx%016llx", static_cast<unsigned long long>(h),
                static_cast<unsigned long long>(static_cast<std::uint64_t>(seq)));
  return id;
}

}  // namespace labgate::gateway::mqtt
