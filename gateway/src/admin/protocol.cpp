#include "labgate/gateway/admin/protocol.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "labgate/gateway/text/text.hpp"

namespace labgate::gateway::admin {

using nlohmann::json;

namespace {

constexpr std::array<std::pair<Op, std::string_view>, 12> kOps{{
    {Op::kStatus, "status"},
    {Op::kUnlock, "unlock"},
    {Op::kLockout, "lockout"},
    {Op::kRelease, "release"},
    {Op::kConfirm, "confirm"},
    {Op::kAllStop, "all-stop"},
    {Op::kEnroll, "enroll"},
    {Op::kEnrollStatus, "enroll-status"},
    {Op::kEnrollCancel, "enroll-cancel"},
    {Op::kReload, "reload"},
    {Op::kSubscribe, "subscribe"},
    {Op::kChange, "change"},
}};

constexpr std::size_t kMaxIdBytes = 128;

// Door and machine ids are config ids; anything else cannot name one, so it is refused here
// rather than looked up.
bool valid_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

// A reason goes into the audit log and the store: the one text validator decides, so it can
// never carry a line break or a terminal escape into either.
bool valid_reason(std::string_view s) {
  return !s.empty() && !text::check(text::Field::kReason, s);
}

Error refuse(ErrorCode code, std::string message, json id = nullptr) {
  return Error{code, std::move(message), std::move(id)};
}

// A required string member, checked by `valid`; empty optional when it is fine.
std::optional<Error> take_string(const json& j, const char* key, std::string& out,
                                 bool (*valid)(std::string_view), const json& id) {
  auto it = j.find(key);
  if (it == j.end()) {
    return refuse(ErrorCode::kBadRequest, std::string("missing \"") + key + "\"", id);
  }
  if (!it->is_string()) {
    return refuse(ErrorCode::kBadRequest, std::string("\"") + key + "\" must be a string", id);
  }
  out = it->get<std::string>();
  if (!valid(out)) {
    return refuse(ErrorCode::kBadRequest, std::string("invalid \"") + key + "\"", id);
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(Op op) {
  for (const auto& [o, name] : kOps) {
    if (o == op) return name;
  }
  return "unknown";
}

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadJson:
      return "bad_json";
    case ErrorCode::kBadVersion:
      return "bad_version";
    case ErrorCode::kUnknownOp:
      return "unknown_op";
    case ErrorCode::kBadRequest:
      return "bad_request";
    case ErrorCode::kTooLong:
      return "too_long";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kForbidden:
      return "forbidden";
    case ErrorCode::kOverloaded:
      return "overloaded";
  }
  return "bad_request";
}

bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '@';
  });
}

