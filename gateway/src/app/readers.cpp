#include "labgate/gateway/app/readers.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

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

bool override_reader_devices(config::SiteConfig& site, const std::vector<std::string>& specs,
                             std::string& error) {
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      error = "--reader-device " + spec + ": expected <reader-id>=<connstring>";
      return false;
    }
    const std::string id = spec.substr(0, eq);
    const std::string device = spec.substr(eq + 1);
    auto it = std::find_if(site.readers.begin(), site.readers.end(),
                           [&](const config::ReaderConfig& r) { return r.id == id; });
    if (it == site.readers.end()) {
      error = "--reader-device " + spec + ": no reader '" + id + "' in the configuration";
      return false;
    }
    it->device = device;
    it->simulated = device == "sim";
    spdlog::info("reader {}: device {} (command line)", id, device);
  }
  return true;
}

std::uint64_t ReadLedger::arrived(const std::string& reader) {
  return ++readers_[reader].arrived;
}

void ReadLedger::acknowledged(const std::string& reader, std::uint64_t number,
                              std::string summary) {
  auto& r = readers_[reader];
  // Acknowledgements may come out of order (a read held while the store is away).
  auto at =
      std::find_if(r.done.begin(), r.done.end(), [&](const auto& d) { return d.first > number; });
  r.done.insert(at, {number, std::move(summary)});
  while (r.done.size() > kKept) r.done.pop_front();
}

void ReadLedger::removed(const std::string& reader) {
  ++readers_[reader].removals;
}

std::string ReadLedger::command(const std::vector<std::string>& args) const {
  if (args.empty() || args.size() > 2) return "err usage: read-result <reader> [<after>]";
  auto it = readers_.find(args[0]);
  if (args.size() == 1) {
    const Reader none;
    const Reader& r = it == readers_.end() ? none : it->second;
    return "ok reads=" + std::to_string(r.arrived) + " removals=" + std::to_string(r.removals);
  }
  std::uint64_t after = 0;
  const auto& a = args[1];
  auto [end, ec] = std::from_chars(a.data(), a.data() + a.size(), after);
  if (ec != std::errc{} || end != a.data() + a.size()) return "err bad read number: " + a;
  if (it != readers_.end()) {
    for (const auto& [number, summary] : it->second.done) {
      if (number > after) return "ok read=" + std::to_string(number) + " " + summary;
    }
  }
  return "err pending";
}

}  // namespace labgate::gateway::app
