#include "labgate/gateway/app/application.hpp"

#include <grp.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <cstdlib>
#include <map>
#include <thread>

#include "admin_actions.hpp"
#include "control_commands.hpp"
#include "device_factory.hpp"
#include "labgate/drivers/gpio/gpio.hpp"
#include "labgate/drivers/sim/sim_hub.hpp"
#include "labgate/gateway/admin/server.hpp"
#include "labgate/gateway/app/clock.hpp"
#include "labgate/gateway/app/credit.hpp"
#include "labgate/gateway/app/enrollment.hpp"
#include "labgate/gateway/app/mqtt_bridge.hpp"
#include "labgate/gateway/app/readers.hpp"
#include "labgate/gateway/app/site.hpp"
#include "labgate/gateway/mqtt/payloads.hpp"
#include "labgate/gateway/mqtt/topics.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::app {

namespace asio = boost::asio;
using std::chrono::milliseconds;

struct Application::Impl {
  Impl(config::SiteConfig c, Options o)
      : cfg(std::move(c)),
        opts(std::move(o)),
        ticker(io),
        deadline_timer(io),
        signals(io, SIGINT, SIGTERM) {
    if (opts.manual_clock_start) {
      manual = std::make_unique<ManualClock>(*opts.manual_clock_start);
    } else {
      system = std::make_unique<SystemClock>();
    }
  }

  Clock& clock() { return manual ? static_cast<Clock&>(*manual) : static_cast<Clock&>(*system); }

  std::string db_path() const { return opts.db_path.value_or(cfg.store.path); }
  std::string socket_path() const { return opts.control_socket.value_or(cfg.control.socket); }

  // Outputs come first so a strike or relay is in its safe state before anything else runs.
  std::shared_ptr<drivers::Output> make_output(const config::DeviceSpec& spec) {
    return app::make_output(spec, *hub, mqtt.get());
  }
  std::shared_ptr<drivers::Input> make_input(const config::DeviceSpec& spec,
                                             drivers::InputKind kind) {
    return app::make_input(spec, kind, *hub);
  }

  void build_devices() {
    for (const auto& d : cfg.doors) {
      auto strike = make_output(d.strike);
      // Before the controllers exist the safe state is the fail mode: secure doors locked,
      // safe doors released.
      strike->set(d.fail_mode == config::FailMode::kSafe);
      strikes[d.id] = strike;
      if (d.contact) {
        auto in = make_input(*d.contact, drivers::InputKind::kDoorContact);
        input_targets[in->id()] = {drivers::InputKind::kDoorContact, d.id};
        inputs.push_back(in);
      }
      if (d.exit_button) {
        auto in = make_input(*d.exit_button, drivers::InputKind::kExitButton);
        input_targets[in->id()] = {drivers::InputKind::kExitButton, d.id};
        inputs.push_back(in);
      }
    }
    for (const auto& m : cfg.machines) {
      auto relay = make_output(m.relay);
      relay->set(false);
      relays[m.id] = relay;
      if (m.busy) {
        auto in = make_input(*m.busy, drivers::InputKind::kBusy);
        input_targets[in->id()] = {drivers::InputKind::kBusy, m.id};
        inputs.push_back(in);
      }
    }
    if (cfg.fire_alarm.input) {
      auto in = make_input(*cfg.fire_alarm.input, drivers::InputKind::kFireAlarm);
      input_targets[in->id()] = {drivers::InputKind::kFireAlarm, "site"};
      inputs.push_back(in);
    }
    const bool hardware =
        std::any_of(cfg.readers.begin(), cfg.readers.end(),
                    [](const config::ReaderConfig& r) { return !r.simulated && !r.desk; });
    // Simulated readers carry no cryptography: the sim reports DESFire cards unproven, and they
    // are refused. A site with real readers takes DESFire cards only with its key file; without
    // [desfire] key_file every DESFire card is refused as not authenticated.
    DesfireSetup desfire;
    if (hardware && !cfg.desfire.key_file.empty()) {
      desfire = load_desfire_setup(cfg);
    } else if (hardware) {
      spdlog::warn("no [desfire] key_file: DESFire cards cannot be authenticated and are refused");
    }
    key_accept_until = desfire.accept_until;
    for (const auto& r : cfg.readers) {
      if (r.desk) continue;  // labgatectl's, at the desk: the daemon must not poll it
      readers.push_back(r.simulated ? hub->create_reader(r.id)
                                    : make_hardware_reader(r, cfg, desfire));
    }
    for (auto t : {policy::Technology::kIso14443a, policy::Technology::kFelica,
                   policy::Technology::kDesfireUid}) {
      if (cfg.site.accept.contains(t)) {
        spdlog::warn("site accepts {} cards, which can be cloned", policy::to_string(t));
      }
    }
  }

