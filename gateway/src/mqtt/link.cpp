#include "labgate/gateway/mqtt/link.hpp"

#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "labgate/gateway/mqtt/topics.hpp"

#if defined(__SANITIZE_ADDRESS__)
// LeakSanitizer reads this in every binary that links the MQTT link. The one suppression is the
// Paho C leak of unwritten publishes described at make_client(); Paho C is a stripped system
// library, so only its module name can be matched.
extern "C" const char* __lsan_default_suppressions();
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libpaho-mqtt3as.so\n";
}
#endif

namespace labgate::gateway::mqtt {

namespace {
constexpr int kMaxQueuedInClient = 65535;

void* encode_context(std::uint64_t id) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
}
std::uint64_t decode_context(void* ctx) {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(ctx));
}
}  // namespace

class MqttLink::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(boost::asio::io_context& io, LinkConfig config)
      : io_(io),
        config_(std::move(config)),
        topics_(config_.site, config_.gateway),
        retry_timer_(io),
        backoff_(config_.first_connect_retry_min) {
    if (config_.client_id.empty()) {
      config_.client_id = "labgate-" + config_.site + "-" + config_.gateway;
    }
    if (config_.first_connect_retry_min.count() <= 0 ||
        config_.first_connect_retry_max < config_.first_connect_retry_min) {
      throw std::invalid_argument("MQTT first-connect retry bounds are invalid");
    }
    if (config_.reconnect_min.count() <= 0 || config_.reconnect_max < config_.reconnect_min) {
      throw std::invalid_argument("MQTT reconnect bounds are invalid");
    }
    if (config_.max_inflight < 1) throw std::invalid_argument("MQTT max_inflight must be >= 1");
  }

  // Wiring needs weak_from_this(), which is not usable inside the constructor.
  void init() {
    std::weak_ptr<Impl> weak = weak_from_this();
    publish_listener_.bind(io_, weak);
    connect_listener_.bind(io_, weak);
    disconnect_listener_.bind(io_, weak);

    auto builder = ::mqtt::connect_options_builder()
                       .mqtt_version(MQTTVERSION_3_1_1)
                       .clean_session(true)
                       .keep_alive_interval(config_.keep_alive)
                       .connect_timeout(config_.connect_timeout)
                       .max_inflight(config_.max_inflight)
                       .will(::mqtt::message(topics_.status(), "offline", kQos1, true));
    if (!config_.username.empty()) {
      builder.user_name(config_.username).password(config_.password);
    }
    if (config_.tls) {
      auto ssl = ::mqtt::ssl_options_builder()
                     .trust_store(config_.tls->ca_file)
                     .enable_server_cert_auth(true)
                     .verify(true);
      if (!config_.tls->cert_file.empty()) ssl.key_store(config_.tls->cert_file);
      if (!config_.tls->key_file.empty()) ssl.private_key(config_.tls->key_file);
      builder.ssl(ssl.finalize());
    }
    connect_options_ = builder.finalize();
    // Made now so a malformed server URI fails here rather than at the first connect.
    make_client();
  }

  ~Impl() {
    retry_timer_.cancel();
    if (client_) {
      try {
        if (client_->is_connected()) {
          // Shutdown path only: bounded so a dead broker cannot hang the daemon's exit.
          client_->disconnect(std::chrono::milliseconds(500))->wait_for(std::chrono::seconds(1));
        }
      } catch (const std::exception& e) {
        spdlog::debug("mqtt: disconnect at shutdown failed: {}", e.what());
      }
      client_.reset();
    }
  }

  void start() {
    if (started_) return;
    started_ = true;
    spdlog::info("mqtt: connecting to {} as {}", config_.server_uri, config_.client_id);
    attempt_connect();
  }

  void stop(std::function<void()> done) {
    stopping_ = true;
    retry_timer_.cancel();
    if (connected_) {
      try {
        client_->publish(::mqtt::make_message(topics_.status(), "offline", kQos1, true));
      } catch (const std::exception& e) {
        spdlog::debug("mqtt: could not publish offline status: {}", e.what());
      }
    }
    set_down("stopped");
    disconnect_done_ = std::move(done);
    try {
      client_->disconnect(std::chrono::milliseconds(1000), nullptr, disconnect_listener_);
    } catch (const std::exception&) {
      // Not connected (or never started): nothing to wait for.
      finish_disconnect();
    }
  }

  const Topics& topics() const { return topics_; }
  int failed_connect_attempts() const { return failed_attempts_; }
  bool connected() const { return connected_; }
  std::uint64_t generation() const { return generation_; }

  bool publish(const std::string& topic, const std::string& payload, int qos, bool retain,
               PublishHandler done) {
    if (!connected_) return false;
    const std::uint64_t id = next_publish_id_++;
    pending_.emplace(id, Pending{std::move(done)});
    try {
      client_->publish(::mqtt::make_message(topic, payload, qos, retain), encode_context(id),
                       publish_listener_);
    } catch (const std::exception& e) {
      pending_.erase(id);
      spdlog::debug("mqtt: publish to {} refused: {}", topic, e.what());
      return false;
    }
    return true;
  }

  HandlerId subscribe(const std::string& filter, int qos, MessageHandler handler) {
    const bool first = !has_filter(filter);
    const HandlerId id = next_handler_id_++;
    subscriptions_.emplace(id, Subscription{filter, qos, std::move(handler)});
    if (connected_ && first) broker_subscribe(filter, qos);
    return id;
  }

  void unsubscribe(HandlerId id) {
    auto it = subscriptions_.find(id);
    if (it == subscriptions_.end()) return;
    const std::string filter = it->second.filter;
    subscriptions_.erase(it);
    if (connected_ && !has_filter(filter)) {
      try {
        client_->unsubscribe(filter);
      } catch (const std::exception& e) {
        spdlog::debug("mqtt: unsubscribe {} failed: {}", filter, e.what());
      }
    }
  }

  HandlerId observe_connection(ConnectionHandler handler) {
    const HandlerId id = next_handler_id_++;
    observers_.emplace(id, std::move(handler));
    return id;
  }

  void unobserve_connection(HandlerId id) { observers_.erase(id); }

  // Called on the loop via post(); `epoch` names the client the report came from, and reports
  // of replaced clients are ignored.
  void on_connected(std::uint64_t epoch, const std::string& cause) {
    if (epoch != client_epoch_ || connected_ || stopping_) return;
    connected_ = true;
    ever_connected_ = true;
    ++generation_;
    failed_attempts_ = 0;
    backoff_ = config_.reconnect_min;
    spdlog::info("mqtt: connected to {}{}{}", config_.server_uri, cause.empty() ? "" : ": ", cause);
    fail_pending();
    std::map<std::string, int> filters;
    for (const auto& [id, sub] : subscriptions_) {
      auto& q = filters[sub.filter];
      q = std::max(q, sub.qos);
    }
    for (const auto& [filter, qos] : filters) broker_subscribe(filter, qos);
    try {
      client_->publish(::mqtt::make_message(topics_.status(), "online", kQos1, true));
    } catch (const std::exception& e) {
      spdlog::warn("mqtt: could not publish online status: {}", e.what());
    }
    notify_observers(true);
  }

  void on_connection_lost(std::uint64_t epoch, const std::string& cause) {
    if (epoch != client_epoch_ || !connected_) return;
    spdlog::warn("mqtt: connection lost{}{}; reconnecting in {} ms", cause.empty() ? "" : ": ",
                 cause, backoff_.count());
    set_down(cause);
    if (!stopping_) schedule_connect();
  }

  void on_connect_failed(std::uint64_t epoch, int rc) {
    if (epoch != client_epoch_) return;
    ++failed_attempts_;
    if (stopping_ || connected_) return;
    spdlog::warn("mqtt: connect to {} failed (rc {}), retry in {} ms", config_.server_uri, rc,
                 backoff_.count());
    schedule_connect();
  }

  void on_publish_done(std::uint64_t id, bool ok) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // already failed by a connection loss
    PublishHandler done = std::move(it->second.done);
    pending_.erase(it);
    if (done) done(ok);
  }

  void finish_disconnect() {
    if (auto done = std::move(disconnect_done_)) {
      disconnect_done_ = nullptr;
      done();
    }
  }

  void on_message(const std::string& topic, const std::string& payload) {
    std::vector<HandlerId> ids;
    for (const auto& [id, sub] : subscriptions_) {
      if (topic_matches(sub.filter, topic)) ids.push_back(id);
    }
    for (HandlerId id : ids) {
      // A handler may unsubscribe another (or itself): look each up again.
      auto it = subscriptions_.find(id);
      if (it == subscriptions_.end()) continue;
      MessageHandler handler = it->second.handler;
      try {
        handler(topic, payload);
      } catch (const std::exception& e) {
        spdlog::error("mqtt: handler for {} threw: {}", topic, e.what());
      }
    }
  }

 private:
  struct Pending {
    PublishHandler done;
  };
  struct Subscription {
    std::string filter;
    int qos;
    MessageHandler handler;
  };

  // Paho invokes listeners on its own threads; they only hand the outcome to the loop.
  class Listener : public ::mqtt::iaction_listener {
   public:
    enum class Kind { kPublish, kConnect, kDisconnect };
    explicit Listener(Kind kind) : kind_(kind) {}
    void bind(boost::asio::io_context& io, std::weak_ptr<Impl> impl) {
      io_ = &io;
      impl_ = std::move(impl);
    }
    void on_success(const ::mqtt::token& tok) override { report(tok, true); }
    void on_failure(const ::mqtt::token& tok) override { report(tok, false); }

   private:
    void report(const ::mqtt::token& tok, bool ok) {
      const std::uint64_t id = decode_context(tok.get_user_context());
      const int rc = tok.get_return_code();
      boost::asio::post(*io_, [impl = impl_, kind = kind_, id, ok, rc] {
        auto self = impl.lock();
        if (!self) return;
        switch (kind) {
          case Kind::kPublish:
            self->on_publish_done(id, ok);
            break;
          case Kind::kConnect:
            if (!ok) self->on_connect_failed(id, rc);
            break;
          case Kind::kDisconnect:
            self->finish_disconnect();
            break;
        }
      });
    }
    Kind kind_;
    boost::asio::io_context* io_{nullptr};
    std::weak_ptr<Impl> impl_;
  };

  // Paho keeps the publishes it has accepted but not yet written across a reconnect of the
  // same client, and writes them first on the new connection: ahead of the rows the drainer
  // re-sends from the first unacknowledged one, which would reorder what consumers see. So
  // every connection gets a fresh client, and destroying the old one drops its leftovers.
  // This is also why Paho's automatic reconnect stays off and the link retries by itself.
  //
  // Paho C 1.3.12 (Debian 12) does not free such leftovers when the client is destroyed
  // (upstream issue eclipse-paho/paho.mqtt.c#1474, fixed in later releases): each lost
  // connection leaks the publishes it had accepted and not yet written, at most one drainer
  // window and usually none. Reordering would be a correctness fault; this is a bounded
  // resource cost, logged so it can be seen.
  void make_client() {
    if (client_) {
      const std::size_t leftover = client_->get_pending_delivery_tokens().size();
      if (leftover > 0) {
        spdlog::info("mqtt: dropping {} publishes the lost connection had not written", leftover);
      }
    }
    client_.reset();
    client_used_ = false;
    const std::uint64_t epoch = ++client_epoch_;
    // Paho counts publishes queued inside it (not yet written) against maxBufferedMessages,
    // even when connected; the C++ default of 0 then refuses publishes under load. Offline
    // buffering stays off: the SQLite outbox is the buffer.
    ::mqtt::create_options create(MQTTVERSION_3_1_1);
    create.set_send_while_disconnected(false);
    create.set_max_buffered_messages(kMaxQueuedInClient);
    client_ = std::make_unique<::mqtt::async_client>(config_.server_uri, config_.client_id, create,
                                                     nullptr);
    auto& io = io_;
    std::weak_ptr<Impl> weak = weak_from_this();
    client_->set_connected_handler([&io, weak, epoch](const std::string& cause) {
      boost::asio::post(io, [weak, epoch, cause] {
        if (auto self = weak.lock()) self->on_connected(epoch, cause);
      });
    });
    client_->set_connection_lost_handler([&io, weak, epoch](const std::string& cause) {
      boost::asio::post(io, [weak, epoch, cause] {
        if (auto self = weak.lock()) self->on_connection_lost(epoch, cause);
      });
    });
    client_->set_message_callback([&io, weak](::mqtt::const_message_ptr msg) {
      if (!msg) return;
      boost::asio::post(io, [weak, topic = msg->get_topic(), payload = msg->to_string()] {
        if (auto self = weak.lock()) self->on_message(topic, payload);
      });
    });
  }

  void attempt_connect() {
    if (stopping_ || connected_) return;
    try {
      if (client_used_) make_client();
      client_used_ = true;
      client_->connect(connect_options_, encode_context(client_epoch_), connect_listener_);
    } catch (const std::exception& e) {
      spdlog::warn("mqtt: connect could not start: {}", e.what());
      on_connect_failed(client_epoch_, -1);
    }
  }

  // Exponential backoff; the bounds are wider once a connection has existed, because then a
  // broker restart (seconds) is the likely cause rather than a gateway booting before it.
  void schedule_connect() {
    const auto delay = backoff_;
    const auto ceiling = ever_connected_ ? config_.reconnect_max : config_.first_connect_retry_max;
    backoff_ = std::min(backoff_ * 2, ceiling);
    retry_timer_.expires_after(delay);
    retry_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->attempt_connect();
    });
  }

  void broker_subscribe(const std::string& filter, int qos) {
    try {
      client_->subscribe(filter, qos);
    } catch (const std::exception& e) {
      spdlog::warn("mqtt: subscribe {} failed: {}", filter, e.what());
    }
  }

  bool has_filter(const std::string& filter) const {
    for (const auto& [id, sub] : subscriptions_) {
      if (sub.filter == filter) return true;
    }
    return false;
  }

  void set_down(const std::string& /*cause*/) {
    const bool was_up = connected_;
    connected_ = false;
    fail_pending();
    if (was_up) notify_observers(false);
  }

  // With a clean session nothing unacknowledged survives the connection, so the outcome of
  // every pending publish is "lost" now; late Paho reports for them are ignored.
  void fail_pending() {
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [id, p] : pending) {
      if (p.done) p.done(false);
    }
  }

  void notify_observers(bool up) {
    std::vector<HandlerId> ids;
    for (const auto& [id, h] : observers_) ids.push_back(id);
    for (HandlerId id : ids) {
      auto it = observers_.find(id);
      if (it == observers_.end()) continue;
      ConnectionHandler handler = it->second;
      handler(up);
    }
  }

  boost::asio::io_context& io_;
  LinkConfig config_;
  Topics topics_;
  // Listeners are declared before the client so they outlive it.
  Listener publish_listener_{Listener::Kind::kPublish};
  Listener connect_listener_{Listener::Kind::kConnect};
  Listener disconnect_listener_{Listener::Kind::kDisconnect};
  std::unique_ptr<::mqtt::async_client> client_;
  ::mqtt::connect_options connect_options_;
  boost::asio::steady_timer retry_timer_;
  std::chrono::milliseconds backoff_;
  bool started_{false};
  bool stopping_{false};
  bool connected_{false};
  bool ever_connected_{false};
  bool client_used_{false};
  std::uint64_t client_epoch_{0};
  int failed_attempts_{0};
  std::uint64_t generation_{0};
  std::uint64_t next_publish_id_{1};
  HandlerId next_handler_id_{1};
  std::unordered_map<std::uint64_t, Pending> pending_;
  std::map<HandlerId, Subscription> subscriptions_;
  std::map<HandlerId, ConnectionHandler> observers_;
  std::function<void()> disconnect_done_;
};

