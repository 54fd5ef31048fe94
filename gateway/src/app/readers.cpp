#include "labgate/gateway/app/readers.hpp"

#include <spdlog/spdlog.h>

#include "labgate/drivers/nfc/nfc_reader.hpp"

namespace labgate::gateway::app {

std::shared_ptr<drivers::Reader> make_hardware_reader(const config::ReaderConfig& reader,
                                                      const config::SiteConfig& site) {
  drivers::nfc::NfcReaderConfig nc;
  nc.id = reader.id;
  nc.connstring = reader.device;
  for (auto t : {policy::Technology::kIso14443a, policy::Technology::kFelica}) {
    if (policy::technology_accepted(t, site.site.accept, reader.accept)) {
      spdlog::warn("reader {} accepts {} cards: they can be cloned (site opt-in)", reader.id,
                   policy::to_string(t));
    }
  }
  return std::make_shared<drivers::nfc::NfcReader>(nc);
}

}  // namespace labgate::gateway::app
