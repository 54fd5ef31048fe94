#include "labgate/gateway/app/readers.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <stdexcept>

#include "labgate/drivers/desfire/authenticator.hpp"
#include "labgate/drivers/nfc/nfc_reader.hpp"
#include "labgate/gateway/keys/key_file.hpp"

namespace labgate::gateway::app {

DesfireSetup load_desfire_setup(const config::SiteConfig& site) {
  if (site.desfire.key_file.empty())
    throw std::runtime_error(
        "[desfire] key_file is not set: hardware readers need the site's DESFire keys "
        "(create them with `labgatectl keys init --key-file PATH`)");
  std::filesystem::path path = site.desfire.key_file;
  const std::filesystem::path source = site.source;
  if (path.is_relative() && std::filesystem::is_regular_file(source))
    path = source.parent_path() / path;
  auto file = keys::load_key_file(path);
  if (!file) throw std::runtime_error(file.error());
  drivers::desfire::ApplicationSettings app;
  app.aid = site.desfire.aid;
  app.system_id.assign(site.desfire.system_id.begin(), site.desfire.system_id.end());
  app.random_uid = site.desfire.random_uid;
  DesfireSetup out;
  out.authenticator =
      std::make_shared<drivers::desfire::DesfireAuthenticator>(file->site_keys(std::move(app)));
  for (const auto& v : file->versions) {
    out.accept_until[v.keys.number] = v.accept_until.value_or("");
    spdlog::info("DESFire key version {} ({}): read key {}", int{v.keys.number},
                 v.accept_until ? "accepted until " + *v.accept_until : "current",
                 drivers::desfire::fingerprint(v.keys.read));
  }
  return out;
}

std::shared_ptr<drivers::Reader> make_hardware_reader(const config::ReaderConfig& reader,
                                                      const config::SiteConfig& site,
                                                      const DesfireSetup& desfire) {
  drivers::nfc::NfcReaderConfig nc;
  nc.id = reader.id;
  nc.connstring = reader.device;
  nc.desfire = desfire.authenticator;
  for (auto t : {policy::Technology::kIso14443a, policy::Technology::kFelica,
                 policy::Technology::kDesfireUid}) {
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
