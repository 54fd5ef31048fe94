// libFuzzer entry point for the site configuration loader: any bytes must give either a valid
// configuration or errors, never a crash, a hang or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "labgate/gateway/config/site_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto result = labgate::gateway::config::load_config_string(text, "fuzz.toml");
  if (!result) {
    // Formatting the errors exercises the error paths as well.
    (void)labgate::gateway::config::to_string(result.error());
  }
  return 0;
}
