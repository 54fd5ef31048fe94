// labgatectl: the ward report.
#include "commands.hpp"
#include "context.hpp"

namespace labgate::gateway::ctl {

void build_reports(CLI::App& app, Cli& cli) {
  (void)app;
  (void)cli;
}

}  // namespace labgate::gateway::ctl
