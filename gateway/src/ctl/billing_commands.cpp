// labgatectl: rates, accounts, price list, sales, session review.
#include "commands.hpp"
#include "context.hpp"

namespace labgate::gateway::ctl {

void build_billing(CLI::App& app, Cli& cli) {
  (void)app;
  (void)cli;
}

}  // namespace labgate::gateway::ctl
