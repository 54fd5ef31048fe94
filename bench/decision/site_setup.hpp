#pragma once
// The SiteSetup the daemon derives from a site configuration.
//
// This is the mapping of gateway/src/app/application.cpp (`make_setup`, file-local there),
// repeated so the benchmark runs the very site the daemon would run. It should become a public
// function of labgate_app (e.g. `SiteSetup site_setup_from(const config::SiteConfig&)` in
// app/site.hpp); this copy then goes away.

#include "labgate/gateway/app/site.hpp"
#include "labgate/gateway/config/site_config.hpp"

namespace labgate::bench::decision {

/// Doors, machines, calendar and technology lists of `config`, as labgated builds them.
gateway::app::SiteSetup site_setup_from(const gateway::config::SiteConfig& config);

}  // namespace labgate::bench::decision
