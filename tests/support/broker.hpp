#pragma once
// A real mosquitto broker on a free local port, mosquitto_sub observers and mosquitto_pub, for
// the tests and benchmarks that cross the MQTT boundary.

#include <chrono>
#include <filesystem>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "process.hpp"

namespace labgate::testing {

/// A port on 127.0.0.1 that nothing listened on a moment ago.
int free_port();
/// True when something accepts TCP connections on 127.0.0.1:`port`.
bool port_accepts(int port);

/// Paths of the mosquitto programs, fixed at build time.
struct MosquittoTools {
  static std::string broker();
  static std::string sub();
  static std::string pub();
  static std::string passwd();
};

/// A mosquitto broker on 127.0.0.1 and a free port, with a generated config in a temp dir.
/// start() and stop() may be repeated (an outage); the port stays the same and, with
/// persistence on, so do persistent sessions and their queued messages.
class MosquittoBroker {
 public:
  /// `extra_config` is appended to the generated config (auth, ACL, ...).
  explicit MosquittoBroker(std::string extra_config = "", bool allow_anonymous = true);
  ~MosquittoBroker();

  /// Starts the broker and waits until it accepts connections; throws on failure.
  void start();
  /// SIGTERM (the broker saves its persistence file), waits for exit.
  void stop();
  bool running() const { return process_ != nullptr; }

  int port() const { return port_; }
  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  const std::filesystem::path& dir() const { return dir_.path(); }
  /// The broker's log so far (for failure messages).
  std::string log() const;

 private:
  TempDir dir_;
  int port_{0};
  std::unique_ptr<Child> process_;
};

/// A `mosquitto_sub -v` child whose output is read back as (topic, payload) pairs.
class Subscriber {
 public:
  struct Options {
    std::string client_id;
    bool persistent{false};  ///< -c: session (and queued QoS 1 messages) survive disconnects
    std::string username;
    std::string password;
    /// Topic used by wait_ready(); must be readable and writable for these credentials.
    std::string probe_topic;
  };
  Subscriber(const MosquittoBroker& broker, std::vector<std::string> topics, Options options);
  ~Subscriber();

  /// Publishes probes until one comes back, proving the subscription is in place.
  void wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Messages received so far, probes excluded.
  std::vector<std::pair<std::string, std::string>> messages() const;
  /// Number of messages received so far, probes excluded.
  std::size_t count() const { return messages().size(); }

 private:
  const MosquittoBroker& broker_;
  Options options_;
  TempDir dir_;
  std::string out_path_;
  std::unique_ptr<Child> process_;
};

/// Publishes one message with mosquitto_pub (QoS 1); returns true on success.
bool publish_with_tool(const MosquittoBroker& broker, const std::string& topic,
                       const std::string& payload, const std::string& username = "",
                       const std::string& password = "");

/// A smart plug played on the broker: a mosquitto_sub on its command topic and, while it
/// answers, a thread that reports each command on its state topic with mosquitto_pub, as the
/// firmware reports a switch (Tasmota "ON" -> stat "ON", Shelly "on" -> relay/0 "on").
class PlugPlayer {
 public:
  /// Subscribes and waits (probing the command topic) until the subscription is in place;
  /// throws std::runtime_error when it never is.
  PlugPlayer(const MosquittoBroker& broker, std::string command_topic, std::string state_topic,
             bool answers);
  ~PlugPlayer();
  PlugPlayer(const PlugPlayer&) = delete;
  PlugPlayer& operator=(const PlugPlayer&) = delete;

  /// Commands received so far (the probes left out), in order.
  std::vector<std::string> commands() const;
  /// Whether later commands are answered; a silent plug is one that is off the network.
  void set_answers(bool answers) { answers_ = answers; }
  /// Reports `state` on the state topic unasked (its button pressed, a reboot).
  bool report(const std::string& state);

 private:
  std::vector<std::string> lines() const;
  void answer();

  const MosquittoBroker& broker_;
  std::string command_topic_;
  std::string state_topic_;
  TempDir dir_;
  std::unique_ptr<Child> sub_;
  std::atomic<bool> answers_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace labgate::testing
