#pragma once
// The admin channel's wire format: one JSON object per line, each carrying "v" (the protocol
// version). docs/ADMIN.md describes every request, reply and stream line.
//
// Parsing is pure (no I/O, no state) so hostile input can be tested and fuzzed on its own: a
// line either becomes a Request or an error reply, and nothing else happens.

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace labgate::gateway::admin {

/// The one protocol version this daemon speaks; a request with another "v" is refused.
inline constexpr int kProtocolVersion = 1;
/// Longest request line accepted (bytes, without the newline); a longer one closes the client.
inline constexpr std::size_t kMaxLineBytes = 4096;

/// What a request asks for.
enum class Op {
  kStatus,
  kUnlock,
  kLockout,
  kRelease,
  kConfirm,
  kAllStop,
  kReload,
  kSubscribe,
  kChange,        ///< a staff change of the store, as data (store/changes.hpp)
  kEnroll,        ///< arm a reader: its next card is enrolled for a member
  kEnrollStatus,  ///< how an enrolment at a reader stands
  kEnrollCancel,  ///< stop waiting for a card at a reader
};

/// The verb on the wire ("all-stop", ...).
std::string_view to_string(Op op);

/// One well-formed request.
struct Request {
  Op op{Op::kStatus};
  nlohmann::json id;      ///< echoed in the reply (null when absent)
  std::string as;         ///< the staff user the client acts for
  std::string door;       ///< unlock
  std::string machine;    ///< lockout, release, confirm
  std::string reason;     ///< lockout (default "staff")
  std::string reader;     ///< enroll, enroll-status, enroll-cancel
  std::string member_no;  ///< enroll
  int timeout_s{0};       ///< enroll: seconds to wait for the card (0: the daemon's default)
  nlohmann::json change;  ///< change: {"op": ..., "args": {...}}, applied by the daemon
};

/// Machine-readable error classes of a refused request.
enum class ErrorCode {
  kBadJson,      ///< not a JSON object
  kBadVersion,   ///< "v" missing or not kProtocolVersion
  kUnknownOp,    ///< "op" missing or not a known verb
  kBadRequest,   ///< a field missing, of the wrong type or invalid
  kTooLong,      ///< the line exceeded kMaxLineBytes (the client is closed)
  kNotFound,     ///< no such door, machine, member...
  kConflict,     ///< a change contradicts the current state (already exists, already revoked)
  kUnavailable,  ///< the site is not running (store unavailable)
  kForbidden,    ///< the peer's credentials are not allowed (the client is closed)
  kOverloaded,   ///< too many clients (the client is closed)
};

/// The code on the wire ("bad_json", ...).
std::string_view to_string(ErrorCode code);

/// A request that cannot be carried out, as it is answered.
struct Error {
  ErrorCode code{ErrorCode::kBadRequest};
  std::string message;
  nlohmann::json id;  ///< the request's id when it could be read
};

/// Reads one request line (without its newline). Never throws.
std::variant<Request, Error> parse_request(std::string_view line);

/// True for a staff user name the channel accepts: 1-64 of [A-Za-z0-9._@-].
bool valid_user_name(std::string_view name);

/// The reply line (with newline) of a refused request.
std::string error_line(const Error& error);
/// The reply line (with newline) of a request carried out; `data` members are merged in.
std::string ok_line(const Request& request, const nlohmann::json& data = nlohmann::json::object());

/// One committed event or state change, as the composition root hands it to the channel.
struct StreamEvent {
  std::int64_t seq{0};  ///< the store's gapless sequence number
  std::string topic;    ///< its MQTT topic
  std::string payload;  ///< its JSON payload (as published on MQTT)
  bool state{false};    ///< a retained state message rather than an event
};

/// The stream line (with newline) of an event; a payload that is not JSON travels as a string.
std::string stream_line(const StreamEvent& event);

/// The peer of a connection, from the kernel (SO_PEERCRED and SO_PEERGROUPS).
struct PeerCredentials {
  pid_t pid{0};
  uid_t uid{0};
  gid_t gid{0};
  std::vector<gid_t> groups;  ///< supplementary groups
};

/// Who may use the channel: root, the daemon's own user, and members of the admin group.
struct AccessRule {
  uid_t daemon_uid{0};
  gid_t admin_gid{0};
};

/// The channel's one access decision. See docs/ADMIN.md.
bool peer_allowed(const PeerCredentials& peer, const AccessRule& rule);

/// The actor written to the audit log and events for a request: "<as>@uid:<uid>", so the record
/// shows both the staff user declared and the OS user the kernel vouches for.
std::string actor_label(const std::string& as, uid_t uid);

/// Who sent a request: the staff account declared in "as" and the kernel's word on the peer.
struct Caller {
  std::string as;  ///< the staff account declared (checked against the store by the daemon)
  uid_t uid{0};    ///< SO_PEERCRED: cannot be forged
  pid_t pid{0};
  /// actor_label(as, uid).
  std::string label() const { return actor_label(as, uid); }
};

}  // namespace labgate::gateway::admin
