#include "nfc_rig.hpp"

#include <cstdlib>
#include <stdexcept>

namespace labgate::testing {

namespace {

// libnfc must not probe the machine's serial ports for devices: only the configured connstrings.
const bool kEnvironmentSet = [] {
  ::setenv("LIBNFC_AUTO_SCAN", "false", 0);
  ::setenv("LIBNFC_INTRUSIVE_SCAN", "false", 0);
  ::setenv("LIBNFC_LOG_LEVEL", "0", 0);
  return true;
}();

void replace_once(std::string& text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("config has no " + from);
  text.replace(at, from.size(), to);
}

}  // namespace

EmulatedReader::EmulatedReader(const TempDir& dir, const std::string& name)
    : link_(dir / ("pn532-" + name)), socket_(dir / ("emu-" + name + ".sock")) {
  (void)kEnvironmentSet;
  child_ =
      std::make_unique<Child>(std::vector<std::string>{PN532_EMU_PATH, "--link", link_.string(),
                                                       "--control", socket_.string()},
                              dir / ("emu-" + name + ".log"));
  bool up = wait_until(
      [&] {
        try {
          return cmd("status").rfind("ok", 0) == 0;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(10));
  if (!up) throw std::runtime_error("pn532-emu " + name + " did not start");
}

EmulatedReader::~EmulatedReader() {
  if (child_ && child_->running()) {
    child_->signal(SIGTERM);
    child_->wait(std::chrono::seconds(5));
  }
}

std::string EmulatedReader::cmd(const std::string& line) {
  LineClient client(socket_, std::chrono::milliseconds(500));
  return client.request(line, std::chrono::seconds(5));
}

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
  auto r = s->list_events(f);
  if (!r.ok()) throw std::runtime_error("list_events: " + r.error().message);
  return r.value();
}

std::vector<gateway::store::Session> sessions_of(const Daemon& daemon) {
  auto s = daemon.open_store();
  gateway::store::HistoryFilter f;
  f.limit = 1000;
  auto r = s->list_sessions(f);
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
