// labgatectl: members import from CSV.
#include "commands.hpp"
#include "context.hpp"

namespace labgate::gateway::ctl {

void build_import(CLI::App& app, Cli& cli) {
  (void)app;
  (void)cli;
}

}  // namespace labgate::gateway::ctl
