// Rooms, bookings and lockers: the rules' checks, the slot constraint and the no-show settling.
#include "labgate/gateway/store/bookings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>

#include "labgate/gateway/store/store.hpp"
#include "labgate/gateway/store/tap_reads.hpp"
#include "rows.hpp"

namespace labgate::gateway::store {

using namespace rows;  // NOLINT: shared private helpers

namespace {

using json = nlohmann::json;
using Clock = std::chrono::system_clock;

constexpr std::int64_t kMinuteMs = 60'000;

Error refused(ErrorKind kind, std::string_view code, std::string_view message) {
  return Error{kind, 0, fmt::format("{}: {}", code, message)};
}

Clock::time_point instant(std::int64_t ms) {
  return Clock::time_point(std::chrono::milliseconds(ms));
}

constexpr std::string_view kRoomCols =
    "r.id, r.name, r.door_id, r.capacity, r.hours, r.holidays, r.closure, r.grid_minutes, "
    "r.lead_minutes, r.max_advance_days, r.max_minutes, r.cancel_minutes, "
    "r.early_entry_minutes, r.no_show_minutes, r.no_show_charged, r.rate_per_hour";

Room read_room(const Statement& s) {
  Room r;
  r.id = s.column_text(0);
  r.name = s.column_text(1);
  r.door_id = s.column_text(2);
  r.rules.capacity = static_cast<int>(s.column_int64(3));
  if (auto w = policy::parse_windows(s.column_text(4))) r.rules.hours.windows = w.value();
  r.rules.hours.holidays = s.column_bool(5);
  r.rules.hours.closure = s.column_bool(6);
  r.rules.grid_minutes = static_cast<int>(s.column_int64(7));
  r.rules.lead_minutes = static_cast<int>(s.column_int64(8));
  r.rules.max_advance_days = static_cast<int>(s.column_int64(9));
  r.rules.max_minutes = static_cast<int>(s.column_int64(10));
  r.rules.cancel_minutes = static_cast<int>(s.column_int64(11));
  r.rules.early_entry_minutes = static_cast<int>(s.column_int64(12));
  r.rules.no_show_minutes = static_cast<int>(s.column_int64(13));
  r.rules.no_show_charged = s.column_bool(14);
  r.rate_per_hour = s.column_int64(15);
  return r;
}

constexpr std::string_view kBookingCols =
    "b.id, b.room_id, b.member_id, m.member_no, b.start_ms, b.end_ms, b.state, b.note, "
    "b.created_at_ms, b.created_by";

Booking read_booking(const Statement& s) {
  Booking b;
  b.id = s.column_int64(0);
  b.room_id = s.column_text(1);
  b.member_id = s.column_int64(2);
  b.member_no = s.column_text(3);
  b.start_ms = s.column_int64(4);
  b.end_ms = s.column_int64(5);
  b.state = s.column_text(6);
  b.note = s.column_text(7);
  b.created_at_ms = s.column_int64(8);
  b.created_by = s.column_text(9);
  return b;
}

constexpr std::string_view kLoanCols =
    "l.id, l.locker_id, l.member_id, m.member_no, l.from_date, l.until_date, l.lent_at_ms, "
    "l.returned_at_ms";

LockerLoan read_loan(const Statement& s, int c = 0) {
  LockerLoan l;
  l.id = s.column_int64(c);
  l.locker_id = s.column_text(c + 1);
  l.member_id = s.column_int64(c + 2);
  l.member_no = s.column_text(c + 3);
  l.from_date = s.column_text(c + 4);
  l.until_date = s.column_text(c + 5);
  l.lent_at_ms = s.column_int64(c + 6);
  l.returned_at_ms = s.column_opt_int64(c + 7);
  return l;
}

constexpr std::string_view kResourceRateCols =
    "id, kind, resource_id, effective_from_ms, effective_until_ms, price, note, created_at_ms, "
    "created_by";

ResourceRate read_resource_rate(const Statement& s) {
  ResourceRate r;
  r.id = s.column_int64(0);
  r.kind = s.column_text(1);
  r.resource_id = s.column_text(2);
  r.effective_from_ms = s.column_int64(3);
  r.effective_until_ms = s.column_opt_int64(4);
  r.price = s.column_int64(5);
  r.note = s.column_text(6);
  r.created_at_ms = s.column_int64(7);
  r.created_by = s.column_text(8);
  return r;
}

json resource_rate_json(const ResourceRate& r) {
  return json{
      {"id", r.id},
      {"kind", r.kind},
      {"resource", r.resource_id},
      {"effective_from_ms", r.effective_from_ms},
      {"effective_until_ms", r.effective_until_ms ? json(*r.effective_until_ms) : json(nullptr)},
      {"price", r.price},
      {"note", r.note}};
}

// The rate of the resource in force at an instant: windows of one resource never overlap
// (set_resource_rate refuses it), so it is the one starting last at or before it.
constexpr std::string_view kRateInForceSql =
    "SELECT rr.price FROM resource_rates rr WHERE rr.kind = '{0}' AND rr.resource_id = {1} "
    "AND rr.effective_from_ms <= {2} AND (rr.effective_until_ms IS NULL OR "
    "rr.effective_until_ms > {2}) ORDER BY rr.effective_from_ms DESC LIMIT 1";

// A booking counts as used when someone named on it was granted at the room's door from its early
// entry to its end: settle_no_shows() and list_as_settled() decide by this same clause.
// ?door, ?early (ms) are bound by the caller; `b` is the booking's alias.
constexpr std::string_view kBookingUsedSql =
    "EXISTS (SELECT 1 FROM access_events e WHERE e.door_id = {0} AND e.decision = 'granted' "
    "AND e.at_ms >= {1}.start_ms - {2} AND e.at_ms < {1}.end_ms AND (e.member_id = "
    "{1}.member_id OR e.member_id IN (SELECT g.member_id FROM booking_guests g WHERE "
    "g.booking_id = {1}.id)))";

json booking_json(const Booking& b) {
  return json{{"room", b.room_id},  {"member_no", b.member_no}, {"start_ms", b.start_ms},
              {"end_ms", b.end_ms}, {"guests", b.guests},       {"state", b.state}};
}

}  // namespace

Result<std::int64_t> parse_local_time(std::string_view text, const policy::Calendar& calendar) {
  const auto bad = [&] {
    return invalid(fmt::format("bad time '{}' (YYYY-MM-DDTHH:MM, site time)", text));
  };
  if (text.size() != 16 || (text[10] != 'T' && text[10] != ' ') || text[13] != ':') return bad();
  auto day = policy::parse_date(text.substr(0, 10));
  if (!day) return bad();
  int hh = 0;
  int mm = 0;
  for (int i : {11, 12, 14, 15}) {
    if (text[static_cast<std::size_t>(i)] < '0' || text[static_cast<std::size_t>(i)] > '9')
      return bad();
  }
  hh = (text[11] - '0') * 10 + (text[12] - '0');
  mm = (text[14] - '0') * 10 + (text[15] - '0');
  if (hh > 23 || mm > 59) return bad();
  const auto t = calendar.to_sys(*day, hh * 60 + mm);
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string local_time_text(std::int64_t ms, const policy::Calendar& calendar) {
  const auto t = calendar.to_local(instant(ms));
  return fmt::format("{} {:02}:{:02}", policy::to_string(t.date), t.minute_of_day / 60,
                     t.minute_of_day % 60);
}

std::string_view refusal_code(const Error& e) {
  const std::string_view m = e.message;
  const auto colon = m.find(':');
  if (colon == std::string_view::npos) return {};
  const std::string_view code = m.substr(0, colon);
  for (auto known : policy::kBookingRefusalCodes) {
    if (known == code) return known;
  }
  return {};
}

Status Bookings::sync_site(const std::vector<Room>& rooms, const std::vector<Locker>& lockers,
                           const std::vector<policy::LocalDate>& holidays,
                           const std::optional<policy::Closure>& closure) {
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  {
    auto off = db_->prepare("UPDATE rooms SET active = 0");
    if (!off) return off.error();
    LABGATE_TRY(off->run());
    auto off_l = db_->prepare("UPDATE lockers SET active = 0");
    if (!off_l) return off_l.error();
    LABGATE_TRY(off_l->run());
  }
  for (const auto& r : rooms) {
    auto stmt = db_->prepare(
        "INSERT INTO rooms (id, name, door_id, capacity, hours, holidays, closure, grid_minutes, "
        "lead_minutes, max_advance_days, max_minutes, cancel_minutes, early_entry_minutes, "
        "no_show_minutes, no_show_charged, rate_per_hour, active) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, 1) "
        "ON CONFLICT (id) DO UPDATE SET name = ?2, door_id = ?3, capacity = ?4, hours = ?5, "
        "holidays = ?6, closure = ?7, grid_minutes = ?8, lead_minutes = ?9, "
        "max_advance_days = ?10, max_minutes = ?11, cancel_minutes = ?12, "
        "early_entry_minutes = ?13, no_show_minutes = ?14, no_show_charged = ?15, "
        "rate_per_hour = ?16, active = 1");
    if (!stmt) return stmt.error();
    const auto& k = r.rules;
    stmt->bind(1, r.id).bind(2, r.name).bind(3, r.door_id).bind(4, std::int64_t{k.capacity});
    stmt->bind(5, policy::to_string(k.hours.windows)).bind_bool(6, k.hours.holidays);
    stmt->bind_bool(7, k.hours.closure).bind(8, std::int64_t{k.grid_minutes});
    stmt->bind(9, std::int64_t{k.lead_minutes}).bind(10, std::int64_t{k.max_advance_days});
    stmt->bind(11, std::int64_t{k.max_minutes}).bind(12, std::int64_t{k.cancel_minutes});
    stmt->bind(13, std::int64_t{k.early_entry_minutes}).bind(14, std::int64_t{k.no_show_minutes});
    stmt->bind_bool(15, k.no_show_charged).bind(16, r.rate_per_hour);
    LABGATE_TRY(stmt->run());
  }
  for (const auto& l : lockers) {
    auto stmt = db_->prepare(
        "INSERT INTO lockers (id, name, door_id, rate_per_month, active) "
        "VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT (id) DO UPDATE SET name = ?2, door_id = ?3, "
        "rate_per_month = ?4, active = 1");
    if (!stmt) return stmt.error();
    stmt->bind(1, l.id).bind(2, l.name).bind(3, l.door_id).bind(4, l.rate_per_month);
    LABGATE_TRY(stmt->run());
  }
  // The config's number is only the first rate: once a resource has a rate history (the
  // manager's changes), a restart with another number in the config leaves it alone.
  const auto seed = [&](std::string_view kind, const std::string& id,
                        std::int64_t price) -> Status {
    auto stmt = db_->prepare(
        "INSERT INTO resource_rates (kind, resource_id, effective_from_ms, price, note, "
        "created_at_ms, created_by) SELECT ?1, ?2, 0, ?3, 'from the config', ?4, 'config' "
        "WHERE NOT EXISTS (SELECT 1 FROM resource_rates WHERE kind = ?1 AND resource_id = ?2)");
    if (!stmt) return stmt.error();
    stmt->bind(1, kind).bind(2, id).bind(3, price).bind(4, now_ms());
    return stmt->run();
  };
  for (const auto& r : rooms) LABGATE_TRY(seed("room", r.id, r.rate_per_hour));
  for (const auto& l : lockers) LABGATE_TRY(seed("locker", l.id, l.rate_per_month));
  std::string days;
  for (const auto& d : holidays) days += (days.empty() ? "" : ",") + policy::to_string(d);
  const std::string closure_text =
      closure ? policy::to_string(closure->from) + "/" + policy::to_string(closure->to) : "";
  for (const auto& [key, value] : {std::pair<const char*, std::string>{"calendar.holidays", days},
                                   {"calendar.closure", closure_text}}) {
    auto stmt = db_->prepare(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    if (!stmt) return stmt.error();
    stmt->bind(1, key).bind(2, value);
    LABGATE_TRY(stmt->run());
  }
  return tx->commit();
}

Result<policy::Calendar> Bookings::calendar() {
  policy::Calendar cal;
  try {
    cal = policy::Calendar(options().time_zone);
  } catch (const std::exception& e) {
    return invalid(fmt::format("time zone '{}': {}", options().time_zone, e.what()));
  }
  auto stmt = db_->prepare(
      "SELECT key, value FROM meta WHERE key IN "
      "('calendar.holidays', 'calendar.closure')");
  if (!stmt) return stmt.error();
  std::optional<policy::Closure> closure = policy::Closure{};
  LABGATE_TRY(for_each_row(*stmt, [&](const Statement& s) {
    const std::string key = s.column_text(0);
    const std::string value = s.column_text(1);
    if (key == "calendar.holidays") {
      std::string_view rest = value;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        if (auto d = policy::parse_date(rest.substr(0, comma))) cal.add_holiday(*d);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
    } else {
      const auto slash = value.find('/');
      auto from = policy::parse_month_day(std::string_view(value).substr(0, slash));
      auto to = slash == std::string::npos
                    ? std::nullopt
                    : policy::parse_month_day(std::string_view(value).substr(slash + 1));
      closure =
          from && to ? std::optional<policy::Closure>(policy::Closure{*from, *to}) : std::nullopt;
    }
  }));
  cal.set_closure(closure);
  return cal;
}

Result<std::vector<Room>> Bookings::rooms() {
  static const std::string kSql =
      fmt::format("SELECT {} FROM rooms r WHERE r.active = 1 ORDER BY r.id", kRoomCols);
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  return collect<Room>(*stmt, read_room);
}

Result<std::optional<Room>> Bookings::room(std::string_view room_id) {
  static const std::string kSql =
      fmt::format("SELECT {} FROM rooms r WHERE r.active = 1 AND r.id = ?1", kRoomCols);
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, room_id);
  return first<Room>(*stmt, read_room);
}

Result<std::vector<std::string>> Bookings::guests_of(std::int64_t booking_id) {
  auto stmt = db_->prepare(
      "SELECT m.member_no FROM booking_guests g JOIN members m ON m.id = g.member_id "
      "WHERE g.booking_id = ?1 ORDER BY m.member_no");
  if (!stmt) return stmt.error();
  stmt->bind(1, booking_id);
  return collect<std::string>(*stmt, [](const Statement& s) { return s.column_text(0); });
}

Result<std::optional<Booking>> Bookings::booking(std::int64_t booking_id) {
  static const std::string kSql =
      fmt::format("SELECT {} FROM bookings b JOIN members m ON m.id = b.member_id WHERE b.id = ?1",
                  kBookingCols);
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, booking_id);
  auto b = first<Booking>(*stmt, read_booking);
  if (!b || !*b) return b;
  auto guests = guests_of(booking_id);
  if (!guests) return guests.error();
  (*b)->guests = std::move(*guests);
  return b;
}

Result<Booking> Bookings::add(const NewBooking& in, const Actor& actor) {
  LABGATE_TRY(check_text(in.note, "booking note", text::Field::kNote));
  // A no-show's slots are free again for whoever books next.
  LABGATE_TRY(settle_no_shows());
  return audited_change<Booking>(actor, [&]() -> Result<Audited<Booking>> {
    auto room = this->room(in.room_id);
    if (!room) return room.error();
    if (!*room)
      return refused(ErrorKind::kNotFound, "unknown_room", fmt::format("no room '{}'", in.room_id));
    const Room& r = **room;
    std::vector<std::int64_t> people;
    for (std::size_t i = 0; i <= in.guests.size(); ++i) {
      const std::string& no = i == 0 ? in.member_no : in.guests[i - 1];
      auto m = reads_->member_by_no(no);
      if (!m) return m.error();
      if (!*m)
        return refused(ErrorKind::kNotFound, "unknown_member", fmt::format("no member '{}'", no));
      if ((*m)->status != MemberStatus::kActive)
        return refused(ErrorKind::kInvalid, "member_not_active",
                       fmt::format("member '{}' is {}", no, to_string((*m)->status)));
      if (std::find(people.begin(), people.end(), (*m)->id) != people.end())
        return invalid(fmt::format("member '{}' is named twice on the booking", no));
      people.push_back((*m)->id);
    }
    auto cal = calendar();
    if (!cal) return cal.error();
    if (auto why = policy::check_booking(r.rules, *cal, instant(in.start_ms), instant(in.end_ms),
                                         instant(now_ms()), static_cast<int>(people.size()))) {
      return refused(ErrorKind::kInvalid, why->code, why->message);
    }
    auto clash = db_->prepare(
        "SELECT id FROM bookings WHERE room_id = ?1 AND state IN ('booked', 'held') "
        "AND start_ms < ?3 AND end_ms > ?2 LIMIT 1");
    if (!clash) return clash.error();
    clash->bind(1, in.room_id).bind(2, in.start_ms).bind(3, in.end_ms);
    auto other = first<std::int64_t>(*clash, [](const Statement& s) { return s.column_int64(0); });
    if (!other) return other.error();
    if (*other)
      return refused(ErrorKind::kConflict, "overlap",
                     fmt::format("room '{}' is booked then (booking {})", in.room_id, **other));
    auto ins = db_->prepare(
        "INSERT INTO bookings (room_id, member_id, start_ms, end_ms, note, created_at_ms, "
        "created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!ins) return ins.error();
    ins->bind(1, in.room_id).bind(2, people[0]).bind(3, in.start_ms).bind(4, in.end_ms);
    ins->bind(5, in.note).bind(6, now_ms()).bind(7, actor.label);
    LABGATE_TRY(ins->run());
    const std::int64_t id = db_->last_insert_rowid();
    for (std::size_t i = 1; i < people.size(); ++i) {
      auto g = db_->prepare("INSERT INTO booking_guests (booking_id, member_id) VALUES (?1, ?2)");
      if (!g) return g.error();
      g->bind(1, id).bind(2, people[i]);
      LABGATE_TRY(g->run());
    }
    const std::int64_t step = std::int64_t{r.rules.grid_minutes} * kMinuteMs;
    for (std::int64_t t = in.start_ms; t < in.end_ms; t += step) {
      auto slot = db_->prepare(
          "INSERT INTO booking_slots (room_id, slot_ms, booking_id) VALUES (?1, ?2, ?3)");
      if (!slot) return slot.error();
      slot->bind(1, in.room_id).bind(2, t).bind(3, id);
      if (auto s = slot->run(); !s) {
        if (s.error().kind == ErrorKind::kConstraint)
          return refused(ErrorKind::kConflict, "overlap",
                         fmt::format("room '{}' is booked then", in.room_id));
        return s.error();
      }
    }
    auto out = booking(id);
    if (!out) return out.error();
    return Audited<Booking>{**out, {"booking.add", std::to_string(id), booking_json(**out).dump()}};
  });
}

Result<Booking> Bookings::cancel(std::int64_t booking_id, const Actor& actor) {
  LABGATE_TRY(settle_no_shows());
  return audited_change<Booking>(actor, [&]() -> Result<Audited<Booking>> {
    auto b = booking(booking_id);
    if (!b) return b.error();
    if (!*b) return not_found(fmt::format("no booking {}", booking_id));
    if ((*b)->state != "booked")
      return refused(ErrorKind::kConflict, "not_cancellable",
                     fmt::format("booking {} is {}", booking_id, (*b)->state));
    auto room = this->room((*b)->room_id);
    if (!room) return room.error();
    policy::RoomRules rules = *room ? (**room).rules : policy::RoomRules{};
    if (auto why = policy::check_cancel(rules, instant((*b)->start_ms), instant(now_ms())))
      return refused(ErrorKind::kConflict, why->code, why->message);
    auto up =
        db_->prepare("UPDATE bookings SET state = 'cancelled', changed_at_ms = ?2 WHERE id = ?1");
    if (!up) return up.error();
    up->bind(1, booking_id).bind(2, now_ms());
    LABGATE_TRY(up->run());
    auto del = db_->prepare("DELETE FROM booking_slots WHERE booking_id = ?1");
    if (!del) return del.error();
    del->bind(1, booking_id);
    LABGATE_TRY(del->run());
    (*b)->state = "cancelled";
    return Audited<Booking>{
        **b, {"booking.cancel", std::to_string(booking_id), booking_json(**b).dump()}};
  });
}

Result<std::vector<Booking>> Bookings::list(const BookingFilter& f) {
  if (!db_->read_only()) LABGATE_TRY(settle_no_shows());
  return list_recorded(f);
}

Result<std::vector<Booking>> Bookings::list_recorded(const BookingFilter& f) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM bookings b JOIN members m ON m.id = b.member_id "
      "WHERE b.end_ms > ?1 AND b.start_ms < ?2 AND (?3 IS NULL OR b.room_id = ?3) "
      "AND (?4 IS NULL OR m.member_no = ?4 OR EXISTS (SELECT 1 FROM booking_guests g "
      "JOIN members gm ON gm.id = g.member_id WHERE g.booking_id = b.id AND gm.member_no = ?4)) "
      "AND (?5 = 1 OR b.state <> 'cancelled') ORDER BY b.start_ms, b.id",
      kBookingCols);
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, f.from_ms).bind(2, f.to_ms).bind(3, f.room_id).bind(4, f.member_no);
  stmt->bind_bool(5, f.include_cancelled);
  auto out = collect<Booking>(*stmt, read_booking);
  if (!out) return out;
  for (auto& b : *out) {
    auto g = guests_of(b.id);
    if (!g) return g.error();
    b.guests = std::move(*g);
  }
  return out;
}

