#pragma once
// Rig for the NFC integration suite: pn532-emu processes (one per hardware reader) and labgated
// configs whose readers open them through libnfc.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon.hpp"
#include "emulated_reader.hpp"
#include "labgate/gateway/store/store.hpp"
#include "process.hpp"

namespace labgate::testing {

/// The standard test config with the named readers switched to libnfc connstrings; when
/// `accept` is given it replaces the site's accept list (e.g. "[]").
std::string nfc_config(const std::string& dir, const std::map<std::string, std::string>& devices,
                       const std::string& accept = {});

/// Events recorded so far (oldest first as the store lists them), at most 1000.
std::vector<gateway::store::AccessEvent> events_of(const Daemon& daemon);

/// Sessions recorded so far.
std::vector<gateway::store::Session> sessions_of(const Daemon& daemon);

/// Number of recorded events of `kind` for `reader`.
int count_events(const Daemon& daemon, const std::string& kind, const std::string& reader);

}  // namespace labgate::testing
