// labgatectl: the staff and manager CLI. See `labgatectl --help`.
//
// Exit codes: 0 done; 1 refused (unknown member, already revoked, audit chain broken...);
// 2 usage (bad option, bad date, bad hex); 3 store unavailable or busy.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "labgate/version.hpp"

int main(int argc, char** argv) {
  using labgate::gateway::ctl::Failure;
  // The libraries log for the daemon's journal. Here their notices would land in the command's
  // own output (and break --json), so only their warnings reach the operator, on stderr.
  auto log = spdlog::stderr_color_mt("labgatectl");
  log->set_level(spdlog::level::warn);
  spdlog::set_default_logger(log);
  CLI::App app{"labgatectl: labgate staff tool (members, cards, certifications, machines, logs)"};
  labgate::gateway::ctl::Cli cli;
  labgate::gateway::ctl::build(app, cli);
  app.set_version_flag("--version", std::string("labgatectl ") + labgate::kVersionLine);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "labgatectl: " << e.what() << labgate::gateway::ctl::usage_hint(app) << '\n';
    return labgate::gateway::ctl::kExitUsage;
  }
  try {
    return labgate::gateway::ctl::run(cli);
  } catch (const Failure& f) {
    std::cerr << "labgatectl: " << f.message << '\n';
    return f.code;
  } catch (const std::exception& e) {
    std::cerr << "labgatectl: " << e.what() << '\n';
    return labgate::gateway::ctl::kExitUnavailable;
  }
}