Result<std::int64_t> Bookings::settle_no_shows() {
  auto all = rooms();
  if (!all) return all.error();
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  const std::int64_t now = now_ms();
  std::int64_t released = 0;
  for (const auto& r : *all) {
    const std::int64_t early = std::int64_t{r.rules.early_entry_minutes} * kMinuteMs;
    const std::int64_t due = now - std::int64_t{r.rules.no_show_minutes} * kMinuteMs;
    // Someone named on the booking was let in at the room's door since its early entry.
    static const std::string kHeldSql = fmt::format(
        "UPDATE bookings SET state = 'held', changed_at_ms = ?4 WHERE room_id = ?1 "
        "AND state IN ('booked', 'held') AND state = 'booked' AND start_ms <= ?2 AND {}",
        fmt::format(fmt::runtime(kBookingUsedSql), "?3", "bookings", "?5"));
    auto held = db_->prepare(kHeldSql);
    if (!held) return held.error();
    held->bind(1, r.id).bind(2, due).bind(3, r.door_id).bind(4, now).bind(5, early);
    LABGATE_TRY(held->run());
    auto gone = db_->prepare(
        "DELETE FROM booking_slots WHERE booking_id IN (SELECT id FROM bookings WHERE "
        "room_id = ?1 AND state IN ('booked', 'held') AND state = 'booked' AND start_ms <= ?2)");
    if (!gone) return gone.error();
    gone->bind(1, r.id).bind(2, due);
    LABGATE_TRY(gone->run());
    auto ns = db_->prepare(
        "UPDATE bookings SET state = 'no_show', changed_at_ms = ?3 WHERE room_id = ?1 "
        "AND state IN ('booked', 'held') AND state = 'booked' AND start_ms <= ?2");
    if (!ns) return ns.error();
    ns->bind(1, r.id).bind(2, due).bind(3, now);
    LABGATE_TRY(ns->run());
    released += db_->changes();
  }
  LABGATE_TRY(tx->commit());
  return released;
}

