#pragma once
// MqttBridge: the daemon side of the MQTT module. Owns the broker link, drains the durable
// SQLite outbox, answers signed remote commands, builds smart-plug relays and publishes the
// Home Assistant discovery messages.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "labgate/drivers/devices.hpp"
#include "labgate/gateway/config/site_config.hpp"
#include "labgate/gateway/mqtt/outbox_drainer.hpp"

namespace labgate::gateway::store {
class Store;
}

namespace labgate::gateway::app {

class Site;

/// The OutboxSource of the drainer over store::Store. Storage errors are thrown as
/// std::runtime_error (the drainer logs them and retries). Rows are sent as stored: each payload
/// was built with its own seq inside the transaction that wrote it (app/journal).
class StoreOutboxSource final : public mqtt::OutboxSource {
 public:
  /// `store` must outlive the source; `wall_ms` stamps mark_sent().
  StoreOutboxSource(store::Store& store, std::function<std::int64_t()> wall_ms);

  std::vector<mqtt::OutboxRow> fetch_unsent(std::int64_t after_seq, std::size_t limit) override;
  void mark_sent(const std::vector<std::int64_t>& seqs) override;

 private:
  store::Store& store_;
  std::function<std::int64_t()> wall_ms_;
};

/// Tuning of the bridge (defaults suit the daemon; tests shorten them).
struct MqttBridgeOptions {
  /// How often sent outbox rows older than the retention are pruned.
  std::chrono::milliseconds prune_interval{std::chrono::hours(1)};
  /// Smart plugs: how long a relay command may wait for the plug's confirmation; unset = the
  /// configuration's [mqtt] plug_confirm_timeout_ms.
  std::optional<std::chrono::milliseconds> plug_confirm_timeout;
  /// Version string shown in Home Assistant.
  std::string sw_version{"labgate"};
};

/// Lifecycle, all on the daemon's loop thread:
///   MqttBridge(io, cfg)        builds the link (nothing is connected yet)
///   make_output(spec)          smart-plug relays, while the devices are built
///   start()                    connects (the broker may be down; retried with backoff)
///   attach(store, site)        once the store is open and the site started: drains, commands
///   tick()                     from the daemon tick: notices new outbox rows, prunes
///   stop(done)                 publishes "offline", disconnects
///
/// Status: `<root>status` is "online" (retained) while connected, and "offline" by last will
/// or on a clean stop. Discovery messages are published retained at every connect.
class MqttBridge {
 public:
  /// Throws std::invalid_argument on an unusable [mqtt] configuration.
  MqttBridge(boost::asio::io_context& io, const config::SiteConfig& cfg,
             MqttBridgeOptions options = {});
  ~MqttBridge();

  MqttBridge(const MqttBridge&) = delete;
  MqttBridge& operator=(const MqttBridge&) = delete;

  /// Builds the output of a "shelly:<id>" or "tasmota:<id>" spec (its id is the id of the
  /// machine whose relay names this plug); nullptr for any other kind. attach() hands each plug
  /// to the site as a confirming relay: a session on it starts only when the plug confirms ON,
  /// and a missing confirmation (ON or OFF) is an alarm on the site (Site::relay_unconfirmed).
  std::shared_ptr<drivers::Output> make_output(const config::DeviceSpec& spec);

  /// Begins connecting; returns at once.
  void start();
  /// Starts draining the outbox of `store` and answering commands for `site`. Both must
  /// outlive the bridge or a later detach().
  void attach(store::Store& store, Site& site);
  /// Stops draining and answering (the store or site is going away).
  void detach();
  /// Cheap periodic work: notifies the drainer when the outbox grew, prunes old rows.
  void tick();
  /// Publishes "offline", disconnects; `done` runs on the loop when finished.
  void stop(std::function<void()> done = {});

  /// True while connected to the broker.
  bool connected() const;
  /// Drainer counters (zero before attach()).
  mqtt::DrainerStats drainer_stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace labgate::gateway::app