MqttLink::MqttLink(boost::asio::io_context& io, LinkConfig config)
    : impl_(std::make_shared<Impl>(io, std::move(config))) {
  impl_->init();
}

MqttLink::~MqttLink() = default;

void MqttLink::start() {
  impl_->start();
}
void MqttLink::stop(std::function<void()> done) {
  impl_->stop(std::move(done));
}
const Topics& MqttLink::topics() const {
  return impl_->topics();
}
int MqttLink::failed_connect_attempts() const {
  return impl_->failed_connect_attempts();
}
bool MqttLink::connected() const {
  return impl_->connected();
}
std::uint64_t MqttLink::generation() const {
  return impl_->generation();
}
bool MqttLink::publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                       PublishHandler done) {
  return impl_->publish(topic, payload, qos, retain, std::move(done));
}
HandlerId MqttLink::subscribe(const std::string& filter, int qos, MessageHandler handler) {
  return impl_->subscribe(filter, qos, std::move(handler));
}
void MqttLink::unsubscribe(HandlerId id) {
  impl_->unsubscribe(id);
}
HandlerId MqttLink::observe_connection(ConnectionHandler handler) {
  return impl_->observe_connection(std::move(handler));
}
void MqttLink::unobserve_connection(HandlerId id) {
  impl_->unobserve_connection(id);
}

}  // namespace labgate::gateway::mqtt
