#include "labgate/gateway/app/mqtt_bridge.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "labgate/gateway/app/site.hpp"
#include "labgate/gateway/mqtt/command_router.hpp"
#include "labgate/gateway/mqtt/discovery.hpp"
#include "labgate/gateway/mqtt/link.hpp"
#include "labgate/gateway/mqtt/payloads.hpp"
#include "labgate/gateway/mqtt/smart_plug.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::app {

namespace {

std::int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The verifier's durable nonce memory in the daemon's store. Commands are rare and off the tap
// path; the write is one small transaction on the loop, like the audit row that follows it.
class StoreNonceJournal final : public mqtt::NonceJournal {
 public:
  explicit StoreNonceJournal(store::Store& store) : store_(store) {}
  Outcome record(std::string_view nonce, std::int64_t forget_after_ms,
                 std::int64_t now_ms) override {
    auto r = store_.events().remember_command_nonce(nonce, forget_after_ms, now_ms);
    if (!r.ok()) {
      spdlog::error("mqtt: command nonce not recorded: {}", r.error().message);
      return Outcome::kFailed;
    }
    return r.value() ? Outcome::kRecorded : Outcome::kAlreadySeen;
  }

 private:
  store::Store& store_;
};

}  // namespace

StoreOutboxSource::StoreOutboxSource(store::Store& store, std::function<std::int64_t()> wall_ms)
    : store_(store), wall_ms_(std::move(wall_ms)) {}

std::vector<mqtt::OutboxRow> StoreOutboxSource::fetch_unsent(std::int64_t after_seq,
                                                             std::size_t limit) {
  auto rows = store_.events().fetch_unsent(after_seq, static_cast<std::int64_t>(limit));
  if (!rows.ok()) throw std::runtime_error("outbox fetch: " + rows.error().message);
  std::vector<mqtt::OutboxRow> out;
  out.reserve(rows.value().size());
  for (auto& r : rows.value()) {
    out.push_back({r.seq, std::move(r.topic), std::move(r.payload), r.retain});
  }
  return out;
}

void StoreOutboxSource::mark_sent(const std::vector<std::int64_t>& seqs) {
  auto st = store_.events().mark_sent(std::span<const std::int64_t>(seqs.data(), seqs.size()),
                                      wall_ms_());
  if (!st.ok()) throw std::runtime_error("outbox mark_sent: " + st.error().message);
}

struct MqttBridge::Impl {
  Impl(boost::asio::io_context& io_, const config::SiteConfig& cfg_, MqttBridgeOptions o)
      : io(io_),
        cfg(cfg_),
        opts(std::move(o)),
        topics(cfg_.site.id, cfg_.site.gateway),
        prune_timer(io_) {
    if (cfg.mqtt.base_topic != "labgate/v1") {
      spdlog::warn("mqtt: base_topic {} ignored; topics live under labgate/v1/",
                   cfg.mqtt.base_topic);
    }
    mqtt::LinkConfig lc;
    lc.server_uri = (cfg.mqtt.ca_file.empty() ? "tcp://" : "ssl://") + cfg.mqtt.host + ":" +
                    std::to_string(cfg.mqtt.port);
    lc.site = cfg.site.id;
    lc.gateway = cfg.site.gateway;
    lc.client_id = cfg.mqtt.client_id;
    lc.username = cfg.mqtt.username;
    lc.password = cfg.mqtt.password;
    if (!cfg.mqtt.ca_file.empty()) {
      lc.tls = mqtt::TlsConfig{cfg.mqtt.ca_file, cfg.mqtt.cert_file, cfg.mqtt.key_file};
    }
    link = std::make_unique<mqtt::MqttLink>(io, lc);
    connection_observer = link->observe_connection([this](bool up) {
      if (up) publish_discovery();
    });
  }

  ~Impl() {
    if (link) link->unobserve_connection(connection_observer);
  }

  void publish_discovery() {
    mqtt::DiscoveryContext ctx;
    ctx.sw_version = opts.sw_version;
    std::vector<mqtt::OutboxMessage> msgs;
    msgs.push_back(mqtt::ha_gateway_connectivity(topics, ctx));
    for (const auto& d : cfg.doors) msgs.push_back(mqtt::ha_door_lock(topics, ctx, d.id, d.name));
    for (const auto& m : cfg.machines) {
      msgs.push_back(mqtt::ha_machine_switch(topics, ctx, m.id, m.name));
      msgs.push_back(mqtt::ha_machine_user_sensor(topics, ctx, m.id, m.name));
    }
    // Discovery is regenerated from the configuration on every connect, so a lost publish
    // needs no outbox: the next connect repeats it.
    for (const auto& m : msgs) {
      if (!link->publish(m.topic, m.payload, 1, true, [](bool) {})) {
        spdlog::warn("mqtt: discovery {} not published", m.topic);
      }
    }
  }

