#include "labgate/gateway/policy/booking.hpp"

namespace labgate::gateway::policy {

namespace {

using std::chrono::minutes;

BookingRefusal refusal(std::string_view code, std::string message) {
  return BookingRefusal{code, std::move(message)};
}

}  // namespace

std::optional<BookingRefusal> check_booking(const RoomRules& rules, const Calendar& calendar,
                                            Instant start, Instant end, Instant now, int people) {
  if (end <= start) return refusal("off_grid", "the booking must end after it starts");
  if (start < now) return refusal("in_the_past", "the booking starts in the past");
  if (start < now + minutes(rules.lead_minutes))
    return refusal("too_short_notice",
                   "book at least " + std::to_string(rules.lead_minutes) + " minutes ahead");
  if (start > now + std::chrono::days(rules.max_advance_days))
    return refusal("too_far_ahead",
                   "book at most " + std::to_string(rules.max_advance_days) + " days ahead");
  const auto grid = minutes(rules.grid_minutes);
  const LocalTime local = calendar.to_local(start);
  const auto length = end - start;
  // The grid counts from local midnight, so a whole-minute start on a grid line and a length of
  // whole grid steps keep every booking on the same lines.
  const bool whole_minute = calendar.to_sys(local.date, local.minute_of_day) == start;
  if (!whole_minute || local.minute_of_day % rules.grid_minutes != 0 ||
      length % grid != length.zero())
    return refusal("off_grid", "starts and lengths are multiples of " +
                                   std::to_string(rules.grid_minutes) + " minutes");
  if (length > minutes(rules.max_minutes))
    return refusal("too_long",
                   "the longest booking is " + std::to_string(rules.max_minutes) + " minutes");
  if (people > rules.capacity)
    return refusal("over_capacity", std::to_string(people) + " people, the room holds " +
                                        std::to_string(rules.capacity));
  for (auto t = start; t < end; t += minutes(1)) {
    const LocalTime lt = calendar.to_local(t);
    if (!rules.hours.closure && calendar.in_closure(lt.date))
      return refusal("closure", "the space is closed on " + to_string(lt.date));
    if (!rules.hours.holidays && calendar.is_holiday(lt.date))
      return refusal("holiday", "the room is closed on the holiday " + to_string(lt.date));
    if (!rules.hours.windows.contains(lt.weekday, lt.minute_of_day))
      return refusal("outside_opening_hours", "the room opens " + to_string(rules.hours.windows));
  }
  return std::nullopt;
}

std::optional<BookingRefusal> check_cancel(const RoomRules& rules, Instant start, Instant now) {
  if (now > start - minutes(rules.cancel_minutes))
    return refusal("too_late_to_cancel", "cancel at least " + std::to_string(rules.cancel_minutes) +
                                             " minutes before the start");
  return std::nullopt;
}

Instant no_show_at(const RoomRules& rules, Instant start) {
  return start + minutes(rules.no_show_minutes);
}

bool admits(const RoomRules& rules, Instant start, Instant end, Instant at) {
  return at >= start - minutes(rules.early_entry_minutes) && at < end;
}

}  // namespace labgate::gateway::policy
