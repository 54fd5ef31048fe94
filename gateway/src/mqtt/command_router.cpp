#include "labgate/gateway/mqtt/command_router.hpp"

#include <spdlog/spdlog.h>

#include "labgate/gateway/mqtt/topics.hpp"

namespace labgate::gateway::mqtt {

CommandOutcome CommandOutcome::success(nlohmann::json result) {
  CommandOutcome o;
  o.ok = true;
  o.result = std::move(result);
  return o;
}

CommandOutcome CommandOutcome::failure(std::string error) {
  CommandOutcome o;
  o.ok = false;
  o.error = std::move(error);
  return o;
}

CommandRouter::CommandRouter(MqttTransport& link, Topics topics, const CommandKey& key,
                             VerifierConfig config, WallClock clock, NonceJournal* journal)
    : link_(link),
      topics_(std::move(topics)),
      verifier_(key, topics_.root() + "cmd/", config, journal),
      clock_(std::move(clock)) {}

CommandRouter::~CommandRouter() {
  stop();
}

void CommandRouter::on(CommandKind kind, CommandHandler handler) {
  handlers_[kind] = std::move(handler);
}

void CommandRouter::start() {
  if (started_) return;
  started_ = true;
  subscription_ = link_.subscribe(topics_.command_filter(), kQos1,
                                  [this](const std::string& topic, const std::string& payload) {
                                    handle_message(topic, payload);
                                  });
}

void CommandRouter::stop() {
  if (!started_) return;
  started_ = false;
  link_.unsubscribe(subscription_);
}

void CommandRouter::handle_message(const std::string& topic, const std::string& payload) {
  const VerifyResult v = verifier_.verify(topic, payload, clock_());
  if (!v.ok()) {
    ++stats_.rejected;
    ++stats_.rejected_by_reason[to_string(v.reason)];
    spdlog::warn("mqtt: rejected command on {} (id '{}'): {}: {}", topic, v.reply_id,
                 to_string(v.reason), v.detail);
    if (!v.reply_id.empty()) {
      reply(v.reply_id, {{"id", v.reply_id}, {"ok", false}, {"error", to_string(v.reason)}});
    }
    return;
  }
  const Command& cmd = *v.command;
  ++stats_.accepted;
  spdlog::info("mqtt: command {} id '{}' by '{}' target '{}'", to_string(cmd.kind), cmd.id, cmd.by,
               cmd.target);
  CommandOutcome outcome;
  auto it = handlers_.find(cmd.kind);
  if (it == handlers_.end() || !it->second) {
    outcome = CommandOutcome::failure("no_handler");
  } else {
    try {
      outcome = it->second(cmd);
    } catch (const std::exception& e) {
      spdlog::error("mqtt: handler for {} threw: {}", to_string(cmd.kind), e.what());
      outcome = CommandOutcome::failure("handler_failed");
    }
  }
  nlohmann::json answer = {{"id", cmd.id}, {"ok", outcome.ok}};
  if (outcome.ok) {
    answer["result"] = outcome.result;
  } else {
    answer["error"] = outcome.error.empty() ? std::string("failed") : outcome.error;
  }
  reply(cmd.id, answer);
}

void CommandRouter::reply(const std::string& id, const nlohmann::json& message) {
  // Replies are best effort: the caller times out and retries with a fresh nonce.
  if (!link_.publish(topics_.reply(id),
                     message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kQos1,
                     false, {})) {
    spdlog::warn("mqtt: could not send reply for command id '{}'", id);
  }
}

}  // namespace labgate::gateway::mqtt