  std::int64_t wall_ms() const { return system_ms(); }

  void audit_command(const mqtt::Command& c, const std::string& action, const std::string& subject,
                     const mqtt::CommandOutcome& outcome) {
    if (!db) return;
    nlohmann::json detail{{"command_id", c.id},
                          {"nonce", c.nonce},
                          {"ts", c.ts_ms},
                          {"ok", outcome.ok},
                          {"error", outcome.error}};
    if (!c.by.empty()) detail["by"] = c.by;
    if (!c.reason.empty()) detail["reason"] = c.reason;
    auto st = db->audit().append_audit(actor(c), action, subject, detail.dump());
    if (!st.ok()) spdlog::error("mqtt: audit of command {}: {}", c.id, st.error().message);
  }

  static std::string actor(const mqtt::Command& c) {
    return c.by.empty() ? std::string("mqtt") : "mqtt:" + c.by;
  }

  void register_commands() {
    router->on(mqtt::CommandKind::kDoorUnlock, [this](const mqtt::Command& c) {
      auto out = site && site->remote_unlock(c.target, actor(c))
                     ? mqtt::CommandOutcome::success({{"door", c.target}})
                     : mqtt::CommandOutcome::failure(site ? "unknown_door" : "unavailable");
      audit_command(c, "mqtt_door_unlock", c.target, out);
      return out;
    });
    router->on(mqtt::CommandKind::kMachineLockout, [this](const mqtt::Command& c) {
      std::string reason = c.reason.empty() ? "remote lockout" : c.reason;
      auto out = site && site->lockout(c.target, reason, actor(c))
                     ? mqtt::CommandOutcome::success({{"machine", c.target}})
                     : mqtt::CommandOutcome::failure(site ? "unknown_machine" : "unavailable");
      audit_command(c, "mqtt_machine_lockout", c.target, out);
      return out;
    });
    router->on(mqtt::CommandKind::kMachineRelease, [this](const mqtt::Command& c) {
      auto out = site && site->release(c.target, actor(c))
                     ? mqtt::CommandOutcome::success({{"machine", c.target}})
                     : mqtt::CommandOutcome::failure(site ? "unknown_machine" : "unavailable");
      audit_command(c, "mqtt_machine_release", c.target, out);
      return out;
    });
    router->on(mqtt::CommandKind::kAllStop, [this](const mqtt::Command& c) {
      mqtt::CommandOutcome out = mqtt::CommandOutcome::failure("unavailable");
      if (site) {
        site->all_stop(actor(c));
        out = mqtt::CommandOutcome::success();
      }
      audit_command(c, "mqtt_all_stop", "site", out);
      return out;
    });
    // Members, credentials, plans and lockouts are read from SQLite on every tap and staff
    // changes are polled, so there is nothing to re-read; the answer says so.
    router->on(mqtt::CommandKind::kReload, [this](const mqtt::Command& c) {
      auto out = mqtt::CommandOutcome::success(
          {{"reloaded", nlohmann::json::array()}, {"note", "store is read per tap"}});
      audit_command(c, "mqtt_reload", "site", out);
      return out;
    });
  }

  void arm_prune() {
    prune_timer.expires_after(opts.prune_interval);
    prune_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      prune_due = true;
      arm_prune();
    });
  }

  void prune() {
    prune_due = false;
    if (!db || cfg.mqtt.outbox_retention_days <= 0) return;
    const std::int64_t cutoff =
        wall_ms() - std::int64_t{cfg.mqtt.outbox_retention_days} * 86'400'000;
    auto n = db->events().prune_sent(cutoff);
    if (!n.ok()) {
      spdlog::warn("mqtt: outbox prune: {}", n.error().message);
    } else if (n.value() > 0) {
      spdlog::info("mqtt: pruned {} sent outbox rows", n.value());
    }
  }

  // The site records and publishes the alarm and refuses a session still waiting for the plug.
  void plug_timed_out(const std::string& machine_id, bool wanted) {
    if (site) {
      site->relay_unconfirmed(machine_id, wanted);
    } else {
      spdlog::error("smart plug of {} did not confirm {} (no site attached)", machine_id,
                    wanted ? "on" : "off");
    }
  }

  void plug_confirmed(const std::string& machine_id, bool on) {
    if (site) site->relay_confirmed(machine_id, on);
  }

  boost::asio::io_context& io;
  const config::SiteConfig& cfg;
  MqttBridgeOptions opts;
  mqtt::Topics topics;
  std::unique_ptr<mqtt::MqttLink> link;
  mqtt::HandlerId connection_observer{0};
  store::Store* db{nullptr};
  Site* site{nullptr};
  std::unique_ptr<StoreOutboxSource> source;
  std::unique_ptr<mqtt::OutboxDrainer> drainer;
  std::unique_ptr<mqtt::NonceJournal> nonces;  // declared before the router that uses it
  std::unique_ptr<mqtt::CommandRouter> router;
  std::vector<std::shared_ptr<mqtt::SmartPlugOutput>> plugs;
  std::int64_t last_seq{-1};
  bool prune_due{true};
  boost::asio::steady_timer prune_timer;
};

