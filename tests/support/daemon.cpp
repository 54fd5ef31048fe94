#include "daemon.hpp"

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "must.hpp"
#include "seed.hpp"

namespace labgate::testing {

namespace store = gateway::store;

std::string test_config(const std::string& dir, const std::string& extra) {
  std::string c = R"([site]
id = "test"
gateway = "gw-test"
timezone = "Asia/Tokyo"
key = ")" + test_key() +
                  R"("
accept = ["iso14443a", "felica"]
closing_time = "22:00"
holidays = ["2026-11-23"]

[store]
path = ")" + dir + R"(/lab.db"
busy_timeout_ms = 200
heartbeat_ms = 1000

[control]
socket = ")" + dir +
                  R"(/ctl.sock"

[admin]
socket = ")" + dir +
                  R"(/admin.sock"

[log]
level = "debug"

[[readers]]
id = "front-in"
device = "sim"

[[readers]]
id = "front-out"
device = "sim"

[[readers]]
id = "lab-in"
device = "sim"

[[readers]]
id = "laser"
device = "sim"

[[readers]]
id = "printer"
device = "sim"

[[doors]]
id = "front"
name = "Front door"
entry_reader = "front-in"
exit_reader = "front-out"
strike = "sim"
contact = "sim"
exit_button = "sim"
fail_mode = "secure"
strike_pulse_s = 5
held_open_s = 30
presence = true

[[doors]]
id = "lab"
name = "Lab"
entry_reader = "lab-in"
strike = "sim"
contact = "sim"
fail_mode = "safe"
strike_pulse_s = 4
held_open_s = 60
presence = false

[[machines]]
id = "laser"
name = "Laser"
reader = "laser"
relay = "sim"
busy = "sim"
certification = "laser"
mode = "card_stays"
grace_s = 10
idle_timeout_s = 600
max_session_s = 7200
busy_hold_max_s = 1800
inspection_interval_days = 90

[[machines]]
id = "printer"
name = "Printer"
reader = "printer"
relay = "sim"
certification = "printer"
mode = "tap_on_off"
grace_s = 5
idle_timeout_s = 0
max_session_s = 86400
inspection_interval_days = 180

[fire_alarm]
input = "sim"
)";
  return c + extra;
}

Daemon::Daemon(const TempDir& dir, std::string config_text)
    : dir_(dir.path().string()),
      db_(dir_ + "/lab.db"),
      socket_(dir_ + "/ctl.sock"),
      admin_socket_(dir_ + "/admin.sock"),
      log_(dir_ + "/labgated.log"),
      site_args_{"--config", config_path()} {
  write_private_file(config_path(), config_text.empty() ? test_config(dir_) : config_text);
}

Daemon::Daemon(DemoSite site)
    : db_(site.db.string()),
      socket_(site.socket.string()),
      // The admin channel beside the control socket, in the test's own folder.
      admin_socket_((site.socket.parent_path() / "admin.sock").string()),
      log_(site.log.string()),
      site_args_{"--db", db_, "--control-socket", socket_, "--admin-socket", admin_socket_} {}

Daemon::~Daemon() {
  client_.reset();
  child_.reset();
}

void Daemon::spawn(const std::string& clock_start) {
  launch({"--simulated-clock", clock_start}, {});
}

void Daemon::launch(const std::vector<std::string>& clock_args,
                    const std::map<std::string, std::string>& env) {
  client_.reset();
  ++starts_;
  seal_once();
  std::vector<std::string> argv{LABGATED_PATH};
  argv.insert(argv.end(), site_args_.begin(), site_args_.end());
  argv.insert(argv.end(), clock_args.begin(), clock_args.end());
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  child_ = std::make_unique<Child>(argv, log_, env);
}

void Daemon::seal_once() {
  namespace seal = store::seal;
  if (sealed_) return;
  const auto key_file = seal::default_key_path(db_);
  std::error_code ec;
  if (std::filesystem::exists(key_file, ec)) {
    sealed_ = true;  // the test made its own (or a previous Daemon on this file did)
    return;
  }
  std::filesystem::create_directories(std::filesystem::path(db_).parent_path(), ec);
  auto store = must(store::Store::open(db_, store::StoreOptions{}), "open store to seal");
  verification_key_ = must(
      seal::setup(store->database(), key_file, store->now_ms(), seal::kDefaultPeriodMs, "test"),
      "audit setup");
  sealed_ = true;
}