Result<std::vector<LockerState>> Bookings::lockers() {
  static const std::string kSql = fmt::format(
      "SELECT k.id, k.name, k.door_id, k.rate_per_month, {} FROM lockers k "
      "LEFT JOIN locker_loans l ON l.locker_id = k.id AND l.returned_at_ms IS NULL "
      "LEFT JOIN members m ON m.id = l.member_id WHERE k.active = 1 ORDER BY k.id",
      kLoanCols);
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  const std::string day = today();
  return collect<LockerState>(*stmt, [&](const Statement& s) {
    LockerState st;
    st.locker.id = s.column_text(0);
    st.locker.name = s.column_text(1);
    st.locker.door_id = s.column_opt_text(2);
    st.locker.rate_per_month = s.column_int64(3);
    if (!s.is_null(4)) {
      st.loan = read_loan(s, 4);
      st.overdue = st.loan->until_date < day;
    }
    return st;
  });
}

Result<LockerLoan> Bookings::lend(std::string_view locker_id, std::string_view member_no,
                                  std::optional<std::string> from_date, std::string_view until_date,
                                  const Actor& actor) {
  const std::string from = from_date.value_or(today());
  if (!is_valid_date(from)) return invalid(fmt::format("bad date '{}' (YYYY-MM-DD)", from));
  if (!is_valid_date(until_date))
    return invalid(fmt::format("bad date '{}' (YYYY-MM-DD)", until_date));
  if (until_date < from) return invalid("the loan must end on or after its first day");
  return audited_change<LockerLoan>(actor, [&]() -> Result<Audited<LockerLoan>> {
    auto exists = db_->prepare("SELECT 1 FROM lockers WHERE id = ?1 AND active = 1");
    if (!exists) return exists.error();
    exists->bind(1, locker_id);
    auto found = first<int>(*exists, [](const Statement&) { return 1; });
    if (!found) return found.error();
    if (!*found) return not_found(fmt::format("no locker '{}'", locker_id));
    auto m = reads_->member_by_no(member_no);
    if (!m) return m.error();
    if (!*m)
      return refused(ErrorKind::kNotFound, "unknown_member",
                     fmt::format("no member '{}'", member_no));
    if ((*m)->status != MemberStatus::kActive)
      return refused(ErrorKind::kInvalid, "member_not_active",
                     fmt::format("member '{}' is {}", member_no, to_string((*m)->status)));
    auto ins = db_->prepare(
        "INSERT INTO locker_loans (locker_id, member_id, from_date, until_date, lent_at_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!ins) return ins.error();
    ins->bind(1, locker_id).bind(2, (*m)->id).bind(3, from).bind(4, until_date).bind(5, now_ms());
    if (auto s = ins->run(); !s) {
      if (s.error().kind == ErrorKind::kConstraint)
        return conflict(fmt::format("locker '{}' is already lent", locker_id));
      return s.error();
    }
    LockerLoan out{db_->last_insert_rowid(),
                   std::string(locker_id),
                   (*m)->id,
                   std::string(member_no),
                   from,
                   std::string(until_date),
                   now_ms(),
                   std::nullopt};
    return Audited<LockerLoan>{
        out,
        {"locker.lend", std::string(locker_id),
         json{{"member_no", member_no}, {"from", from}, {"until", until_date}}.dump()}};
  });
}

Result<LockerLoan> Bookings::give_back(std::string_view locker_id, const Actor& actor) {
  return audited_change<LockerLoan>(actor, [&]() -> Result<Audited<LockerLoan>> {
    static const std::string kSql = fmt::format(
        "SELECT {} FROM locker_loans l JOIN members m ON m.id = l.member_id "
        "WHERE l.locker_id = ?1 AND l.returned_at_ms IS NULL",
        kLoanCols);
    auto stmt = db_->prepare(kSql);
    if (!stmt) return stmt.error();
    stmt->bind(1, locker_id);
    auto loan = first<LockerLoan>(*stmt, [](const Statement& s) { return read_loan(s); });
    if (!loan) return loan.error();
    if (!*loan) return conflict(fmt::format("locker '{}' is not lent", locker_id));
    auto up = db_->prepare("UPDATE locker_loans SET returned_at_ms = ?2 WHERE id = ?1");
    if (!up) return up.error();
    up->bind(1, (*loan)->id).bind(2, now_ms());
    LABGATE_TRY(up->run());
    (*loan)->returned_at_ms = now_ms();
    return Audited<LockerLoan>{
        **loan,
        {"locker.return", std::string(locker_id), json{{"member_no", (*loan)->member_no}}.dump()}};
  });
}

Status Bookings::scan_usage(Database& db, std::int64_t begin_ms, std::int64_t end_ms,
                            std::string_view first_day, std::string_view last_day,
                            std::optional<std::int64_t> member_id,
                            const std::function<void(UsageSale&&)>& sink) {
  // The config's number only where a resource has no rate at that instant (a database a
  // writer never migrated the rooms of cannot have one: the migration seeds every rate).
  static const std::string kRoomSql = fmt::format(
      "SELECT b.id, b.member_id, r.id, r.name, b.start_ms, b.end_ms, b.state, r.grid_minutes, "
      "COALESCE(({}), r.rate_per_hour) FROM bookings b JOIN rooms r ON r.id = b.room_id "
      "WHERE b.start_ms >= ?1 AND b.start_ms < ?2 AND (?3 IS NULL OR b.member_id = ?3) "
      "AND (b.state IN ('booked', 'held') OR (b.state = 'no_show' AND r.no_show_charged = 1)) "
      "ORDER BY b.start_ms, b.id",
      fmt::format(fmt::runtime(kRateInForceSql), "room", "b.room_id", "b.start_ms"));
  auto rooms = db.prepare(kRoomSql);
  if (!rooms) return rooms.error();
  rooms->bind(1, begin_ms).bind(2, end_ms).bind(3, member_id);
  LABGATE_TRY(for_each_row(*rooms, [&](const Statement& s) {
    UsageSale u;
    u.id = s.column_int64(0);
    u.member_id = s.column_int64(1);
    u.item_code = "room:" + s.column_text(2);
    const std::string state = s.column_text(6);
    const std::int64_t grid = std::max<std::int64_t>(1, s.column_int64(7));
    const std::int64_t minutes = (s.column_int64(5) - s.column_int64(4)) / kMinuteMs;
    u.item_name = fmt::format("{} ({} min{})", s.column_text(3), minutes,
                              state == "no_show" ? ", no-show" : "");
    u.quantity = (minutes + grid - 1) / grid;
    u.unit_price = (s.column_int64(8) * grid + 59) / 60;
    u.at_ms = s.column_int64(4);
    sink(std::move(u));
  }));
  if (first_day.empty()) return {};
  // A locker month costs the rate in force at the month's first local midnight (begin_ms).
  static const std::string kLoanSql = fmt::format(
      "SELECT l.id, l.member_id, k.id, k.name, l.from_date, COALESCE(({}), k.rate_per_month) "
      "FROM locker_loans l JOIN lockers k ON k.id = l.locker_id "
      "WHERE l.from_date <= ?2 AND l.until_date >= ?1 AND (?3 IS NULL OR l.member_id = ?3) "
      "AND (l.returned_at_ms IS NULL OR l.returned_at_ms >= ?4) ORDER BY l.from_date, l.id",
      fmt::format(fmt::runtime(kRateInForceSql), "locker", "k.id", "?4"));
  auto loans = db.prepare(kLoanSql);
  if (!loans) return loans.error();
  loans->bind(1, first_day).bind(2, last_day).bind(3, member_id).bind(4, begin_ms);
  return for_each_row(*loans, [&](const Statement& s) {
    UsageSale u;
    u.id = s.column_int64(0);
    u.member_id = s.column_int64(1);
    u.item_code = "locker:" + s.column_text(2);
    u.item_name = fmt::format("{} (month)", s.column_text(3));
    u.quantity = 1;
    u.unit_price = s.column_int64(5);
    u.at_ms = begin_ms;
    sink(std::move(u));
  });
}

Result<std::vector<Booking>> Bookings::list_as_settled(const BookingFilter& f, std::int64_t at_ms) {
  auto out = list_recorded(f);
  if (!out) return out;
  auto all = rooms();
  if (!all) return all.error();
  static const std::string kUsed =
      fmt::format("SELECT {} FROM bookings b WHERE b.id = ?1",
                  fmt::format(fmt::runtime(kBookingUsedSql), "?2", "b", "?3"));
  auto used = db_->prepare(kUsed);
  if (!used) return used.error();
  for (auto& b : *out) {
    if (b.state != "booked") continue;
    const auto r = std::find_if(all->begin(), all->end(),
                                [&](const Room& room) { return room.id == b.room_id; });
    if (r == all->end()) continue;  // an inactive room is never settled either
    if (b.start_ms > at_ms - std::int64_t{r->rules.no_show_minutes} * kMinuteMs) continue;
    used->bind(1, b.id)
        .bind(2, r->door_id)
        .bind(3, std::int64_t{r->rules.early_entry_minutes} * kMinuteMs);
    auto yes = first<bool>(*used, [](const Statement& s) { return s.column_bool(0); });
    if (!yes) return yes.error();
    b.state = yes->value_or(false) ? "held" : "no_show";
  }
  return out;
}

Result<std::optional<ResourceRate>> Bookings::resource_rate_at(std::string_view kind,
                                                               std::string_view resource_id,
                                                               std::int64_t at_ms) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM resource_rates WHERE kind = ?1 AND resource_id = ?2 AND "
      "effective_from_ms <= ?3 AND (effective_until_ms IS NULL OR effective_until_ms > ?3) "
      "ORDER BY effective_from_ms DESC LIMIT 1",
      kResourceRateCols);
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, kind).bind(2, resource_id).bind(3, at_ms);
  return first<ResourceRate>(*stmt, read_resource_rate);
}

