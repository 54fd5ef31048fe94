#pragma once
// MqttLink: the gateway's one MQTT connection, a Paho async_client driven from the event loop.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "labgate/gateway/mqtt/topics.hpp"
#include "labgate/gateway/mqtt/transport.hpp"

namespace labgate::gateway::mqtt {

/// TLS settings; file paths are opened by Paho (OpenSSL) when connecting.
struct TlsConfig {
  std::string ca_file;    ///< CA that signed the broker certificate
  std::string cert_file;  ///< client certificate (optional, for mutual TLS)
  std::string key_file;   ///< client private key (optional)
};

/// Everything MqttLink needs; validated by the MqttLink constructor.
struct LinkConfig {
  /// "tcp://host:1883" or "ssl://host:8883".
  std::string server_uri{"tcp://127.0.0.1:1883"};
  std::string site;     ///< topic segment, see valid_topic_segment()
  std::string gateway;  ///< topic segment, see valid_topic_segment()
  /// MQTT client id; empty selects "labgate-<site>-<gateway>". Must be unique on the broker.
  std::string client_id;
  std::string username;  ///< empty: no credentials
  std::string password;
  std::optional<TlsConfig> tls;
  std::chrono::seconds keep_alive{20};
  std::chrono::seconds connect_timeout{10};
  /// Backoff of our own retry of a failed first connect (Paho does not retry it).
  std::chrono::milliseconds first_connect_retry_min{500};
  std::chrono::milliseconds first_connect_retry_max{30'000};
  /// Backoff of the reconnect after a lost connection (the link's own; Paho's is off).
  std::chrono::milliseconds reconnect_min{1'000};
  std::chrono::milliseconds reconnect_max{30'000};
  /// Paho's limit of QoS>0 messages in flight; keep it above the drainer window.
  int max_inflight{512};
};

/// Owns a Paho async_client. Paho callbacks only `post` to the io_context; all state lives on
/// the loop thread, which must be the only thread running `io`. Nothing here blocks the loop.
///
/// On connect the link publishes "online" (retained, QoS 1) to `<root>status`; its last will is
/// "offline" (retained, QoS 1) on the same topic. Failed connects and lost connections are
/// retried with exponential backoff, each on a fresh Paho client. Sessions are clean:
/// subscriptions are re-made on every connect, and nothing accepted before a loss is written
/// after it, acknowledged or not (callers re-send; the outbox drainer does), so a re-sent
/// message is never overtaken by a newer one left over from the lost connection.
class MqttLink final : public MqttTransport {
 public:
  /// Throws std::invalid_argument on a bad config and mqtt::exception on a bad server URI.
  MqttLink(boost::asio::io_context& io, LinkConfig config);
  /// Disconnects (waiting at most ~1 s for in-flight work) if stop() was not awaited. The
  /// io_context must outlive the link; destroy the link when the loop is done with it.
  ~MqttLink() override;

  MqttLink(const MqttLink&) = delete;
  MqttLink& operator=(const MqttLink&) = delete;

  /// Begins connecting and returns at once; the broker may be down.
  void start();
  /// Publishes "offline", then disconnects cleanly; `done` (optional) runs on the loop when the
  /// disconnect finished or failed. No reconnect happens afterwards.
  void stop(std::function<void()> done = {});

  /// Topics of this gateway.
  const Topics& topics() const;
  /// Number of failed connect attempts since the last success (for health reporting).
  int failed_connect_attempts() const;

  bool connected() const override;
  std::uint64_t generation() const override;
  bool publish(const std::string& topic, const std::string& payload, int qos, bool retain,
               PublishHandler done) override;
  HandlerId subscribe(const std::string& filter, int qos, MessageHandler handler) override;
  void unsubscribe(HandlerId id) override;
  HandlerId observe_connection(ConnectionHandler handler) override;
  void unobserve_connection(HandlerId id) override;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace labgate::gateway::mqtt
