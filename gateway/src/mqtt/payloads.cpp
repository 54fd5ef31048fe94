#include "labgate/gateway/mqtt/payloads.hpp"

#include <sodium.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace labgate::gateway::mqtt {

namespace {

using Json = nlohmann::ordered_json;

Json header_json(const Topics& topics, const EventHeader& h) {
  Json j;
  j["event_id"] = h.event_id;
  j["seq"] = h.seq;
  j["time"] = iso8601_utc(h.time);
  j["site"] = topics.site();
  j["gateway"] = topics.gateway();
  return j;
}

void put_optional(Json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

// Invalid UTF-8 in a member-supplied string must not throw inside the store transaction.
std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
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
  Json j = header_json(topics, header);
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
  Json j = header_json(topics, header);
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
  Json j = header_json(topics, header);
  j["door"] = state.door;
  j["lock"] = state.lock;
  j["contact"] = state.contact;
  put_optional(j, "mode", state.mode);
  return {topics.door_state(state.door), dump(j), true};
}

OutboxMessage machine_state_message(const Topics& topics, const EventHeader& header,
                                    const MachineState& state) {
  Json j = header_json(topics, header);
  j["machine"] = state.machine;
  j["state"] = state.state;
  j["powered"] = state.powered;
  // Always present (null when free) so Home Assistant's template sees the user leave.
  j["user"] = state.user.empty() ? Json(nullptr) : Json(state.user);
  put_optional(j, "reason", state.reason);
  return {topics.machine_state(state.machine), dump(j), true};
}

OutboxMessage alarm_message(const Topics& topics, const EventHeader& header, const Alarm& alarm) {
  Json j = header_json(topics, header);
  j["kind"] = alarm.kind;
  j["severity"] = alarm.severity;
  j["source"] = alarm.source;
  put_optional(j, "detail", alarm.detail);
  return {topics.alarm(), dump(j), false};
}

}  // namespace labgate::gateway::mqtt