Result<std::vector<ResourceRate>> Bookings::resource_rates(std::optional<std::string> kind,
                                                           bool include_history) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM resource_rates WHERE (?1 IS NULL OR kind = ?1) AND (?2 = 1 OR "
      "effective_until_ms IS NULL OR effective_until_ms > ?3) "
      "ORDER BY kind DESC, resource_id, effective_from_ms",
      kResourceRateCols);
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, kind).bind_bool(2, include_history).bind(3, now_ms());
  return collect<ResourceRate>(*stmt, read_resource_rate);
}

Result<ResourceRate> Bookings::set_resource_rate(const NewResourceRate& in, const Actor& actor) {
  if (in.kind != "room" && in.kind != "locker")
    return invalid(fmt::format("bad rate kind '{}' (room or locker)", in.kind));
  if (in.price < 0) return invalid(fmt::format("bad price {}: must be 0 or more", in.price));
  LABGATE_TRY(check_text(in.note, "rate note", text::Field::kNote));
  auto cal = calendar();
  if (!cal) return cal.error();
  return audited_change<ResourceRate>(actor, [&]() -> Result<Audited<ResourceRate>> {
    const std::string target = in.kind + ":" + in.resource_id;
    const std::int64_t now = now_ms();
    const std::int64_t from = in.effective_from_ms.value_or(now);
    {
      auto exists =
          db_->prepare(in.kind == "room" ? "SELECT 1 FROM rooms WHERE id = ?1 AND active = 1"
                                         : "SELECT 1 FROM lockers WHERE id = ?1 AND active = 1");
      if (!exists) return exists.error();
      exists->bind(1, in.resource_id);
      auto found = first<int>(*exists, [](const Statement&) { return 1; });
      if (!found) return found.error();
      if (!*found) return not_found(fmt::format("no {} '{}'", in.kind, in.resource_id));
    }
    const std::string when = local_time_text(from, *cal);
    std::optional<ResourceRate> later;
    {
      static const std::string kLater = fmt::format(
          "SELECT {} FROM resource_rates WHERE kind = ?1 AND resource_id = ?2 AND "
          "effective_from_ms >= ?3 ORDER BY effective_from_ms LIMIT 1",
          kResourceRateCols);
      auto stmt = db_->prepare(kLater);
      if (!stmt) return stmt.error();
      stmt->bind(1, in.kind).bind(2, in.resource_id).bind(3, from);
      auto found = first<ResourceRate>(*stmt, read_resource_rate);
      if (!found) return found.error();
      later = std::move(*found);
    }
    // The span the new rate would bill: up to the later rate, if any.
    const std::optional<std::int64_t> until =
        later ? std::optional<std::int64_t>(later->effective_from_ms) : std::nullopt;
    // Every bill of an issued month stays as issued: which of them would this rate change?
    std::set<std::string> reached;
    const auto month_of = [&](std::int64_t t) { return local_time_text(t, *cal).substr(0, 7); };
    if (in.kind == "room") {
      auto stmt = db_->prepare(
          "SELECT m.member_no, st.month, b.start_ms FROM bookings b JOIN statements st ON "
          "st.member_id = b.member_id JOIN members m ON m.id = b.member_id WHERE b.room_id = ?1 "
          "AND b.start_ms >= ?2 AND (?4 IS NULL OR b.start_ms < ?4) AND b.state <> 'cancelled' "
          "AND st.month >= ?3");
      if (!stmt) return stmt.error();
      stmt->bind(1, in.resource_id).bind(2, from).bind(3, month_of(from)).bind(4, until);
      LABGATE_TRY(for_each_row(*stmt, [&](const Statement& s) {
        if (month_of(s.column_int64(2)) == s.column_text(1))
          reached.insert(fmt::format("{} ({})", s.column_text(0), s.column_text(1)));
      }));
    } else {
      auto stmt = db_->prepare(
          "SELECT m.member_no, st.month, l.from_date, l.until_date, l.returned_at_ms FROM "
          "locker_loans l JOIN statements st ON st.member_id = l.member_id JOIN members m ON "
          "m.id = l.member_id WHERE l.locker_id = ?1 AND st.month >= ?2");
      if (!stmt) return stmt.error();
      stmt->bind(1, in.resource_id).bind(2, month_of(from));
      LABGATE_TRY(for_each_row(*stmt, [&](const Statement& s) {
        const std::string month = s.column_text(1);
        const auto first_day = policy::parse_date(month + "-01");
        if (!first_day) return;
        const std::int64_t begin = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       cal->to_sys(*first_day, 0).time_since_epoch())
                                       .count();
        const auto returned = s.column_opt_int64(4);
        // The month is billed at the rate of its first midnight, and the loan is on its bill.
        if (begin >= from && (!until || begin < *until) && s.column_text(2) <= month + "-31" &&
            s.column_text(3) >= month + "-01" && (!returned || *returned >= begin))
          reached.insert(fmt::format("{} ({})", s.column_text(0), month));
      }));
    }
    if (!reached.empty()) {
      std::string names;
      for (const auto& r : reached) names += (names.empty() ? "" : ", ") + r;
      return conflict(fmt::format(
          "rate for {} from {} reaches into an issued month: it would change the issued "
          "statement(s) of {}; an issued statement never changes (choose a later start)",
          target, when, names));
    }
    if (later)
      return conflict(fmt::format("rate for {} from {} overlaps rate {} which starts {}", target,
                                  when, later->id,
                                  local_time_text(later->effective_from_ms, *cal)));
    if (from < now)
      return conflict(fmt::format(
          "rate for {} from {} starts in the past (now is {}): a rate change applies only to "
          "what starts after it (use a later date, or now)",
          target, when, local_time_text(now, *cal)));
    std::optional<std::int64_t> superseded;
    {
      auto stmt = db_->prepare(
          "SELECT id FROM resource_rates WHERE kind = ?1 AND resource_id = ?2 AND "
          "effective_from_ms < ?3 AND (effective_until_ms IS NULL OR effective_until_ms > ?3) "
          "ORDER BY effective_from_ms DESC LIMIT 1");
      if (!stmt) return stmt.error();
      stmt->bind(1, in.kind).bind(2, in.resource_id).bind(3, from);
      auto row = first<std::int64_t>(*stmt, [](const Statement& s) { return s.column_int64(0); });
      if (!row) return row.error();
      superseded = *row;
    }
    if (superseded) {
      auto stmt = db_->prepare("UPDATE resource_rates SET effective_until_ms = ?2 WHERE id = ?1");
      if (!stmt) return stmt.error();
      stmt->bind(1, *superseded).bind(2, from);
      LABGATE_TRY(stmt->run());
    }
    auto ins = db_->prepare(
        "INSERT INTO resource_rates (kind, resource_id, effective_from_ms, price, note, "
        "created_at_ms, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!ins) return ins.error();
    ins->bind(1, in.kind).bind(2, in.resource_id).bind(3, from).bind(4, in.price);
    ins->bind(5, in.note).bind(6, now).bind(7, actor.name());
    LABGATE_TRY(ins->run());
    ResourceRate out{db_->last_insert_rowid(),
                     in.kind,
                     in.resource_id,
                     from,
                     std::nullopt,
                     in.price,
                     in.note,
                     now,
                     actor.name()};
    json detail = resource_rate_json(out);
    detail["superseded_rate_id"] = superseded ? json(*superseded) : json(nullptr);
    return Audited<ResourceRate>{out, {"rate_set", target, detail.dump()}};
  });
}

