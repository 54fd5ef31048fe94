#include "labgate/gateway/mqtt/smart_plug.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "labgate/gateway/mqtt/topics.hpp"

namespace labgate::gateway::mqtt {

namespace {

std::optional<bool> parse_state(const std::string& payload) {
  std::string s;
  for (char c : payload) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    s.push_back(static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c));
  }
  if (s == "on" || s == "1") return true;
  if (s == "off" || s == "0") return false;
  return std::nullopt;
}
}  // namespace

SmartPlugOutput::SmartPlugOutput(boost::asio::io_context& io, MqttTransport& link,
                                 SmartPlugConfig config, SmartPlugCallbacks callbacks)
    : link_(link),
      config_(std::move(config)),
      callbacks_(std::move(callbacks)),
      timer_(io),
      alive_(std::make_shared<char>(0)) {
  if (!valid_topic_segment(config_.device_id)) {
    throw std::invalid_argument("invalid smart plug device id: " + config_.device_id);
  }
  switch (config_.protocol) {
    case PlugProtocol::kShellyGen1:
      command_topic_ = "shellies/" + config_.device_id + "/relay/0/command";
      state_topic_ = "shellies/" + config_.device_id + "/relay/0";
      break;
    case PlugProtocol::kTasmota:
      command_topic_ = "cmnd/" + config_.device_id + "/POWER";
      state_topic_ = "stat/" + config_.device_id + "/POWER";
      break;
  }
  std::weak_ptr<char> alive = alive_;
  subscription_ =
      link_.subscribe(state_topic_, kQos1, [this, alive](const std::string&, const std::string& p) {
        if (alive.lock()) on_state(p);
      });
}

SmartPlugOutput::~SmartPlugOutput() {
  timer_.cancel();
  link_.unsubscribe(subscription_);
}

labgate::drivers::IoResult SmartPlugOutput::set(bool on) {
  using labgate::drivers::IoResult;
  if (!ever_commanded_) {
    ever_commanded_ = true;
    commanded_ = on;
    send_command();
    return IoResult::kRetry;
  }
  if (on != commanded_) {
    commanded_ = on;
    confirmed_ = false;
    send_command();
    return IoResult::kRetry;
  }
  if (confirmed_) return IoResult::kDone;
  if (!pending_) send_command();
  return IoResult::kRetry;
}

void SmartPlugOutput::send_command() {
  std::string payload;
  if (config_.protocol == PlugProtocol::kShellyGen1) {
    payload = commanded_ ? "on" : "off";
  } else {
    payload = commanded_ ? "ON" : "OFF";
  }
  superseded_ = pending_;
  stale_answers_ = pending_ ? stale_answers_ + 1 : 0;
  pending_ = true;
  // Never retained: a retained "on" would switch the machine on whenever the plug reconnects.
  // A refused publish (broker down) is left to the confirmation timeout.
  if (!link_.publish(command_topic_, payload, kQos1, false, {})) {
    spdlog::warn("plug {}: command {} not sent (MQTT down)", config_.output_id, payload);
  }
  timer_.expires_after(config_.confirm_timeout);
  std::weak_ptr<char> alive = alive_;
  timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || !alive.lock() || !pending_) return;
    pending_ = false;
    // A plug may answer several quick commands with one report; the last report it sent is then
    // the answer to the latest command.
    if (superseded_ && reported_ == commanded_) {
      stale_answers_ = 0;
      superseded_ = false;
      confirmed_ = true;
      spdlog::info("plug {}: {} confirmed by its last report", config_.output_id,
                   commanded_ ? "on" : "off");
      if (callbacks_.confirmed) callbacks_.confirmed(config_.output_id, commanded_);
      return;
    }
    spdlog::error("plug {}: no confirmation of {} within {} ms", config_.output_id,
                  commanded_ ? "on" : "off", config_.confirm_timeout.count());
    if (callbacks_.timed_out) callbacks_.timed_out(config_.output_id, commanded_);
  });
}

void SmartPlugOutput::on_state(const std::string& payload) {
  const auto state = parse_state(payload);
  if (!state) return;  // Shelly also reports e.g. "overpower"; not a relay state
  reported_ = *state;
  // Before the first set() there is nothing to confirm or contradict yet.
  if (!ever_commanded_) return;
  if (pending_ && stale_answers_ > 0) {
    --stale_answers_;  // the answer to a superseded command
    return;
  }
  if (*state == commanded_) {
    if (confirmed_) return;
    const bool was_pending = pending_;
    pending_ = false;
    confirmed_ = true;
    timer_.cancel();
    if (!was_pending) {
      spdlog::info("plug {}: late confirmation of {}", config_.output_id, *state ? "on" : "off");
    }
    if (callbacks_.confirmed) callbacks_.confirmed(config_.output_id, *state);
    return;
  }
  // While a command is pending, a report of the old state is normal (it may predate it).
  if (pending_) return;
  if (confirmed_) {
    confirmed_ = false;
    spdlog::warn("plug {}: reports {} but {} was commanded", config_.output_id,
                 *state ? "on" : "off", commanded_ ? "on" : "off");
    if (callbacks_.mismatch) callbacks_.mismatch(config_.output_id, *state);
  }
}

}  // namespace labgate::gateway::mqtt