  std::filesystem::path seal_key_path() const {
    return opts.seal_key_file ? std::filesystem::path(*opts.seal_key_file)
                              : store::seal::default_key_path(db_path());
  }

  // Every connection the daemon opens: sealed (never an unsealed record: run() stopped already
  // if the key file was missing), with the site's key and time zone.
  store::StoreOptions store_options(std::function<std::int64_t()> now_ms) const {
    store::StoreOptions so;
    so.seal_key_file = seal_key_path();
    so.seal_required = true;
    so.site_key = cfg.site.key;
    so.time_zone = cfg.site.timezone;
    so.database.busy_timeout = cfg.store.busy_timeout;
    so.clock = std::move(now_ms);
    return so;
  }

  bool open_store() {
    auto so = store_options([this] {
      return std::chrono::duration_cast<milliseconds>(clock().wall().time_since_epoch()).count();
    });
    std::filesystem::path p(db_path());
    if (p.has_parent_path()) {
      std::error_code ec;
      // A data folder made here is as private as the package's: 0750, whatever the umask.
      if (std::filesystem::create_directories(p.parent_path(), ec)) {
        std::filesystem::permissions(p.parent_path(),
                                     std::filesystem::perms::owner_all |
                                         std::filesystem::perms::group_read |
                                         std::filesystem::perms::group_exec,
                                     std::filesystem::perm_options::replace, ec);
      }
    }
    auto opened = store::Store::open(p, so);
    if (!opened.ok()) {
      spdlog::error("store {} unavailable: {} — doors in their fail mode, machines off; retrying",
                    p.string(), opened.error().message);
      return false;
    }
    db = std::move(opened.value());
    if (const auto& w = db->database().exposure_warning(); !w.empty()) spdlog::warn("{}", w);
    sync_plans();
    return true;
  }

  void sync_plans() {
    auto existing = db->staff().list_plans();
    if (!existing.ok()) return;
    for (const auto& p : cfg.plans) {
      bool found = false;
      for (const auto& e : existing.value()) found = found || e.code == p.id;
      if (found) continue;
      store::NewPlan np;
      np.code = p.id;
      np.name = p.name;
      np.windows = policy::to_string(p.access.windows);
      np.holidays_allowed = p.access.holidays;
      np.closure_allowed = p.access.closure;
      if (auto r = db->staff().add_plan(np, "labgated"); !r.ok()) {
        spdlog::error("plan {}: {}", p.id, r.error().message);
      }
    }
  }

