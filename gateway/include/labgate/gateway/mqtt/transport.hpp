#pragma once
// The narrow MQTT interface the outbox drainer, the command router and the smart plugs use.
// MqttLink implements it over Paho; tests implement it in memory.
//
// Threading contract: every member is called on the daemon's event-loop thread, and every
// handler passed in is invoked on that same thread, never from inside a library callback.

#include <cstdint>
#include <functional>
#include <string>

namespace labgate::gateway::mqtt {

/// Called once per accepted publish with true when the broker acknowledged it (QoS 1: PUBACK;
/// QoS 0: handed to the socket) and false when it was lost (connection dropped first).
using PublishHandler = std::function<void(bool acknowledged)>;

/// Called for each message whose topic matches a subscription.
using MessageHandler = std::function<void(const std::string& topic, const std::string& payload)>;

/// Called when the connection comes up (true) or goes down (false).
using ConnectionHandler = std::function<void(bool up)>;

/// Handle of a subscription or connection observer, for removal.
using HandlerId = std::uint64_t;

/// An MQTT connection as seen from the event loop.
class MqttTransport {
 public:
  virtual ~MqttTransport() = default;

  /// True while a session with the broker is established (as last reported to the loop).
  virtual bool connected() const = 0;

  /// Counts connections made so far; changes every time the connection comes up.
  virtual std::uint64_t generation() const = 0;

  /// Starts an asynchronous publish. Returns false, without calling `done`, when it cannot be
  /// started (not connected, client buffer full); otherwise `done` runs exactly once later.
  virtual bool publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                       PublishHandler done) = 0;

  /// Registers `handler` for topics matching `filter`; the broker subscription is (re)made on
  /// every connect. Returns an id for unsubscribe().
  virtual HandlerId subscribe(const std::string& filter, int qos, MessageHandler handler) = 0;

  /// Removes a subscription made by subscribe(); unknown ids are ignored.
  virtual void unsubscribe(HandlerId id) = 0;

  /// Registers a connection observer. It is not called for the current state.
  virtual HandlerId observe_connection(ConnectionHandler handler) = 0;

  /// Removes a connection observer; unknown ids are ignored.
  virtual void unobserve_connection(HandlerId id) = 0;
};

}  // namespace labgate::gateway::mqtt
