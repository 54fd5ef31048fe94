#include "nfc_rig.hpp"

#include <cstdlib>
#include <stdexcept>

namespace labgate::testing {

namespace {

void replace_once(std::string& text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("config has no " + from);
  text.replace(at, from.size(), to);
}

}  // namespace

std::string nfc_config(const std::string& dir, const std::map<std::string, std::string>& devices,
                       const std::string& accept) {
  std::string c = test_config(dir);
  for (const auto& [reader, device] : devices) {
    replace_once(c, "id = \"" + reader + "\"\ndevice = \"sim\"",
                 "id = \"" + reader + "\"\ndevice = \"" + device + "\"");
  }
  if (!accept.empty()) {
    replace_once(c, "accept = [\"iso14443a\", \"felica\"]", "accept = " + accept);
  }
  return c;
}

std::vector<gateway::store::AccessEvent> events_of(const Daemon& daemon) {
  auto s = daemon.open_store();
  gateway::store::HistoryFilter f;
  f.limit = 1000;
  auto r = s->events().list_events(f);
  if (!r.ok()) throw std::runtime_error("list_events: " + r.error().message);
  return r.value();
}

std::vector<gateway::store::Session> sessions_of(const Daemon& daemon) {
  auto s = daemon.open_store();
  gateway::store::HistoryFilter f;
  f.limit = 1000;
  auto r = s->events().list_sessions(f);
  if (!r.ok()) throw std::runtime_error("list_sessions: " + r.error().message);
  return r.value();
}

int count_events(const Daemon& daemon, const std::string& kind, const std::string& reader) {
  int n = 0;
  for (const auto& e : events_of(daemon)) {
    if (e.kind == kind && e.reader_id == std::optional<std::string>(reader)) ++n;
  }
  return n;
}

}  // namespace labgate::testing
