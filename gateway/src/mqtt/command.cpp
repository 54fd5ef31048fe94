#include "labgate/gateway/mqtt/command.hpp"

#include <sodium.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "labgate/gateway/mqtt/topics.hpp"
#include "labgate/gateway/text/text.hpp"

namespace labgate::gateway::mqtt {

namespace {

using Json = nlohmann::json;

constexpr std::size_t kMaxIdLength = 64;
constexpr std::size_t kMinNonceBytes = 16;
constexpr std::size_t kMaxNonceBytes = 64;
constexpr std::size_t kMaxReasonLength = 200;
constexpr std::size_t kMaxByLength = 64;
constexpr std::int64_t kPruneEveryMs = 1000;

void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium failed to initialise");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict: only hex digits, even length. Returns lowercase text, or nullopt.
std::optional<std::string> normalise_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out(text);
  for (char& c : out) {
    if (hex_value(c) < 0) return std::nullopt;
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0x0f]);
  }
  return out;
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

VerifyResult reject(RejectReason reason, std::string reply_id, std::string detail) {
  VerifyResult r;
  r.reason = reason;
  r.reply_id = std::move(reply_id);
  r.detail = std::move(detail);
  return r;
}

bool only_keys(const Json& obj, std::initializer_list<std::string_view> allowed) {
  for (const auto& item : obj.items()) {
    bool known = false;
    for (auto k : allowed) known = known || item.key() == k;
    if (!known) return false;
  }
  return true;
}

// Reads an optional bounded string member; false when present but not a fitting string or
// not text the one validator accepts for `field` (no control characters: it reaches the audit
// log, the store and terminals).
bool optional_text(const Json& obj, const char* key, std::size_t max, text::Field field,
                   std::string& out) {
  auto it = obj.find(key);
  if (it == obj.end()) return true;
  if (!it->is_string()) return false;
  const auto& s = it->get_ref<const std::string&>();
  if (s.empty() || s.size() > max || text::check(field, s)) return false;
  out = s;
  return true;
}

bool required_segment(const Json& obj, const char* key, std::string& out) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return false;
  const auto& s = it->get_ref<const std::string&>();
  if (!valid_topic_segment(s)) return false;
  out = s;
  return true;
}

bool parse_args(CommandKind kind, const Json& args, Command& cmd) {
  if (!args.is_object()) return false;
  switch (kind) {
    case CommandKind::kDoorUnlock:
      return only_keys(args, {"door"}) && required_segment(args, "door", cmd.target);
    case CommandKind::kMachineLockout:
      return only_keys(args, {"machine", "reason"}) &&
             required_segment(args, "machine", cmd.target) && args.contains("reason") &&
             optional_text(args, "reason", kMaxReasonLength, text::Field::kReason, cmd.reason);
    case CommandKind::kMachineRelease:
      return only_keys(args, {"machine"}) && required_segment(args, "machine", cmd.target);
    case CommandKind::kAllStop:
      return only_keys(args, {"reason"}) &&
             optional_text(args, "reason", kMaxReasonLength, text::Field::kReason, cmd.reason);
    case CommandKind::kReload:
      return args.empty();
  }
  return false;
}

}  // namespace