MqttBridge::MqttBridge(boost::asio::io_context& io, const config::SiteConfig& cfg,
                       MqttBridgeOptions options)
    : impl_(std::make_unique<Impl>(io, cfg, std::move(options))) {}

MqttBridge::~MqttBridge() {
  detach();
}

std::shared_ptr<drivers::Output> MqttBridge::make_output(const config::DeviceSpec& spec) {
  mqtt::SmartPlugConfig pc;
  switch (spec.kind) {
    case config::DeviceSpec::Kind::kShelly:
      pc.protocol = mqtt::PlugProtocol::kShellyGen1;
      break;
    case config::DeviceSpec::Kind::kTasmota:
      pc.protocol = mqtt::PlugProtocol::kTasmota;
      break;
    default:
      return nullptr;
  }
  pc.output_id = spec.id;
  for (const auto& m : impl_->cfg.machines) {
    if (m.relay.kind == spec.kind && m.relay.id == spec.id) pc.output_id = m.id;
  }
  pc.device_id = spec.id;
  pc.confirm_timeout =
      impl_->opts.plug_confirm_timeout.value_or(impl_->cfg.mqtt.plug_confirm_timeout);
  mqtt::SmartPlugCallbacks cb;
  Impl* impl = impl_.get();
  cb.confirmed = [impl](const std::string& id, bool on) { impl->plug_confirmed(id, on); };
  cb.timed_out = [impl](const std::string& id, bool wanted) { impl->plug_timed_out(id, wanted); };
  cb.mismatch = [](const std::string& id, bool on) {
    spdlog::warn("smart plug of {} reports {} without a command", id, on ? "on" : "off");
  };
  auto plug = std::make_shared<mqtt::SmartPlugOutput>(impl_->io, *impl_->link, pc, cb);
  impl_->plugs.push_back(plug);
  return plug;
}

void MqttBridge::start() {
  impl_->link->start();
  impl_->arm_prune();
}

void MqttBridge::attach(store::Store& store, Site& site) {
  detach();
  auto& i = *impl_;
  i.db = &store;
  i.site = &site;
  i.source = std::make_unique<StoreOutboxSource>(store, system_ms);
  i.drainer = std::make_unique<mqtt::OutboxDrainer>(i.io, *i.link, *i.source);
  i.drainer->start();
  // The site's commits wake the drainer at once; tick() still looks for rows now and then.
  site.set_commit_listener([&i] {
    if (i.drainer) i.drainer->notify();
  });
  // Sessions on a plug are committed only once the plug confirms ON (Site::relay_confirmed).
  for (const auto& plug : i.plugs) site.attach_relay(plug->id(), plug, true);
  if (i.cfg.mqtt.command_key) {
    mqtt::CommandKey key{};
    std::copy(i.cfg.mqtt.command_key->begin(), i.cfg.mqtt.command_key->end(), key.begin());
    i.nonces = std::make_unique<StoreNonceJournal>(store);
    i.router = std::make_unique<mqtt::CommandRouter>(*i.link, i.topics, key, mqtt::VerifierConfig{},
                                                     mqtt::unix_ms_now, i.nonces.get());
    i.register_commands();
    i.router->start();
  } else {
    spdlog::warn("mqtt: no command_key: remote commands are not accepted");
  }
  i.last_seq = -1;
  i.prune_due = true;
}

void MqttBridge::detach() {
  auto& i = *impl_;
  if (i.router) i.router->stop();
  i.router.reset();
  i.nonces.reset();
  if (i.drainer) i.drainer->stop();
  i.drainer.reset();
  i.source.reset();
  i.db = nullptr;
  if (i.site) i.site->set_commit_listener({});
  i.site = nullptr;
}

void MqttBridge::tick() {
  auto& i = *impl_;
  if (!i.db || !i.drainer) return;
  // One indexed read per tick instead of a hook in every write path of the site.
  auto seq = i.db->events().last_seq();
  if (seq.ok() && seq.value() != i.last_seq) {
    i.last_seq = seq.value();
    i.drainer->notify();
  }
  if (i.prune_due) i.prune();
}

void MqttBridge::stop(std::function<void()> done) {
  impl_->prune_timer.cancel();
  detach();
  impl_->link->stop(std::move(done));
}

bool MqttBridge::connected() const {
  return impl_->link->connected();
}

mqtt::DrainerStats MqttBridge::drainer_stats() const {
  return impl_->drainer ? impl_->drainer->stats() : mqtt::DrainerStats{};
}

}  // namespace labgate::gateway::app
