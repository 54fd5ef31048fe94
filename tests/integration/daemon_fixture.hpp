#pragma once
// Starts the real labgated binary on a generated configuration in a temp dir, seeded through
// the store API, and drives it through its control socket.

#include <signal.h>

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

/// One running daemon. Destruction SIGKILLs it if still alive.
class Daemon {
 public:
  /// Writes the config to dir/site.toml (mode 0600) and seeds nothing; call start().
  explicit Daemon(const TempDir& dir, std::string config_text = {});
  ~Daemon();

  /// Extra labgated arguments for every later start() (e.g. "--reader-device" overrides).
  void set_extra_args(std::vector<std::string> args) { extra_args_ = std::move(args); }
  /// Starts labgated with a manual clock at `clock_start` (local JST "YYYY-MM-DD HH:MM") and
  /// waits until the control socket answers.
  void start(const std::string& clock_start = "2026-11-24 10:00");
  /// Starts labgated on the system clocks (no --simulated-clock), with `env` added to its
  /// environment (e.g. a preloaded time faker), and waits until the control socket answers.
  void start_on_system_clock(const std::map<std::string, std::string>& env);
  /// One control-socket command; returns the reply line.
  std::string cmd(const std::string& line);
  /// SIGTERM and wait; returns the exit status.
  int stop();
  /// SIGKILL and wait.
  void kill9();
  /// The daemon's log so far.
  std::string log() const;

  /// Paths.
  std::string db_path() const { return dir_ + "/lab.db"; }
  std::string config_path() const { return dir_ + "/site.toml"; }
  std::string socket_path() const { return dir_ + "/ctl.sock"; }
  std::string admin_socket_path() const { return dir_ + "/admin.sock"; }

  /// Opens the store on the daemon's database (another connection, as labgatectl would).
  std::unique_ptr<gateway::store::Store> open_store() const;

 private:
  void launch(std::vector<std::string> argv, const std::map<std::string, std::string>& env);

  std::string dir_;
  std::unique_ptr<Child> child_;
  std::unique_ptr<LineClient> client_;
  int starts_{0};
  std::vector<std::string> extra_args_;
};

/// Seeds a standard cast into a store: plan "all" (24h), plan "day" (mon-fri 09:00-17:00),
/// certification types laser and printer; members M1 (active, all, laser+printer certs,
/// card 04000001), M2 (active, day plan, no certs, card 04000002), M3 (suspended, card 04000003),
/// M4 (active, all, laser cert expired, card 04000004); machines pass inspection on 2026-11-01.
void seed_cast(gateway::store::Store& store);

/// Runs labgatectl against the daemon's database; returns the result.
RunResult labgatectl(const Daemon& d, const std::vector<std::string>& args);

}  // namespace labgate::testing