std::optional<CommandKey> parse_command_key(std::string_view hex) {
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.front()))) {
    hex.remove_prefix(1);
  }
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back()))) {
    hex.remove_suffix(1);
  }
  CommandKey key{};
  if (hex.size() != key.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    key[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return key;
}

const char* to_string(CommandKind kind) {
  switch (kind) {
    case CommandKind::kDoorUnlock:
      return "door_unlock";
    case CommandKind::kMachineLockout:
      return "machine_lockout";
    case CommandKind::kMachineRelease:
      return "machine_release";
    case CommandKind::kAllStop:
      return "all_stop";
    case CommandKind::kReload:
      return "reload";
  }
  return "unknown";
}

std::optional<CommandKind> parse_command_kind(std::string_view name) {
  for (auto k : {CommandKind::kDoorUnlock, CommandKind::kMachineLockout,
                 CommandKind::kMachineRelease, CommandKind::kAllStop, CommandKind::kReload}) {
    if (name == to_string(k)) return k;
  }
  return std::nullopt;
}

const char* to_string(RejectReason reason) {
  switch (reason) {
    case RejectReason::kOversized:
      return "oversized";
    case RejectReason::kMalformed:
      return "malformed";
    case RejectReason::kBadMac:
      return "bad_mac";
    case RejectReason::kStale:
      return "stale";
    case RejectReason::kReplayed:
      return "replayed";
    case RejectReason::kReplayCacheFull:
      return "replay_cache_full";
    case RejectReason::kNotRecorded:
      return "not_recorded";
    case RejectReason::kUnknownCommand:
      return "unknown_command";
    case RejectReason::kBadArgs:
      return "bad_args";
  }
  return "rejected";
}

std::string command_mac(const CommandKey& key, std::string_view topic, std::string_view body) {
  ensure_sodium();
  std::string input;
  input.reserve(topic.size() + 1 + body.size());
  input.append(topic).append("\n").append(body);
  unsigned char mac[crypto_auth_BYTES];
  crypto_auth(mac, reinterpret_cast<const unsigned char*>(input.data()), input.size(), key.data());
  return to_hex(mac, sizeof mac);
}

std::string sign_command(const CommandKey& key, const std::string& topic, const std::string& id,
                         std::int64_t ts_ms, const std::string& args_json,
                         const std::string& nonce_hex, const std::string& by) {
  ensure_sodium();
  Json args = Json::parse(args_json, nullptr, false);
  if (args.is_discarded() || !args.is_object()) {
    throw std::invalid_argument("command args must be a JSON object");
  }
  std::string nonce = nonce_hex;
  if (nonce.empty()) {
    unsigned char raw[kMinNonceBytes];
    randombytes_buf(raw, sizeof raw);
    nonce = to_hex(raw, sizeof raw);
  }
  Json body = {{"id", id}, {"ts", ts_ms}, {"nonce", nonce}, {"args", std::move(args)}};
  if (!by.empty()) body["by"] = by;
  const std::string body_text = body.dump();
  Json envelope = {{"body", body_text}, {"mac", command_mac(key, topic, body_text)}};
  return envelope.dump();
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

CommandVerifier::CommandVerifier(const CommandKey& key, std::string command_prefix,
                                 VerifierConfig config, NonceJournal* journal)
    : key_(key), prefix_(std::move(command_prefix)), config_(config), journal_(journal) {
  ensure_sodium();
}

void CommandVerifier::prune(std::int64_t now_ms) {
  for (auto it = seen_.begin(); it != seen_.end();) {
    it = it->second < now_ms ? seen_.erase(it) : std::next(it);
  }
  next_prune_ms_ = now_ms + kPruneEveryMs;
}

VerifyResult CommandVerifier::verify(std::string_view topic, std::string_view payload,
                                     std::int64_t now_ms) {
  if (payload.size() > config_.max_payload) {
    return reject(RejectReason::kOversized, "",
                  "payload of " + std::to_string(payload.size()) + " bytes");
  }
  const Json envelope = Json::parse(payload.begin(), payload.end(), nullptr, false);
  if (envelope.is_discarded() || !envelope.is_object() || envelope.size() != 2 ||
      !envelope.contains("body") || !envelope.contains("mac") || !envelope["body"].is_string() ||
      !envelope["mac"].is_string()) {
    return reject(RejectReason::kMalformed, "", "envelope is not {\"body\",\"mac\"}");
  }
  const auto& body_text = envelope["body"].get_ref<const std::string&>();
  const auto& mac_text = envelope["mac"].get_ref<const std::string&>();

  // The id is read before authentication only so a rejection can be answered.
  const Json body = Json::parse(body_text, nullptr, false);
  std::string reply_id;
  if (body.is_object()) {
    auto it = body.find("id");
    if (it != body.end() && it->is_string() &&
        valid_request_id(it->get_ref<const std::string&>())) {
      reply_id = it->get<std::string>();
    }
  }

  unsigned char mac[crypto_auth_BYTES];
  bool mac_ok = mac_text.size() == 2 * sizeof mac;
  for (std::size_t i = 0; mac_ok && i < sizeof mac; ++i) {
    const int hi = hex_value(mac_text[2 * i]);
    const int lo = hex_value(mac_text[2 * i + 1]);
    mac_ok = hi >= 0 && lo >= 0;
    if (mac_ok) mac[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  if (mac_ok) {
    std::string input;
    input.reserve(topic.size() + 1 + body_text.size());
    input.append(topic).append("\n").append(body_text);
    mac_ok = crypto_auth_verify(mac, reinterpret_cast<const unsigned char*>(input.data()),
                                input.size(), key_.data()) == 0;
  }
  if (!mac_ok) return reject(RejectReason::kBadMac, reply_id, "MAC does not verify");

  if (!body.is_object() || reply_id.empty() ||
      !only_keys(body, {"id", "ts", "nonce", "args", "by"}) || !body.contains("ts") ||
      !body["ts"].is_number_integer() || !body.contains("nonce") || !body["nonce"].is_string() ||
      !body.contains("args")) {
    return reject(RejectReason::kMalformed, reply_id, "body lacks id/ts/nonce/args");
  }
  Command cmd;
  cmd.id = reply_id;
  cmd.ts_ms = body["ts"].get<std::int64_t>();
  if (!optional_text(body, "by", kMaxByLength, text::Field::kName, cmd.by)) {
    return reject(RejectReason::kMalformed, reply_id, "bad \"by\"");
  }
  const std::int64_t skew = config_.max_skew.count();
  // Written as two comparisons so an extreme ts cannot overflow a subtraction.
  if (cmd.ts_ms < now_ms - skew || cmd.ts_ms > now_ms + skew) {
    return reject(RejectReason::kStale, reply_id,
                  "timestamp " + std::to_string(cmd.ts_ms) + " vs now " + std::to_string(now_ms));
  }
  auto nonce = normalise_hex(body["nonce"].get_ref<const std::string&>());
  if (!nonce || nonce->size() < 2 * kMinNonceBytes || nonce->size() > 2 * kMaxNonceBytes) {
    return reject(RejectReason::kMalformed, reply_id, "nonce must be 16-64 bytes of hex");
  }
  if (now_ms >= next_prune_ms_) prune(now_ms);
  if (seen_.count(*nonce) != 0) return reject(RejectReason::kReplayed, reply_id, "nonce seen");
  if (seen_.size() >= config_.replay_capacity) {
    prune(now_ms);
    if (seen_.size() >= config_.replay_capacity) {
      return reject(RejectReason::kReplayCacheFull, reply_id, "replay cache full");
    }
  }
  // Remembered from here on even if the command turns out unusable: the sender holds the key,
  // and a replay of it must fail the same way or be refused as a replay.
  //
  // The journal is written before the command can act, and its answer is the durable check:
  // a nonce committed before a restart (or a crash) is refused after it, whatever this
  // process's memory holds. A crash after the commit and before the effect loses the command,
  // which is the safe side: the sender gets no reply and retries with a fresh nonce.
  if (journal_ != nullptr) {
    switch (journal_->record(*nonce, cmd.ts_ms + skew, now_ms)) {
      case NonceJournal::Outcome::kRecorded:
        break;
      case NonceJournal::Outcome::kAlreadySeen:
        seen_.emplace(*nonce, cmd.ts_ms + skew);
        return reject(RejectReason::kReplayed, reply_id, "nonce seen before a restart");
      case NonceJournal::Outcome::kFailed:
        return reject(RejectReason::kNotRecorded, reply_id, "nonce could not be recorded");
    }
  }
  seen_.emplace(*nonce, cmd.ts_ms + skew);
  cmd.nonce = std::move(*nonce);

  std::optional<CommandKind> kind;
  if (topic.size() > prefix_.size() && topic.substr(0, prefix_.size()) == prefix_) {
    kind = parse_command_kind(topic.substr(prefix_.size()));
  }
  if (!kind) {
    return reject(RejectReason::kUnknownCommand, reply_id, "topic " + std::string(topic));
  }
  cmd.kind = *kind;
  if (!parse_args(cmd.kind, body["args"], cmd)) {
    return reject(RejectReason::kBadArgs, reply_id,
                  std::string("bad args for ") + to_string(*kind));
  }
  VerifyResult ok;
  ok.command = std::move(cmd);
  ok.reply_id = ok.command->id;
  return ok;
}

}  // namespace labgate::gateway::mqtt
