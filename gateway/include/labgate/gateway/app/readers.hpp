#pragma once
// Builds the hardware card readers named in the configuration (libnfc connstrings).

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "labgate/drivers/devices.hpp"
#include "labgate/gateway/config/site_config.hpp"

namespace labgate::drivers::nfc {
class CardAuthenticator;
}

namespace labgate::gateway::app {

/// What every hardware reader of a site needs for DESFire cards, from the key file.
struct DesfireSetup {
  std::shared_ptr<drivers::nfc::CardAuthenticator> authenticator;  ///< shared, stateless
  /// Key version -> last accepted local day ("" = no end), for SiteSetup::key_accept_until.
  std::map<int, std::string> accept_until;
};

/// Loads [desfire] key_file (relative to the config file). Throws std::runtime_error saying
/// what is wrong (not set, missing, unreadable, readable by others, malformed): a site that
/// configured DESFire keys must not start without them.
DesfireSetup load_desfire_setup(const config::SiteConfig& site);

/// A reader for a non-simulated [[readers]] entry: a libnfc reader on its connstring that
/// authenticates DESFire cards with `desfire`. Logs a warning when the reader accepts clonable
/// card technologies.
std::shared_ptr<drivers::Reader> make_hardware_reader(const config::ReaderConfig& reader,
                                                      const config::SiteConfig& site,
                                                      const DesfireSetup& desfire);

/// Applies `--reader-device <reader-id>=<connstring>` overrides to the configured readers
/// ("sim" makes a reader simulated again). False with `error` set when a spec is malformed or
/// names no configured reader; the config is then left partly changed and must not be used.
bool override_reader_devices(config::SiteConfig& site, const std::vector<std::string>& specs,
                             std::string& error);

/// Remembers, per reader, the outcome of recent card reads once the site acknowledged them
/// (event durable, or seq 0), so a client of the control socket can learn what a card placed on
/// a hardware reader did. Loop thread only.
class ReadLedger {
 public:
  /// Outcomes kept per reader; older ones are forgotten.
  static constexpr std::size_t kKept = 32;

  /// A card read reached the loop on `reader`; returns its number (1, 2, ... per reader).
  std::uint64_t arrived(const std::string& reader);
  /// Read `number` of `reader` was decided and recorded; `summary` is TapOutcome::summary().
  void acknowledged(const std::string& reader, std::uint64_t number, std::string summary);
  /// A card left `reader` and the site has handled it (grace or session end has started).
  void removed(const std::string& reader);

  /// The control command `read-result <reader> [<after>]`:
  ///   without <after>: "ok reads=<n> removals=<m>" (card reads and removals that reached the
  ///                    loop so far);
  ///   with <after>:    "ok read=<k> <summary>" for the oldest acknowledged read k > after
  ///                    still remembered, or "err pending" when there is none yet.
  std::string command(const std::vector<std::string>& args) const;

 private:
  struct Reader {
    std::uint64_t arrived{0};
    std::uint64_t removals{0};
    std::deque<std::pair<std::uint64_t, std::string>> done;  // by read number, ascending
  };
  std::map<std::string, Reader> readers_;
};

}  // namespace labgate::gateway::app
