#pragma once
// The real labgated binary as the integration suites run it: on a generated configuration in a
// temp dir (or on the built-in demo site), on a manual clock, seeded through the store API and
// driven through its control socket.

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "labgate/gateway/store/store.hpp"
#include "process.hpp"
#include "test_keys.hpp"

namespace labgate::testing {

/// A small site keyed with test_key(): door "front" (entry reader front-in, exit reader front-out,
/// contact, exit button, fail-secure, presence), door "lab" (fail-safe, entry reader lab-in),
/// machine "laser" (card stays, busy input, certification laser, grace 10 s, idle 600 s,
/// busy hold at most 30 min), machine
/// "printer" (tap on/off, certification printer, grace 5 s), a fire alarm. `extra` is appended.
std::string test_config(const std::string& dir, const std::string& extra = {});

/// Where a daemon on the built-in demo site (no config file) keeps its database, control socket
/// and log.
struct DemoSite {
  std::filesystem::path db;
  std::filesystem::path socket;
  std::filesystem::path log;
};

/// One running daemon. Destruction SIGKILLs it if still alive.
class Daemon {
 public:
  /// Writes the config to dir/site.toml (mode 0600) and seeds nothing; call start().
  explicit Daemon(const TempDir& dir, std::string config_text = {});
  /// A daemon on the built-in demo site ("--db", "--control-socket"); call start() or spawn().
  explicit Daemon(DemoSite site);
  ~Daemon();

  /// Extra labgated arguments for every later start() (e.g. "--reader-device" overrides).
  void set_extra_args(std::vector<std::string> args) { extra_args_ = std::move(args); }
  /// Starts labgated with a manual clock at `clock_start` (local JST "YYYY-MM-DD HH:MM") and
  /// waits until the control socket answers.
  void start(const std::string& clock_start = "2026-11-24 10:00");
  /// Starts labgated on the system clocks (no --simulated-clock), with `env` added to its
  /// environment (e.g. a preloaded time faker), and waits until the control socket answers.
  void start_on_system_clock(const std::map<std::string, std::string>& env);
  /// Starts labgated as start() does without waiting for it; see wait_ready().
  void spawn(const std::string& clock_start);
  /// Waits until the control socket answers `status` with the site's lines (the store opened and
  /// the site started). False on timeout or when the process exits.
  bool wait_ready(std::chrono::milliseconds timeout);
  /// One control-socket command on the daemon's standing connection; returns the reply line.
  std::string cmd(const std::string& line);
  /// One request on a fresh connection; empty when the daemon does not answer (it may be dying).
  std::string request(const std::string& line,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  /// The process (for signals and waiting); spawn() or start() first.
  Child& child() { return *child_; }
  /// SIGTERM and wait; returns the exit status.
  int stop();
  /// SIGKILL and wait.
  void kill9();
  /// The daemon's log so far.
  std::string log() const;

  /// Paths.
  std::string db_path() const { return db_; }
  std::string config_path() const { return dir_ + "/site.toml"; }
  std::string socket_path() const { return socket_; }
  std::string admin_socket_path() const { return admin_socket_; }

  /// Opens the store on the daemon's database (another connection, as labgatectl would) with
  /// test_key(); for a daemon made from a config.
  std::unique_ptr<gateway::store::Store> open_store() const;
  /// The audit record's verification key, made (with the sealing key beside the database, as
  /// `labgatectl audit setup` does) before the first start: labgated never runs without one.
  const gateway::store::seal::Key& verification_key() const { return verification_key_; }

 private:
  void seal_once();
  void launch(const std::vector<std::string>& clock_args,
              const std::map<std::string, std::string>& env);
  void connect();

  std::string dir_;
  std::string db_;
  std::string socket_;
  std::string admin_socket_;
  std::string log_;
  std::vector<std::string> site_args_;  // "--config ..." or the demo site's "--db ..."
  std::unique_ptr<Child> child_;
  std::unique_ptr<LineClient> client_;
  int starts_{0};
  std::vector<std::string> extra_args_;
  gateway::store::seal::Key verification_key_{};
  bool sealed_{false};
};

/// Seeds a standard cast into a store: plan "all" (24h), plan "day" (mon-fri 09:00-17:00),
/// certification types laser and printer; members M1 (active, all, laser+printer certs,
/// card 04000001), M2 (active, day plan, no certs, card 04000002), M3 (suspended, card 04000003),
/// M4 (active, all, laser cert expired, card 04000004); machines pass inspection on 2026-11-01.
void seed_cast(gateway::store::Store& store);

/// Runs labgatectl against the daemon's database; returns the result.
RunResult labgatectl(const Daemon& d, const std::vector<std::string>& args);

}  // namespace labgate::testing
