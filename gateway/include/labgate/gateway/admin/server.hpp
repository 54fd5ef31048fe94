#pragma once
// The admin channel: a Unix socket, separate from the simulated-device control socket, over
// which staff tools (labgatectl, the web console) act on the running daemon and follow it live.
//
// Threading: everything runs on the daemon's Asio loop, and no call blocks. A client that does
// not read its replies or stream fills its own bounded queue and is then closed; nobody else,
// and never the tap path, waits for it.

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "labgate/gateway/admin/protocol.hpp"

namespace labgate::gateway::admin {

/// What an action came to: ok with extra reply members, or a refusal.
struct ActionResult {
  bool ok{true};
  ErrorCode code{ErrorCode::kBadRequest};  ///< when !ok
  std::string error;                       ///< when !ok
  nlohmann::json data = nlohmann::json::object();

  /// A refusal.
  static ActionResult failure(ErrorCode code, std::string message) {
    return {false, code, std::move(message), nlohmann::json::object()};
  }
};

/// The daemon's side of the channel: the composition root implements it over the running site.
/// `caller` is who sent the request: its declared account and its uid go into the audit log
/// and the events, and the implementation refuses a declared account that is missing or
/// inactive (ErrorCode::kForbidden).
class Actions {
 public:
  virtual ~Actions() = default;
  /// Doors, machines, fault state.
  virtual ActionResult status() = 0;
  /// One strike pulse on a door.
  virtual ActionResult unlock(const std::string& door, const Caller& caller) = 0;
  /// Staff lockout of a machine.
  virtual ActionResult lockout(const std::string& machine, const std::string& reason,
                               const Caller& caller) = 0;
  /// Ends a staff lockout.
  virtual ActionResult release(const std::string& machine, const Caller& caller) = 0;
  /// Confirms a machine after start-up or check-off.
  virtual ActionResult confirm(const std::string& machine, const Caller& caller) = 0;
  /// Cuts every machine.
  virtual ActionResult all_stop(const Caller& caller) = 0;
  /// Arms `reader` so that its next card is enrolled for `member_no` within `timeout_s`
  /// seconds (0: the default).
  virtual ActionResult enroll(const std::string& reader, const std::string& member_no,
                              int timeout_s, const Caller& caller) = 0;
  /// The enrolment at `reader`: "state" waiting, done (with "credential"), timeout, cancelled
  /// or failed (with "error").
  virtual ActionResult enroll_status(const std::string& reader, const Caller& caller) = 0;
  /// Stops waiting for a card at `reader`.
  virtual ActionResult enroll_cancel(const std::string& reader, const Caller& caller) = 0;
  /// Re-reads what can be re-read while running.
  virtual ActionResult reload(const Caller& caller) = 0;
  /// Applies a staff change (store/changes.hpp) off the loop, and calls `done` on the loop with
  /// the outcome (the changed record under "record"). The channel sends the reply from `done`
  /// and reads the caller's next request only then, so replies stay in order.
  virtual void change(const Caller& caller, const nlohmann::json& change,
                      std::function<void(ActionResult)> done) = 0;
};

/// Where and for whom the channel listens, and its bounds.
struct ServerOptions {
  std::string socket_path;
  /// Group owning the socket (mode 0660) and whose members may connect; the daemon's own
  /// effective group when unset.
  std::optional<gid_t> group;
  std::size_t max_clients{64};
  /// Lines (replies and stream) waiting for a client before it is closed as stalled.
  std::size_t max_queued_lines{1024};
  /// Bytes waiting for a client before it is closed as stalled.
  std::size_t max_queued_bytes{1 << 20};
};

/// Counters for tests, status and benchmarks.
struct ServerStats {
  std::uint64_t accepted{0};
  std::uint64_t refused{0};          ///< peers whose credentials were not allowed
  std::uint64_t dropped_stalled{0};  ///< clients closed because their queue was full
  std::uint64_t bad_requests{0};
  std::uint64_t published{0};
  std::size_t clients{0};
  std::size_t subscribers{0};
};

namespace detail {
struct ServerCore;
}

/// The listening channel. Construct, listen(), publish() every committed event, close().
class Server {
 public:
  /// `actions` must outlive the server.
  Server(boost::asio::io_context& io, Actions& actions, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Creates the socket (0660, group as configured) and starts accepting. Refuses to take over
  /// a socket a running process still answers on. Throws std::system_error (or Asio's
  /// boost::system::system_error) on failure.
  void listen();
  /// Hands a committed event or state change to every subscriber (queued, never waited for).
  void publish(const StreamEvent& event);
  /// True while at least one client subscribed: lets the caller skip building events nobody
  /// reads.
  bool has_subscribers() const;
  /// Closes every client and the socket, and removes the socket file.
  void close();
  /// Counters.
  ServerStats stats() const;

 private:
  std::shared_ptr<detail::ServerCore> impl_;
};

}  // namespace labgate::gateway::admin