  void start_site() {
    auto setup = site_setup_from(cfg);
    setup.key_accept_until = key_accept_until;
    site = std::make_unique<Site>(std::move(setup), *db, clock());
    for (auto& [id, out] : strikes) site->attach_strike(id, out);
    for (auto& [id, out] : relays) site->attach_relay(id, out);
    for (auto& [input_id, target] : input_targets) {
      site->bind_input(input_id, target.first, target.second);
    }
    site->set_deadline_listener([this](std::optional<milliseconds> d) { arm_deadline(d); });
    site->start();
    site->set_credit_check(make_credit_check(*db, cfg.site.timezone, cfg.billing));
    site->set_commit_observer(
        [this](std::int64_t seq, const mqtt::OutboxMessage& m) { stream_commit(seq, m); });
    site->set_card_interceptor([this](const drivers::ReaderEvent& ev, Site::TapDone& done) {
      return enrollments && db && enrollments->intercept(ev, *db, done);
    });
    if (mqtt) mqtt->attach(*db, *site);
    // Simulated devices report on the loop thread itself (from control-socket commands), so
    // they are handled at once and a command's reply follows its effect. Every other backend
    // reports from its own thread and is posted to the loop.
    for (auto& r : readers) {
      bool on_loop = hub->reader(r->id()) == r;
      r->start([this, on_loop](drivers::ReaderEvent ev) {
        auto handle = [this, ev]() {
          if (!site) return;
          const std::uint64_t read_no = ev.kind == drivers::ReaderEvent::Kind::kCardPresent
                                            ? read_ledger.arrived(ev.reader_id)
                                            : 0;
          site->on_reader_event(ev, [this, ev, read_no](const TapOutcome& o) {
            if (read_no != 0) read_ledger.acknowledged(ev.reader_id, read_no, o.summary());
            if (hub) hub->acknowledge(ev, o.summary());
          });
          if (ev.kind == drivers::ReaderEvent::Kind::kCardRemoved) {
            read_ledger.removed(ev.reader_id);
          }
        };
        if (on_loop) {
          handle();
        } else {
          asio::post(io, handle);
        }
      });
    }
    for (auto& in : inputs) {
      bool on_loop = hub->input(in->id()) == in;
      in->start([this, on_loop](drivers::InputEvent ev) {
        if (on_loop) {
          if (site) site->on_input(ev);
          return;
        }
        asio::post(io, [this, ev = std::move(ev)]() {
          if (site) site->on_input(ev);
        });
      });
    }
  }

  void add_commands() {
    std::set<std::string> reader_ids;
    for (const auto& r : cfg.readers)
      if (!r.desk) reader_ids.insert(r.id);
    enrollments = std::make_unique<Enrollments>(std::move(reader_ids), clock());
    std::function<void(milliseconds)> advance;
    if (manual) advance = [this](milliseconds d) { advance_in_steps(d); };
    add_control_commands(ControlWiring{*hub, site, clock(), std::move(advance), cfg.site.timezone,
                                       *enrollments, read_ledger});
  }

  void start_admin() {
    if (cfg.admin.socket.empty()) return;
    admin::ServerOptions o;
    o.socket_path = cfg.admin.socket;
    o.max_clients = static_cast<std::size_t>(cfg.admin.max_clients);
    o.max_queued_lines = static_cast<std::size_t>(cfg.admin.client_queue);
    if (!cfg.admin.group.empty()) {
      // Looked up once at start (the user database may be slow); never on the loop later.
      const group* g = ::getgrnam(cfg.admin.group.c_str());
      if (g == nullptr)
        throw std::runtime_error("[admin] group " + cfg.admin.group + " does not exist");
      o.group = g->gr_gid;
    }
    admin_actions = std::make_unique<SiteAdminActions>(
        AdminWiring{io, site, db, enrollments, db_path(), store_options({}), cfg.billing});
    admin_server = std::make_unique<admin::Server>(io, *admin_actions, std::move(o));
    try {
      admin_server->listen();
    } catch (const std::exception& e) {
      // Doors and machines do not depend on it: run on without the channel, loudly. (Asio's
      // errors are boost::system::system_error, not std::system_error.)
      spdlog::error("admin channel unavailable: {}", e.what());
      admin_server.reset();
    }
  }

  // One committed write, to the live stream: the outbox message the journal built for it.
  void stream_commit(std::int64_t seq, const mqtt::OutboxMessage& m) {
    if (!admin_server || !admin_server->has_subscribers()) return;
    admin_server->publish({seq, m.topic, m.payload, m.retain});
  }

