#pragma once
// SmartPlugOutput: a machine relay that is a Wi-Fi smart plug speaking MQTT (Shelly Gen1 or
// Tasmota), driven through the gateway's MqttLink.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "labgate/drivers/devices.hpp"
#include "labgate/gateway/mqtt/transport.hpp"

namespace labgate::gateway::mqtt {

/// Which firmware the plug runs, which decides its topics and payloads.
enum class PlugProtocol {
  kShellyGen1,  ///< command `shellies/<id>/relay/0/command` "on"/"off"; state
                ///< `shellies/<id>/relay/0`
  kTasmota,     ///< command `cmnd/<id>/POWER` "ON"/"OFF"; state `stat/<id>/POWER`
};

/// Configuration of one plug.
struct SmartPlugConfig {
  std::string output_id;  ///< our id of this output (machine relay id)
  std::string device_id;  ///< the plug's own MQTT id (Shelly "shelly1pm-ABC123", Tasmota topic)
  PlugProtocol protocol{PlugProtocol::kShellyGen1};
  /// How long a command may wait for the plug's state topic before it counts as failed.
  std::chrono::milliseconds confirm_timeout{3000};
};

/// Events a plug reports to the daemon, on the loop thread.
struct SmartPlugCallbacks {
  /// The plug confirmed the commanded state.
  std::function<void(const std::string& output_id, bool on)> confirmed;
  /// The plug did not confirm within confirm_timeout: refuse the session and raise an alarm.
  std::function<void(const std::string& output_id, bool wanted)> timed_out;
  /// The plug reported a state different from the commanded one without a pending command
  /// (someone pressed its button, it rebooted): the daemon decides (alarm, re-command).
  std::function<void(const std::string& output_id, bool on)> mismatch;
};

/// A drivers::Output backed by a smart plug. set() publishes the command and returns kRetry
/// until a state message confirming it arrives (kDone from then on for that value); a missing
/// confirmation is reported once through `timed_out`, after which the next set() sends again.
/// Use on the loop thread only; the transport and io_context must outlive it.
class SmartPlugOutput final : public labgate::drivers::Output {
 public:
  /// Throws std::invalid_argument when device_id is not a valid topic segment.
  SmartPlugOutput(boost::asio::io_context& io, MqttTransport& link, SmartPlugConfig config,
                  SmartPlugCallbacks callbacks = {});
  ~SmartPlugOutput() override;

  SmartPlugOutput(const SmartPlugOutput&) = delete;
  SmartPlugOutput& operator=(const SmartPlugOutput&) = delete;

  const std::string& id() const override { return config_.output_id; }
  labgate::drivers::IoResult set(bool on) override;
  bool commanded() const override { return commanded_; }

  /// Last state the plug reported, if any.
  std::optional<bool> reported() const { return reported_; }
  /// True while a command waits for its confirmation.
  bool pending() const { return pending_; }

  /// Topic commands are published to.
  const std::string& command_topic() const { return command_topic_; }
  /// Topic the plug reports its state on.
  const std::string& state_topic() const { return state_topic_; }

 private:
  void on_state(const std::string& payload);
  void send_command();

  MqttTransport& link_;
  SmartPlugConfig config_;
  SmartPlugCallbacks callbacks_;
  std::string command_topic_;
  std::string state_topic_;
  bool commanded_{false};
  bool ever_commanded_{false};
  bool confirmed_{false};  // the plug confirmed commanded_ since it was last commanded
  bool pending_{false};
  // Commands sent while an earlier one was still unanswered: the next reports may answer those,
  // so none of them confirms the latest command (off, on, off in quick succession must not be
  // confirmed by the answer to the first off).
  int stale_answers_{0};
  bool superseded_{false};  // the pending command superseded an unanswered one
  std::optional<bool> reported_;
  boost::asio::steady_timer timer_;
  HandlerId subscription_{0};
  std::shared_ptr<char> alive_;
};

}  // namespace labgate::gateway::mqtt
