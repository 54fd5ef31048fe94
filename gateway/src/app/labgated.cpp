// labgated: the access-control and machine-interlock daemon.

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "labgate/gateway/app/application.hpp"
#include "labgate/gateway/app/clock.hpp"
#include "labgate/gateway/app/readers.hpp"
#include "labgate/gateway/config/site_config.hpp"
#include "labgate/version.hpp"

namespace cfg = labgate::gateway::config;
namespace app = labgate::gateway::app;

// Long: the whole command line, then the hand-over to Application, read top to bottom.
int main(int argc, char** argv) {
  CLI::App cli{"labgated: doors, machines and usage records for a fab lab and coworking space"};
  std::string config_path;
  std::string check_path;
  std::string db_path;
  std::string socket_path;
  std::string admin_socket;
  std::string sim_clock;
  std::string log_level;
  std::vector<std::string> reader_devices;
  std::string key_file;
  std::string seal_key_file;
  cli.add_option("-c,--config", config_path,
                 "site configuration (TOML); default: the built-in demo site");
  cli.add_option("--check-config", check_path, "validate a configuration file and exit");
  cli.add_option("--db", db_path, "SQLite database file (overrides [store] path)");
  cli.add_option("--control-socket", socket_path,
                 "simulated devices' control socket (overrides [control] socket; \"\" = none)");
  cli.add_option("--admin-socket", admin_socket,
                 "the admin channel's socket (overrides [admin] socket; \"\" = none)");
  cli.add_option("--simulated-clock", sim_clock,
                 "run on a manual clock starting at this local time (\"2026-11-24 08:00\"); "
                 "the control socket's `clock` command moves it");
  cli.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error (overrides [log] level)");
  cli.add_option("--reader-device", reader_devices,
                 "<reader-id>=<connstring>: open this reader on another device than its config "
                 "says (a libnfc connstring such as pn532_uart:/dev/ttyUSB0, or sim); repeatable")
      ->take_all();
  cli.add_option("--key-file", key_file,
                 "the site's DESFire key file (overrides [desfire] key_file; see docs/KEYS.md)");
  cli.add_option("--seal-key-file", seal_key_file,
                 "the sealing key file of the audit record (default: <database>.seal-key; "
                 "labgatectl audit setup makes it; see docs/KEYS.md)");
  cli.set_version_flag("--version", std::string("labgated ") + labgate::kVersionLine);
  CLI11_PARSE(cli, argc, argv);

  if (!check_path.empty()) {
    // The same checks as a start: a published key or a file every user can read fails here too.
    auto loaded = cfg::load_site_file(check_path);
    if (!loaded.has_value()) {
      std::cerr << cfg::to_string(loaded.error()) << "\n";
      return 1;
    }
    std::cout << check_path << ": ok (" << loaded.value().doors.size() << " doors, "
              << loaded.value().machines.size() << " machines, " << loaded.value().readers.size()
              << " readers)\n";
    return 0;
  }

  auto loaded = config_path.empty()
                    ? cfg::load_config_string(cfg::embedded_demo_config(), "built-in demo site")
                    : cfg::load_site_file(config_path);
  if (!loaded.has_value()) {
    std::cerr << cfg::to_string(loaded.error()) << "\n";
    return 1;
  }
  auto config = std::move(loaded).value();
  if (std::string error; !app::override_reader_devices(config, reader_devices, error)) {
    std::cerr << error << "\n";
    return 2;
  }

  // Relative to the working directory, as a command-line path is expected to be (the config's
  // own key_file is relative to the config file).
  if (!key_file.empty()) config.desfire.key_file = std::filesystem::absolute(key_file).string();
  if (cli.count("--admin-socket") > 0) config.admin.socket = admin_socket;

  auto level = spdlog::level::from_str(log_level.empty() ? config.log.level : log_level);
  spdlog::set_level(level);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");

  app::Options options;
  if (!db_path.empty()) options.db_path = db_path;
  if (!seal_key_file.empty())
    options.seal_key_file = std::filesystem::absolute(seal_key_file).string();
  if (cli.count("--control-socket") > 0) options.control_socket = socket_path;
  if (!sim_clock.empty()) {
    std::chrono::system_clock::time_point start;
    if (!app::parse_time(sim_clock, config.site.timezone, start)) {
      std::cerr << "--simulated-clock: cannot read time '" << sim_clock << "'\n";
      return 2;
    }
    options.manual_clock_start = start;
  }
  if (config_path.empty()) {
    spdlog::warn(
        "no --config given: running the built-in demo site (public demo key: never use it for a "
        "real site; `labgatectl init` writes a config with keys of its own)");
  }
  try {
    app::Application application(std::move(config), options);
    return application.run();
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
}
