#pragma once
// CommandRouter: receives `<root>cmd/+`, verifies, dispatches to the daemon, replies.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "labgate/gateway/mqtt/command.hpp"
#include "labgate/gateway/mqtt/topics.hpp"
#include "labgate/gateway/mqtt/transport.hpp"

namespace labgate::gateway::mqtt {

/// What a handler answers. Sent as {"id","ok":true,"result":...} or {"id","ok":false,"error":...}.
struct CommandOutcome {
  bool ok{true};
  nlohmann::json result = nlohmann::json::object();
  std::string error;

  /// A success with an optional result object.
  static CommandOutcome success(nlohmann::json result = nlohmann::json::object());
  /// A refusal with a short stable error name ("unknown_door", "door_in_fire_release", ...).
  static CommandOutcome failure(std::string error);
};

/// Handles one verified command on the loop thread; must not block. Exceptions are caught and
/// answered as "handler_failed".
using CommandHandler = std::function<CommandOutcome(const Command&)>;

/// Counters for health reporting and tests.
struct RouterStats {
  std::uint64_t accepted{0};
  std::uint64_t rejected{0};
  std::map<std::string, std::uint64_t> rejected_by_reason;
};

/// Subscribes to the gateway's command topics, verifies each message with a CommandVerifier,
/// calls the handler registered for its kind, and publishes the answer (QoS 1, not retained) on
/// `<root>reply/<id>`. Rejected messages are logged and answered with their reason when they
/// carry a well-formed id; commands without a registered handler are answered "no_handler".
class CommandRouter {
 public:
  /// Wall clock in unix ms; injectable for tests.
  using WallClock = std::function<std::int64_t()>;

  /// `link` must outlive the router, and so must `journal` when given (see CommandVerifier).
  CommandRouter(MqttTransport& link, Topics topics, const CommandKey& key,
                VerifierConfig config = {}, WallClock clock = unix_ms_now,
                NonceJournal* journal = nullptr);
  ~CommandRouter();

  CommandRouter(const CommandRouter&) = delete;
  CommandRouter& operator=(const CommandRouter&) = delete;

  /// Registers (or replaces) the handler of one command kind.
  void on(CommandKind kind, CommandHandler handler);
  /// Subscribes to `<root>cmd/+`; idempotent.
  void start();
  /// Unsubscribes; idempotent.
  void stop();

  /// Processes one message as if it arrived (the subscription calls this; tests may too).
  void handle_message(const std::string& topic, const std::string& payload);

  const RouterStats& stats() const { return stats_; }

 private:
  void reply(const std::string& id, const nlohmann::json& message);

  MqttTransport& link_;
  Topics topics_;
  CommandVerifier verifier_;
  WallClock clock_;
  std::map<CommandKind, CommandHandler> handlers_;
  RouterStats stats_;
  HandlerId subscription_{0};
  bool started_{false};
};

}  // namespace labgate::gateway::mqtt