Result<ResourceRate> Bookings::withdraw_resource_rate(std::string_view kind,
                                                      std::string_view resource_id, std::int64_t id,
                                                      const Actor& actor) {
  auto cal = calendar();
  if (!cal) return cal.error();
  return audited_change<ResourceRate>(actor, [&]() -> Result<Audited<ResourceRate>> {
    static const std::string kSql = fmt::format(
        "SELECT {} FROM resource_rates WHERE id = ?1 AND kind = ?2 AND "
        "resource_id = ?3",
        kResourceRateCols);
    auto stmt = db_->prepare(kSql);
    if (!stmt) return stmt.error();
    stmt->bind(1, id).bind(2, kind).bind(3, resource_id);
    auto found = first<ResourceRate>(*stmt, read_resource_rate);
    if (!found) return found.error();
    // The resource is part of the request so that a mistyped id cannot remove another's rate.
    if (!*found) return not_found(fmt::format("no rate {} for {}:{}", id, kind, resource_id));
    const ResourceRate old = std::move(**found);
    if (old.effective_from_ms <= now_ms()) {
      return conflict(fmt::format(
          "rate {} for {} started {}: what started under it is billed at it, so it cannot be "
          "withdrawn; set a new rate from now or a later date instead",
          id, old.target(), local_time_text(old.effective_from_ms, *cal)));
    }
    auto prev = db_->prepare(
        "UPDATE resource_rates SET effective_until_ms = ?4 WHERE kind = ?1 AND resource_id = ?2 "
        "AND effective_until_ms = ?3");
    if (!prev) return prev.error();
    prev->bind(1, old.kind).bind(2, old.resource_id).bind(3, old.effective_from_ms);
    prev->bind(4, old.effective_until_ms);
    LABGATE_TRY(prev->run());
    auto del = db_->prepare("DELETE FROM resource_rates WHERE id = ?1");
    if (!del) return del.error();
    del->bind(1, old.id);
    LABGATE_TRY(del->run());
    return Audited<ResourceRate>{old,
                                 {"rate_withdraw", old.target(), resource_rate_json(old).dump()}};
  });
}

Result<std::vector<LockerLoan>> Bookings::loans(std::string_view from_date,
                                                std::string_view until_date) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM locker_loans l JOIN members m ON m.id = l.member_id "
      "WHERE l.from_date <= ?2 AND l.until_date >= ?1 ORDER BY l.from_date, l.id",
      kLoanCols);
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, from_date).bind(2, until_date);
  return collect<LockerLoan>(*stmt, [](const Statement& s) { return read_loan(s); });
}

}  // namespace labgate::gateway::store
