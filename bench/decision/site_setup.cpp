#include "site_setup.hpp"

#include <utility>

namespace labgate::bench::decision {

namespace {

firmware::FailMode to_firmware(gateway::config::FailMode m) {
  return m == gateway::config::FailMode::kSafe ? firmware::FailMode::kSafe
                                               : firmware::FailMode::kSecure;
}

}  // namespace

gateway::app::SiteSetup site_setup_from(const gateway::config::SiteConfig& c) {
  gateway::app::SiteSetup s;
  s.site_id = c.site.id;
  s.gateway_id = c.site.gateway;
  s.calendar = c.calendar;
  s.accepted = c.site.accept;
  s.closing_minute = c.site.closing_minute;
  s.heartbeat = c.store.heartbeat;
  for (const auto& r : c.readers) {
    if (r.accept) s.reader_accept[r.id] = *r.accept;
  }
  for (const auto& d : c.doors) {
    gateway::app::DoorSetup ds{};
    ds.id = d.id;
    ds.name = d.name;
    ds.entry_reader = d.entry_reader;
    ds.exit_reader = d.exit_reader;
    ds.presence = d.presence;
    ds.anti_passback = d.anti_passback;
    ds.controller.strike_pulse = d.strike_pulse;
    ds.controller.held_open_limit = d.held_open;
    ds.controller.fail_mode = to_firmware(d.fail_mode);
    ds.controller.egress = d.egress;
    ds.controller.has_contact = d.contact.has_value();
    s.doors.push_back(std::move(ds));
  }
  for (const auto& m : c.machines) {
    gateway::app::MachineSetup ms{};
    ms.id = m.id;
    ms.name = m.name;
    ms.reader = m.reader;
    if (!m.certification.empty()) ms.certification = m.certification;
    ms.inspection_interval_days = m.inspection_interval_days;
    ms.controller.mode = m.mode == gateway::config::SessionMode::kTapOnOff
                             ? firmware::SessionMode::kTapOnTapOff
                             : firmware::SessionMode::kCardStays;
    ms.controller.grace = m.grace;
    ms.controller.idle_timeout = m.idle_timeout;
    ms.controller.max_session = m.max_session;
    ms.controller.has_busy_input = m.busy.has_value();
    ms.controller.needs_checkoff = m.needs_checkoff;
    s.machines.push_back(std::move(ms));
  }
  return s;
}

}  // namespace labgate::bench::decision