  // A long jump of the manual clock is taken in steps so periodic work (heartbeat, retries,
  // staff-change polling) happens along the way as it would in real time.
  void advance_in_steps(milliseconds total) {
    const milliseconds step = std::max(milliseconds(1000), total / 20);
    while (total.count() > 0) {
      auto d = std::min(step, total);
      manual->advance(d);
      total -= d;
      if (site) site->tick();
    }
  }

  // The firmware's next deadline (a strike pulse's end, grace, idle, max session) gets a timer
  // of its own, so it is met to the millisecond without polling. A manual clock moves only by
  // the `clock` command, which ticks the site itself.
  void arm_deadline(std::optional<milliseconds> deadline) {
    if (manual || deadline == armed_deadline) return;
    armed_deadline = deadline;
    if (!deadline) {
      deadline_timer.cancel();
      return;
    }
    // +1 ms: mono() counts whole milliseconds, so the deadline is due once that one has passed.
    const auto wait = std::max(milliseconds(0), *deadline - clock().mono() + milliseconds(1));
    deadline_timer.expires_after(wait);
    deadline_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      armed_deadline.reset();
      if (site) site->on_deadline();
    });
  }

  void schedule_tick() {
    ticker.expires_after(opts.tick);
    ticker.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      on_tick();
      schedule_tick();
    });
  }

  void on_tick() {
    if (!site) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_store_attempt >= std::chrono::seconds(2)) {
        last_store_attempt = now;
        if (open_store()) start_site();
      }
    } else {
      site->tick();
      publish_checkpoint();
    }
    if (mqtt) mqtt->tick();
    if (watchdog_usec > 0) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_watchdog >= std::chrono::microseconds(watchdog_usec / 2)) {
        last_watchdog = now;
        sd_notify(0, "WATCHDOG=1");
      }
    }
  }

  // The head of the sealed record, retained on the broker: a copy off the box, so rows deleted
  // from the end of the record (with their seals) show. At most once a minute, and only when the
  // head moved; the outbox row is not sealed, so publishing never moves the head itself.
  void publish_checkpoint() {
    const auto now = std::chrono::steady_clock::now();
    if (!cfg.mqtt.enabled || now - last_checkpoint < std::chrono::seconds(60)) return;
    last_checkpoint = now;
    auto head = db->seal_head();
    if (!head.ok() || !head.value() || head.value()->seq == published_checkpoint_seq) return;
    published_checkpoint_seq = head.value()->seq;
    const auto line = store::seal::format_checkpoint(*head.value());
    site->publish_retained(mqtt::Topics(cfg.site.id, cfg.site.gateway).audit_checkpoint(),
                           [line](const mqtt::EventHeader& h) {
                             nlohmann::json j;
                             j["checkpoint"] = line;
                             j["at"] = mqtt::iso8601_utc(h.time);
                             j["seq"] = h.seq;
                             j["event_id"] = h.event_id;
                             return j.dump();
                           });
  }

  void shutdown() {
    spdlog::info("stopping: every machine relay off");
    for (auto& r : readers) r->stop();
    for (auto& in : inputs) in->stop();
    if (site) site->stop();
    for (auto& [id, out] : relays) out->set(false);
    ticker.cancel();
    deadline_timer.cancel();
    if (hub) hub->close();
    if (admin_server) admin_server->close();
    sd_notify(0, "STOPPING=1");
    if (!mqtt) {
      io.stop();
      return;
    }
    // "offline" is published before the loop ends, bounded so a dead broker cannot hold it.
    auto bound = std::make_shared<asio::steady_timer>(io, std::chrono::seconds(2));
    bound->async_wait([this, bound](const boost::system::error_code&) { io.stop(); });
    mqtt->stop([this] { io.stop(); });
  }

  int run() {
    hub = std::make_unique<drivers::sim::SimHub>(io);
    if (cfg.mqtt.enabled) mqtt = std::make_unique<MqttBridge>(io, cfg);
    build_devices();
    declare_hardware_devices(cfg, *hub);
    // The sealing key is checked before any socket or the store opens: without it the daemon does
    // not run (it never writes an unsealed record), and the reason is a configuration fault, not a
    // store outage to retry.
    if (auto key = store::seal::load_key_state(seal_key_path()); !key) {
      spdlog::critical("cannot start: {}", key.error().message);
      return 1;
    } else {
      sodium_memzero(key->key.data(), key->key.size());
    }
    add_commands();
    start_admin();
    auto sock = socket_path();
    if (!sock.empty()) {
      std::filesystem::path p(sock);
      if (p.has_parent_path()) {
        std::error_code ec;
        std::filesystem::create_directories(p.parent_path(), ec);
      }
      hub->listen(sock);
      spdlog::info("control socket {}", sock);
    }
    if (mqtt) mqtt->start();
    if (open_store()) start_site();
    last_store_attempt = std::chrono::steady_clock::now();
    signals.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      spdlog::info("signal {}", sig);
      shutdown();
    });
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0) watchdog_usec = usec;
    schedule_tick();
    sd_notify(0, "READY=1");
    spdlog::info("labgated running: site {} gateway {}, {} doors, {} machines, database {}",
                 cfg.site.id, cfg.site.gateway, cfg.doors.size(), cfg.machines.size(), db_path());
    io.run();
    return 0;
  }

  config::SiteConfig cfg;
  Options opts;
  asio::io_context io;
  asio::steady_timer ticker;  // housekeeping (Options::tick)
  std::chrono::steady_clock::time_point last_checkpoint{};
  std::int64_t published_checkpoint_seq{-1};
  asio::steady_timer deadline_timer;
  std::optional<milliseconds> armed_deadline;  // what deadline_timer waits for
  asio::signal_set signals;
  std::unique_ptr<SystemClock> system;
  std::unique_ptr<ManualClock> manual;
  // Declared before the site and store: plugs the site holds use the bridge's link, and the
  // bridge is detached from the store explicitly before either goes.
  std::unique_ptr<MqttBridge> mqtt;
  std::unique_ptr<drivers::sim::SimHub> hub;
  // Outcomes of card reads for `read-result`; declared before the site, which may still
  // acknowledge reads while it is destroyed.
  ReadLedger read_ledger;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<Site> site;
  std::unique_ptr<Enrollments> enrollments;
  // After the site and store: destroyed first, so no request reaches a site that is gone.
  // Staff changes sent over the channel (op "change") run on the actions' own worker thread
  // with a connection of their own, so the loop never waits for them.
  std::unique_ptr<SiteAdminActions> admin_actions;
  std::unique_ptr<admin::Server> admin_server;
  std::map<std::string, std::shared_ptr<drivers::Output>> strikes;
  std::map<std::string, std::shared_ptr<drivers::Output>> relays;
  std::map<std::string, std::pair<drivers::InputKind, std::string>> input_targets;
  std::vector<std::shared_ptr<drivers::Input>> inputs;
  std::vector<std::shared_ptr<drivers::Reader>> readers;
  std::map<int, std::string> key_accept_until;  // DESFire key versions the readers hold
  std::chrono::steady_clock::time_point last_store_attempt{};
  std::chrono::steady_clock::time_point last_watchdog{};
  std::uint64_t watchdog_usec{0};
};

Application::Application(config::SiteConfig config, Options options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {}

Application::~Application() {
  if (impl_) {
    if (impl_->mqtt) impl_->mqtt->detach();
    for (auto& r : impl_->readers) r->stop();
    for (auto& in : impl_->inputs) in->stop();
  }
}

int Application::run() {
  return impl_->run();
}

}  // namespace labgate::gateway::app
