#pragma once
// Builds the hardware card readers named in the configuration (libnfc connstrings).

#include <memory>

#include "labgate/drivers/devices.hpp"
#include "labgate/gateway/config/site_config.hpp"

namespace labgate::gateway::app {

/// A reader for a non-simulated [[readers]] entry: a libnfc reader on its connstring. Logs a
/// warning when the reader accepts clonable card technologies.
std::shared_ptr<drivers::Reader> make_hardware_reader(const config::ReaderConfig& reader,
                                                      const config::SiteConfig& site);

}  // namespace labgate::gateway::app