bool Daemon::wait_ready(std::chrono::milliseconds timeout) {
  return wait_until(
             [this] {
               if (!child_->running()) return true;  // reported below
               auto reply = request("status", std::chrono::seconds(2));
               return reply.rfind("ok |", 0) == 0 && reply.find("site fault=") != std::string::npos;
             },
             timeout) &&
         child_->running();
}

std::string Daemon::request(const std::string& line, std::chrono::milliseconds timeout) const {
  try {
    LineClient client(socket_path(), std::chrono::milliseconds(200));
    return client.request(line, timeout);
  } catch (const std::exception&) {
    return {};
  }
}

void Daemon::start(const std::string& clock_start) {
  spawn(clock_start);
  connect();
}

void Daemon::start_on_system_clock(const std::map<std::string, std::string>& env) {
  launch({}, env);
  connect();
}

void Daemon::connect() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    try {
      client_ = std::make_unique<LineClient>(socket_path(), std::chrono::milliseconds(200));
      if (client_->request("clock").rfind("ok", 0) == 0) return;
    } catch (const std::exception&) {
      client_.reset();
    }
    if (!child_->running()) throw std::runtime_error("labgated exited at start:\n" + log());
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("labgated did not answer:\n" + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string Daemon::cmd(const std::string& line) {
  if (!client_) throw std::runtime_error("daemon not started");
  return client_->request(line, std::chrono::seconds(20));
}

int Daemon::stop() {
  client_.reset();
  child_->signal(SIGTERM);
  auto rc = child_->wait(std::chrono::seconds(20));
  return rc.value_or(-1);
}

void Daemon::kill9() {
  client_.reset();
  child_->signal(SIGKILL);
  child_->wait(std::chrono::seconds(20));
}

std::string Daemon::log() const {
  return read_file(log_);
}

std::unique_ptr<store::Store> Daemon::open_store() const {
  store::StoreOptions o;
  o.site_key = store::parse_site_key(test_key()).value();
  o.time_zone = "Asia/Tokyo";
  // The record is sealed before the first start, so a test's writes seal like the daemon's.
  o.seal_key_file = store::seal::default_key_path(db_path());
  return must(store::Store::open(db_path(), o), "open store");
}

void seed_cast(store::Store& s) {
  // labgatectl(...) declares the staff account "test", which must exist and be active.
  must(s.staff().add_staff_account({"test", "Test staff", "admin", true, 0}, "setup"),
       "staff account test");
  seed_plan_all(s);
  must(s.staff().add_plan({"day", "Day", "mon-fri 09:00-17:00", false, false}, "test"), "plan day");
  seed_certification_type(s, "laser", 365);
  seed_certification_type(s, "printer");
  seed_member(s, {"M1", "all", {0x04, 0x00, 0x00, 0x01}, {"laser", "printer"}});
  seed_member(s, {"M2", "day", {0x04, 0x00, 0x00, 0x02}, {}});
  seed_member(s, {"M3", "all", {0x04, 0x00, 0x00, 0x03}, {}});
  seed_member(s, {"M4", "all", {0x04, 0x00, 0x00, 0x04}, {"laser"}, "2025-01-01"});  // expired
  must(s.staff().suspend_member("M3", "unpaid", "test"), "suspend");
  store::NewMachine laser{"laser", "Laser", std::string("laser"), "hold", 90, false};
  store::NewMachine printer{"printer", "Printer", std::string("printer"), "tap", 180, false};
  must(s.staff().add_machine(laser, "test"), "machine laser");
  must(s.staff().add_machine(printer, "test"), "machine printer");
  for (const char* id : {"laser", "printer"}) {
    store::NewInspection in;
    in.machine_id = id;
    in.done_on = "2026-11-01";
    in.inspector = "Inspector";
    in.result = "pass";
    must(s.staff().record_inspection(in, "test"), "inspection");
  }
}

RunResult labgatectl(const Daemon& d, const std::vector<std::string>& args) {
  std::vector<std::string> argv{LABGATECTL_PATH, "--config", d.config_path(), "--actor", "test"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

}  // namespace labgate::testing