std::variant<Request, Error> parse_request(std::string_view line) {
  if (line.size() > kMaxLineBytes) {
    return refuse(ErrorCode::kTooLong,
                  "request longer than " + std::to_string(kMaxLineBytes) + " bytes");
  }
  // Invalid UTF-8 is a parse error (nlohmann-json checks it), never a stored string.
  json j = json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return refuse(ErrorCode::kBadJson, "a request is one JSON object on one line");
  }
  json id = nullptr;
  if (auto it = j.find("id"); it != j.end()) {
    // Echoed back verbatim, so it is bounded and scalar.
    if (!(it->is_string() || it->is_number_integer()) ||
        (it->is_string() && it->get_ref<const std::string&>().size() > kMaxIdBytes)) {
      return refuse(ErrorCode::kBadRequest, "\"id\" must be an integer or a short string");
    }
    id = *it;
  }
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer() || v->get<std::int64_t>() != kProtocolVersion) {
    return refuse(ErrorCode::kBadVersion,
                  "\"v\" must be " + std::to_string(kProtocolVersion) + " (protocol version)", id);
  }
  auto op = j.find("op");
  if (op == j.end() || !op->is_string()) {
    return refuse(ErrorCode::kUnknownOp, "missing \"op\"", id);
  }
  Request r;
  r.id = id;
  const auto& verb = op->get_ref<const std::string&>();
  auto known = std::find_if(kOps.begin(), kOps.end(),
                            [&](const auto& entry) { return entry.second == verb; });
  if (known == kOps.end()) {
    return refuse(ErrorCode::kUnknownOp,
                  "unknown op (status, unlock, lockout, release, confirm, all-stop, reload, "
                  "subscribe, change, enroll, enroll-status, enroll-cancel)",
                  id);
  }
  r.op = known->first;
  if (auto e = take_string(j, "as", r.as, &valid_user_name, id)) {
    e->message += ": every request names the acting staff user (1-64 of A-Z a-z 0-9 . _ @ -)";
    return *e;
  }
  switch (r.op) {
    case Op::kUnlock:
      if (auto e = take_string(j, "door", r.door, &valid_id, id)) return *e;
      break;
    case Op::kLockout:
      if (auto e = take_string(j, "machine", r.machine, &valid_id, id)) return *e;
      r.reason = "staff";
      if (j.contains("reason")) {
        if (auto e = take_string(j, "reason", r.reason, &valid_reason, id)) return *e;
      }
      break;
    case Op::kRelease:
    case Op::kConfirm:
      if (auto e = take_string(j, "machine", r.machine, &valid_id, id)) return *e;
      break;
    case Op::kEnroll:
      if (auto e = take_string(j, "member_no", r.member_no, &valid_id, id)) return *e;
      if (auto t = j.find("timeout_s"); t != j.end()) {
        if (!t->is_number_integer() || t->get<std::int64_t>() < 1 || t->get<std::int64_t>() > 600) {
          return refuse(ErrorCode::kBadRequest, "\"timeout_s\" must be 1..600 seconds", id);
        }
        r.timeout_s = t->get<int>();
      }
      [[fallthrough]];
    case Op::kEnrollStatus:
    case Op::kEnrollCancel:
      if (auto e = take_string(j, "reader", r.reader, &valid_id, id)) return *e;
      break;
    case Op::kChange: {
      // What the change may hold is checked where it is applied, by the store, as for a
      // change made any other way; here only its shape.
      auto it = j.find("change");
      if (it == j.end() || !it->is_object() || !it->contains("op") || !(*it)["op"].is_string()) {
        return refuse(ErrorCode::kBadRequest,
                      "\"change\" must be an object {\"op\": ..., \"args\": {...}}", id);
      }
      r.change = std::move(*it);
      break;
    }
    default:
      break;
  }
  return r;
}

std::string error_line(const Error& error) {
  json j{{"v", kProtocolVersion},
         {"id", error.id},
         {"ok", false},
         {"code", to_string(error.code)},
         {"error", error.message}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string ok_line(const Request& request, const json& data) {
  json j{{"v", kProtocolVersion}, {"id", request.id}, {"ok", true}, {"op", to_string(request.op)}};
  if (data.is_object()) {
    for (auto it = data.begin(); it != data.end(); ++it) j[it.key()] = it.value();
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string stream_line(const StreamEvent& event) {
  json data = json::parse(event.payload, nullptr, false);
  if (data.is_discarded()) data = event.payload;
  // Some rows are written before the store assigns their seq (sessions): the payload's own
  // "seq" then reads 0. The MQTT bridge patches it at publish time; the stream does the same.
  if (data.is_object() && data.contains("seq")) data["seq"] = event.seq;
  json j{{"v", kProtocolVersion},
         {"stream", event.state ? "state" : "event"},
         {"seq", event.seq},
         {"topic", event.topic},
         {"data", std::move(data)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

bool peer_allowed(const PeerCredentials& peer, const AccessRule& rule) {
  if (peer.uid == 0 || peer.uid == rule.daemon_uid) return true;
  if (peer.gid == rule.admin_gid) return true;
  return std::find(peer.groups.begin(), peer.groups.end(), rule.admin_gid) != peer.groups.end();
}

std::string actor_label(const std::string& as, uid_t uid) {
  return as + "@uid:" + std::to_string(uid);
}

}  // namespace labgate::gateway::admin
