#pragma once
// Authenticated remote commands (DESIGN §4).
//
// Wire format, on topic `labgate/v1/<site>/<gateway>/cmd/<name>`:
//
//   {"body": "<inner JSON as a string>", "mac": "<64 lowercase hex digits>"}
//
// inner JSON: {"id": "<1-64 of [A-Za-z0-9_.:-]>", "ts": <unix ms, integer>,
//              "nonce": "<hex, 16-64 bytes>", "args": {...}, "by": "<issuer, optional>"}
//
// mac = crypto_auth (HMAC-SHA-512-256, libsodium) under the 32-byte site command key over the
// bytes   topic + "\n" + body   where `topic` is the full topic the message was published on
// and `body` is the decoded value of the "body" string, byte for byte. Signing the string the
// signer produced (instead of a re-serialisation) makes the canonical form trivial and binds the
// command to one gateway and one command name.
//
// Commands and their args (unknown keys are rejected):
//   door_unlock      {"door": "<id>"}                       one strike pulse
//   machine_lockout  {"machine": "<id>", "reason": "<text>"} staff lockout
//   machine_release  {"machine": "<id>"}                    end a staff lockout
//   all_stop         {"reason": "<text>"} (reason optional) cut every machine
//   reload           {}                                      re-read configuration and store

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace labgate::gateway::mqtt {

/// The site command key (crypto_auth_KEYBYTES = 32 bytes).
using CommandKey = std::array<unsigned char, 32>;

/// Parses a key written as 64 hex digits (surrounding whitespace ignored); nullopt otherwise.
std::optional<CommandKey> parse_command_key(std::string_view hex);

/// The commands a gateway understands.
enum class CommandKind { kDoorUnlock, kMachineLockout, kMachineRelease, kAllStop, kReload };

/// Topic name of a command ("door_unlock", ...).
const char* to_string(CommandKind kind);
/// Parses a command name; nullopt when unknown.
std::optional<CommandKind> parse_command_kind(std::string_view name);

/// A command that passed every check.
struct Command {
  CommandKind kind{CommandKind::kReload};
  std::string id;  ///< caller's request id, used in the reply topic
  std::int64_t ts_ms{0};
  std::string nonce;   ///< lowercase hex
  std::string by;      ///< issuer named in the body ("" when absent), for the audit log
  std::string target;  ///< door id or machine id ("" for all_stop / reload)
  std::string reason;  ///< lockout / all_stop reason ("" when absent)
};

/// Why a command was refused. Stable names (see to_string) are sent in replies.
enum class RejectReason {
  kOversized,        ///< payload larger than the limit
  kMalformed,        ///< not the envelope or body described above
  kBadMac,           ///< MAC missing, malformed or wrong
  kStale,            ///< timestamp outside the allowed skew
  kReplayed,         ///< nonce already seen within the window
  kReplayCacheFull,  ///< too many fresh nonces to remember; fail closed
  kNotRecorded,      ///< the nonce could not be recorded durably; fail closed
  kUnknownCommand,   ///< topic names no known command, or is not a command topic
  kBadArgs,          ///< args missing, of the wrong type, or with unknown keys
};

/// Stable reply name: "oversized", "malformed", "bad_mac", "stale", "replayed",
/// "replay_cache_full", "not_recorded", "unknown_command", "bad_args".
const char* to_string(RejectReason reason);

/// Outcome of CommandVerifier::verify().
struct VerifyResult {
  std::optional<Command> command;                 ///< set when accepted
  RejectReason reason{RejectReason::kMalformed};  ///< meaningful when rejected
  /// Request id to answer on when rejected and the body carried a well-formed id ("" if not).
  /// Unauthenticated when reason is kBadMac.
  std::string reply_id;
  std::string detail;  ///< human-readable detail for the log
  bool ok() const { return command.has_value(); }
};

/// Limits of the verifier.
struct VerifierConfig {
  std::size_t max_payload{4096};
  std::chrono::milliseconds max_skew{30'000};
  std::size_t replay_capacity{4096};
};

/// Durable memory of the nonces a verifier accepted, so that a command captured on the wire is
/// refused as a replay after the daemon restarts too (the daemon keeps it in SQLite).
class NonceJournal {
 public:
  /// Outcome of record().
  enum class Outcome {
    kRecorded,     ///< durably remembered until `forget_after_ms`
    kAlreadySeen,  ///< already remembered and not yet forgotten: the message is a replay
    kFailed,       ///< could not be recorded (storage error)
  };
  virtual ~NonceJournal() = default;
  /// Remembers `nonce` until `forget_after_ms` (unix ms), in one durable write that checks and
  /// records at once; may forget entries whose time is before `now_ms`. Returns only once the
  /// nonce is committed, so the command it authorises can act after it.
  virtual Outcome record(std::string_view nonce, std::int64_t forget_after_ms,
                         std::int64_t now_ms) = 0;
};

/// Checks command messages. No I/O and no clock of its own (time is passed in). It remembers
/// each accepted nonce until its timestamp is older than the allowed skew, so a replay is
/// rejected for as long as its timestamp would pass: in memory, and, when a NonceJournal is
/// given, durably across restarts.
class CommandVerifier {
 public:
  /// `journal`, when given, must outlive the verifier; a nonce it reports as seen is a replay,
  /// and a nonce it cannot record is refused (kNotRecorded).
  CommandVerifier(const CommandKey& key, std::string command_prefix, VerifierConfig config = {},
                  NonceJournal* journal = nullptr);

  /// Verifies one message. `command_prefix` given at construction is `<root>cmd/`; the command
  /// name is the rest of `topic`. `now_ms` is the gateway's wall clock in unix ms.
  VerifyResult verify(std::string_view topic, std::string_view payload, std::int64_t now_ms);

  /// Nonces currently remembered.
  std::size_t replay_cache_size() const { return seen_.size(); }

 private:
  void prune(std::int64_t now_ms);

  CommandKey key_;
  std::string prefix_;
  VerifierConfig config_;
  NonceJournal* journal_;
  std::unordered_map<std::string, std::int64_t> seen_;  // nonce -> forget after (unix ms)
  std::int64_t next_prune_ms_{0};
};

/// Builds a signed command payload for `topic` (the full `<root>cmd/<name>` topic).
/// `args_json` must be a JSON object text; throws std::invalid_argument otherwise. A random
/// 16-byte nonce is generated when `nonce_hex` is empty. Returns the message payload.
std::string sign_command(const CommandKey& key, const std::string& topic, const std::string& id,
                         std::int64_t ts_ms, const std::string& args_json,
                         const std::string& nonce_hex = "", const std::string& by = "");

/// Computes the MAC hex over `topic + "\n" + body` (exposed for tests and other tools).
std::string command_mac(const CommandKey& key, std::string_view topic, std::string_view body);

/// Current wall clock in unix ms.
std::int64_t unix_ms_now();

}  // namespace labgate::gateway::mqtt
