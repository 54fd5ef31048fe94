#pragma once
// The composition root of labgated: builds every subsystem from the configuration, owns them,
// and runs the event loop. Nothing else in the daemon creates subsystems; nothing is global.

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "labgate/gateway/config/site_config.hpp"

namespace labgate::gateway::app {

/// Command-line overrides of the configuration.
struct Options {
  std::optional<std::string> db_path;         ///< replaces [store] path
  std::optional<std::string> control_socket;  ///< replaces [control] socket
  /// The sealing key file (docs/KEYS.md); default: "<database>.seal-key" beside the database.
  std::optional<std::string> seal_key_file;
  /// Run on a manual clock starting here (demo and tests); the control socket's `clock`
  /// command moves it.
  std::optional<std::chrono::system_clock::time_point> manual_clock_start;
  /// Housekeeping period: heartbeat, held-write retries, staff-change polling, closing time,
  /// the MQTT outbox check. Controller deadlines do not wait for it: each arms its own timer.
  std::chrono::milliseconds tick{100};
};

/// The daemon. Construct, then run() until SIGTERM/SIGINT or request_stop().
class Application {
 public:
  /// Takes a validated configuration.
  Application(config::SiteConfig config, Options options);
  ~Application();
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  /// Runs the event loop on the calling thread; returns the process exit code.
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace labgate::gateway::app
