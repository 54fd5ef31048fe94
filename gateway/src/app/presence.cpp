#include "labgate/gateway/app/presence.hpp"

#include <spdlog/spdlog.h>

namespace labgate::gateway::app {

Presence::Presence(const SiteSetup& setup, store::Store& store, Clock& clock, Journal& journal)
    : setup_(setup), store_(store), clock_(clock), journal_(journal) {}

std::optional<policy::Direction> Presence::last_direction(std::int64_t member_id) {
  auto open = store_.events().open_coworking_session(member_id);
  if (!open.ok()) return std::nullopt;
  return open.value() ? policy::Direction::kEntry : policy::Direction::kExit;
}

void Presence::passage(const std::string& door_id, policy::Direction direction,
                       std::int64_t member_id, const std::string& member_no) {
  auto open = store_.events().open_coworking_session(member_id);
  if (!open.ok()) return;
  const auto at = journal_.wall_ms();
  const auto topic = journal_.topics().door_event(door_id);
  auto e = info_event(at, "", "");
  e.uuid = journal_.new_uuid();
  e.door_id = door_id;
  e.member_id = member_id;
  e.member_no = member_no;
  if (direction == policy::Direction::kEntry && !open.value()) {
    store::NewSession s;
    s.uuid = journal_.new_uuid();
    s.member_id = member_id;
    s.kind = store::SessionKind::kCoworking;
    s.started_at_ms = at;
    e.kind = "presence_in";
    e.reason = "ok";
    e.detail = s.uuid;
    journal_.open_session(std::move(s), std::move(e), topic);
  } else if (direction == policy::Direction::kExit && open.value()) {
    const auto uuid = open.value()->uuid;
    e.kind = "presence_out";
    e.reason = "exit";
    e.detail = uuid;
    journal_.close_session({uuid, at, "exit", std::nullopt, std::nullopt}, std::move(e), topic);
  }
}

void Presence::tick() {
  if (!setup_.closing_minute) return;
  auto local = setup_.calendar.to_local(clock_.wall());
  if (local.minute_of_day < *setup_.closing_minute) return;
  auto day =
      static_cast<std::int64_t>(std::chrono::sys_days(local.date).time_since_epoch().count());
  if (last_closing_day_ && *last_closing_day_ == day) return;
  last_closing_day_ = day;
  store::HistoryFilter f;
  f.open_only = true;
  f.limit = 100000;
  auto open = store_.events().list_sessions(f);
  if (!open.ok()) return;
  auto closing_at =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          setup_.calendar.to_sys(local.date, *setup_.closing_minute).time_since_epoch())
          .count();
  for (const auto& s : open.value()) {
    if (s.kind != store::SessionKind::kCoworking || s.started_at_ms > closing_at) continue;
    auto e = info_event(closing_at, "presence_out", "closing_time");
    e.uuid = journal_.new_uuid();
    e.member_id = s.member_id;
    e.member_no = s.member_no;
    e.detail = s.uuid;
    spdlog::info("coworking session of {} closed at closing time", s.member_no.value_or("?"));
    journal_.close_session({s.uuid, closing_at, "closing_time", std::nullopt, std::nullopt},
                           std::move(e), journal_.topics().alarm());
  }
}

}  // namespace labgate::gateway::app
