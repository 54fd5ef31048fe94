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
#include "labgate/gateway/store/changes.hpp"
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
    switch (spec.kind) {
      case config::DeviceSpec::Kind::kSim:
        return hub->create_output(spec.id);
      case config::DeviceSpec::Kind::kGpio: {
        drivers::gpio::LineSpec line;
        line.chip = spec.chip;
        line.offset = spec.line;
        line.active_low = spec.active_low;
        auto out = std::make_shared<drivers::gpio::GpioOutput>(spec.text, line);
        if (!out->ok()) spdlog::error("output {}: {}", spec.text, out->error());
        return out;
      }
      case config::DeviceSpec::Kind::kShelly:
      case config::DeviceSpec::Kind::kTasmota:
        if (mqtt) return mqtt->make_output(spec);
        break;
    }
    throw std::runtime_error("output " + spec.text + ": smart plugs need the MQTT module");
  }

  std::shared_ptr<drivers::Input> make_input(const config::DeviceSpec& spec,
                                             drivers::InputKind kind) {
    switch (spec.kind) {
      case config::DeviceSpec::Kind::kSim:
        return hub->create_input(spec.id, kind);
      case config::DeviceSpec::Kind::kGpio: {
        drivers::gpio::LineSpec line;
        line.chip = spec.chip;
        line.offset = spec.line;
        line.active_low = spec.active_low;
        auto in = std::make_shared<drivers::gpio::GpioInput>(spec.text, line);
        if (!in->ok()) spdlog::error("input {}: {}", spec.text, in->error());
        return in;
      }
      default:
        break;
    }
    throw std::runtime_error("input " + spec.text + ": unsupported device");
  }

  // A device the daemon drives for real keeps its simulated name ("<owner>.<role>") on the
  // control socket, so a simulated-device command aimed at it is refused with the reason
  // instead of "unknown".
  void declare_hardware(drivers::sim::DeviceClass cls, const config::DeviceSpec& spec,
                        const std::string& owner, const char* role) {
    if (spec.kind == config::DeviceSpec::Kind::kSim) return;
    const char* noun = cls == drivers::sim::DeviceClass::kOutput ? "output" : "input";
    const std::string what = spec.kind == config::DeviceSpec::Kind::kGpio
                                 ? std::string("a gpio ") + noun + " (" + spec.text + ")"
                                 : "an MQTT smart plug (" + spec.text + ")";
    hub->declare_hardware(cls, owner + "." + role, what);
  }

  void declare_hardware_devices() {
    using drivers::sim::DeviceClass;
    for (const auto& d : cfg.doors) {
      declare_hardware(DeviceClass::kOutput, d.strike, d.id, "strike");
      if (d.contact) declare_hardware(DeviceClass::kInput, *d.contact, d.id, "contact");
      if (d.exit_button) declare_hardware(DeviceClass::kInput, *d.exit_button, d.id, "exit_button");
    }
    for (const auto& m : cfg.machines) {
      declare_hardware(DeviceClass::kOutput, m.relay, m.id, "relay");
      if (m.busy) declare_hardware(DeviceClass::kInput, *m.busy, m.id, "busy");
    }
    if (cfg.fire_alarm.input) {
      declare_hardware(DeviceClass::kInput, *cfg.fire_alarm.input, "fire_alarm", "input");
    }
    for (const auto& r : cfg.readers) {
      if (!r.simulated && !r.desk) {
        hub->declare_hardware(DeviceClass::kReader, r.id, "a hardware reader (" + r.device + ")");
      }
    }
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

  bool open_store() {
    store::StoreOptions so;
    // Never an unsealed record: run() stopped already if this file was missing.
    so.seal_key_file = seal_key_path();
    so.seal_required = true;
    so.site_key = cfg.site.key;
    so.time_zone = cfg.site.timezone;
    so.database.busy_timeout = cfg.store.busy_timeout;
    so.clock = [this] {
      return std::chrono::duration_cast<milliseconds>(clock().wall().time_since_epoch()).count();
    };
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

  // On the change worker: opens its connection once, then applies the change as labgatectl
  // would on its own (store::apply_change), returning the record or the refusal.
  admin::ActionResult apply_change(const nlohmann::json& change, const store::Actor& actor) {
    using R = admin::ActionResult;
    if (!change_store) {
      store::StoreOptions so;
      // Its rows are sealed like the loop's: the sealer reads the head in each transaction.
      so.seal_key_file = seal_key_path();
      so.seal_required = true;
      so.site_key = cfg.site.key;
      so.time_zone = cfg.site.timezone;
      so.database.busy_timeout = cfg.store.busy_timeout;
      so.clock = [this] { return change_now_ms.load(); };
      auto opened = store::Store::open(db_path(), so);
      if (!opened) return R::failure(admin::ErrorCode::kUnavailable, opened.error().message);
      change_store = std::move(opened.value());
    }
    auto record = store::apply_change(*change_store, change, actor);
    if (!record) {
      const auto& e = record.error();
      const auto code =
          e.kind == store::ErrorKind::kForbidden  ? admin::ErrorCode::kForbidden
          : e.kind == store::ErrorKind::kNotFound ? admin::ErrorCode::kNotFound
          : e.kind == store::ErrorKind::kInvalid  ? admin::ErrorCode::kBadRequest
          : e.kind == store::ErrorKind::kConflict || e.kind == store::ErrorKind::kConstraint
              ? admin::ErrorCode::kConflict
              : admin::ErrorCode::kUnavailable;
      return R::failure(code, e.message);
    }
    return R{true, {}, {}, {{"record", nlohmann::json(*record)}}};
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
    site->set_credit_check(make_credit_check(*db, cfg.site.timezone));
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

  // Long (one registration per control-socket verb) so the command table reads in one place.
  void add_commands() {
    hub->add_command("status", [this](const std::vector<std::string>&) {
      if (!site) return std::string("ok store unavailable");
      std::string out = "ok";
      for (const auto& l : site->status_lines()) out += " | " + l;
      return out;
    });
    hub->add_command("clock", [this](const std::vector<std::string>& args) -> std::string {
      if (args.empty()) {
        return "ok " + local_time_string(clock().wall(), cfg.site.timezone);
      }
      if (!manual) {
        return "err the clock is the system clock: clock " + args[0] +
               " moves a simulated clock only (labgated --simulated-clock)";
      }
      if (args[0] == "advance" && args.size() == 2) {
        milliseconds d{};
        if (!parse_duration(args[1], d)) return "err bad duration: " + args[1];
        advance_in_steps(d);
      } else if (args[0] == "set" && args.size() >= 2) {
        std::string text = args[1];
        for (std::size_t i = 2; i < args.size(); ++i) text += " " + args[i];
        std::chrono::system_clock::time_point t;
        if (!parse_time(text, cfg.site.timezone, t)) return "err bad time: " + text;
        if (t < clock().wall()) return "err time never runs back";
        advance_in_steps(std::chrono::duration_cast<milliseconds>(t - clock().wall()));
      } else {
        return "err usage: clock | clock advance <90s|15m|2h> | clock set <YYYY-MM-DD HH:MM>";
      }
      return "ok " + local_time_string(clock().wall(), cfg.site.timezone);
    });
    auto machine_cmd = [this](const std::string& verb) {
      return [this, verb](const std::vector<std::string>& args) -> std::string {
        if (!site) return "err store unavailable";
        if (args.empty()) return "err usage: " + verb + " <machine> [reason]";
        std::string reason = args.size() > 1 ? args[1] : "staff";
        bool ok = verb == "confirm" ? site->confirm(args[0], args.size() > 1 ? args[1] : "control")
                  : verb == "lockout" ? site->lockout(args[0], reason, "control")
                                      : site->release(args[0], "control");
        return ok ? "ok " + verb + " " + args[0] : "err unknown machine " + args[0];
      };
    };
    hub->add_command("confirm", machine_cmd("confirm"));
    hub->add_command("lockout", machine_cmd("lockout"));
    hub->add_command("release", machine_cmd("release"));
    hub->add_command("unlock", [this](const std::vector<std::string>& args) -> std::string {
      if (!site) return "err store unavailable";
      if (args.size() != 1) return "err usage: unlock <door>";
      return site->remote_unlock(args[0], "control") ? "ok unlock " + args[0]
                                                     : "err unknown door " + args[0];
    });
    {
      std::set<std::string> reader_ids;
      for (const auto& r : cfg.readers)
        if (!r.desk) reader_ids.insert(r.id);
      enrollments = std::make_unique<Enrollments>(std::move(reader_ids), clock());
    }
    hub->add_command("enroll", [this](const std::vector<std::string>& args) -> std::string {
      if (!site) return "err store unavailable";
      return enrollments->arm_command(args);
    });
    hub->add_command("enroll-status", [this](const std::vector<std::string>& args) {
      return enrollments->status_command(args);
    });
    hub->add_command("read-result", [this](const std::vector<std::string>& args) {
      return read_ledger.command(args);
    });
    hub->add_command("all-stop", [this](const std::vector<std::string>&) -> std::string {
      if (!site) return "err store unavailable";
      site->all_stop("control");
      return "ok all-stop";
    });
  }

  // The admin channel's actions, over the running site (none while the store is unavailable).
  struct AdminActions final : admin::Actions {
    explicit AdminActions(Impl& owner) : app(owner) {}
    using R = admin::ActionResult;
    static R unavailable() {
      return R::failure(admin::ErrorCode::kUnavailable, "store unavailable");
    }
    static R unknown(const char* what, const std::string& id) {
      return R::failure(admin::ErrorCode::kNotFound, std::string("unknown ") + what + " " + id);
    }
    R status() override {
      if (!app.site) return unavailable();
      R r;
      r.data = {{"lines", app.site->status_lines()},
                {"faulted", app.site->faulted()},
                {"pending_writes", app.site->pending_writes()}};
      return r;
    }
    // The caller's declared account must exist and be active: one indexed read on the loop,
    // like a tap's. The uid is the kernel's.
    std::optional<R> refused(const admin::Caller& caller, store::Actor& actor) {
      if (!app.db) return unavailable();
      actor = store::Actor::declared(caller.as, caller.uid);
      if (auto st = store::check_account(app.db->database(), actor); !st) {
        return R::failure(st.error().kind == store::ErrorKind::kForbidden
                              ? admin::ErrorCode::kForbidden
                              : admin::ErrorCode::kUnavailable,
                          st.error().message);
      }
      return std::nullopt;
    }
    R unlock(const std::string& door, const admin::Caller& caller) override {
      if (!app.site) return unavailable();
      store::Actor actor;
      if (auto no = refused(caller, actor)) return *no;
      if (!app.site->remote_unlock(door, actor)) return unknown("door", door);
      return R{true, {}, {}, {{"door", door}}};
    }
    R lockout(const std::string& machine, const std::string& reason,
              const admin::Caller& caller) override {
      if (!app.site) return unavailable();
      store::Actor actor;
      if (auto no = refused(caller, actor)) return *no;
      if (!app.site->lockout(machine, reason, actor)) return unknown("machine", machine);
      return R{true, {}, {}, {{"machine", machine}, {"reason", reason}}};
    }
    R release(const std::string& machine, const admin::Caller& caller) override {
      if (!app.site) return unavailable();
      store::Actor actor;
      if (auto no = refused(caller, actor)) return *no;
      if (!app.site->release(machine, actor)) return unknown("machine", machine);
      return R{true, {}, {}, {{"machine", machine}}};
    }
    R confirm(const std::string& machine, const admin::Caller& caller) override {
      if (!app.site) return unavailable();
      store::Actor actor;
      if (auto no = refused(caller, actor)) return *no;
      if (!app.site->confirm(machine, actor)) return unknown("machine", machine);
      return R{true, {}, {}, {{"machine", machine}}};
    }
    R all_stop(const admin::Caller& caller) override {
      if (!app.site) return unavailable();
      store::Actor actor;
      if (auto no = refused(caller, actor)) return *no;
      app.site->all_stop(actor);
      return R{};
    }
    // As the signed MQTT `reload`: everything staff change lives in the store, which the site
    // reads per tap and polls for changes, so there is nothing to re-read; the configuration
    // file needs a restart. The request is audited all the same.
    R reload(const admin::Caller& caller) override {
      store::Actor actor;
      if (auto no = refused(caller, actor)) return *no;
      auto st = app.db->audit().append_audit(actor, "admin_reload", "site", R"({"reloaded":[]})");
      if (!st.ok()) spdlog::error("admin: audit of reload: {}", st.error().message);
      return R{true,
               {},
               {},
               {{"reloaded", nlohmann::json::array()},
                {"note",
                 "members, cards, certifications, plans and machines are read from the store "
                 "as they change; the site configuration needs a restart"}}};
    }
    // On the change worker, with its own connection: the loop (and every tap) goes on while
    // the change waits for SQLite's write lock or runs its checks. The store refuses a
    // declared account that is missing or inactive inside the change's own transaction.
    void change(const admin::Caller& caller, const nlohmann::json& change,
                std::function<void(R)> done) override {
      if (!app.db) {
        done(unavailable());
        return;
      }
      app.change_now_ms.store(app.db->now_ms());
      // The worker uses the Impl's members only: they outlive the pool, which joins first.
      Impl& impl = app;
      asio::post(impl.change_pool, [&impl, actor = store::Actor::declared(caller.as, caller.uid),
                                    change, done = std::move(done)]() mutable {
        R result = impl.apply_change(change, actor);
        asio::post(impl.io, [done = std::move(done), result = std::move(result)]() mutable {
          done(std::move(result));
        });
      });
    }
    Impl& app;
  };

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
    admin_actions = std::make_unique<AdminActions>(*this);
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
    declare_hardware_devices();
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
  // Staff changes sent over the admin channel (op "change") run on one worker thread with a
  // connection of their own, so the loop never waits for them. The worker's store reads the
  // time the loop set when it queued the change. The pool is destroyed (joined) before the
  // worker's store.
  std::atomic<std::int64_t> change_now_ms{0};
  std::unique_ptr<store::Store> change_store;  // used on the worker thread only
  asio::thread_pool change_pool{1};
  // After the site and store: destroyed first, so no request reaches a site that is gone.
  std::unique_ptr<AdminActions> admin_actions;
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
