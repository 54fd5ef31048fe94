#pragma once
// The rules a room booking must meet (docs/BOOKINGS.md): pure checks of a window against the
// room's grid, opening hours, the site calendar, lead time and capacity. The store runs them
// inside the transaction that inserts the booking, so every way in (labgatectl, the admin
// channel, the console) is refused the same way.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "labgate/gateway/policy/access.hpp"
#include "labgate/gateway/policy/calendar.hpp"

namespace labgate::gateway::policy {

/// The booking rules of one room.
struct RoomRules {
  int capacity{1};              ///< people in the room: the member and the named guests
  PlanAccess hours;             ///< opening hours; holidays / closure: open on those days too
  int grid_minutes{30};         ///< starts and lengths are multiples of this (from local midnight)
  int lead_minutes{0};          ///< a booking starts at least this long after it is made
  int max_advance_days{90};     ///< and at most this many days ahead
  int max_minutes{12 * 60};     ///< longest booking
  int cancel_minutes{0};        ///< a cancellation comes at least this long before the start
  int early_entry_minutes{0};   ///< the reader admits the booking this long before its start
  int no_show_minutes{15};      ///< unused this long after its start: a no-show, released
  bool no_show_charged{false};  ///< a no-show is billed as if used
};

/// Why a booking or cancellation was refused: a stable snake_case code and a sentence.
struct BookingRefusal {
  std::string_view code;  ///< "outside_opening_hours", "overlap", ...
  std::string message;
};

/// The codes check_booking() and the store give, in a stable order (for docs and tests).
inline constexpr std::string_view kBookingRefusalCodes[] = {
    "in_the_past", "too_short_notice",   "too_far_ahead",         "off_grid",
    "too_long",    "over_capacity",      "outside_opening_hours", "closure",
    "holiday",     "unknown_room",       "unknown_member",        "member_not_active",
    "overlap",     "too_late_to_cancel", "not_cancellable"};

using Instant = std::chrono::system_clock::time_point;

/// Checks a window [start, end) for `people` (member + guests) made at `now`; nullopt = allowed.
/// Every minute of the window must be inside the room's hours, and its local date neither a
/// closure nor a holiday unless the room opens then; a window may run past midnight when the
/// hours do.
std::optional<BookingRefusal> check_booking(const RoomRules& rules, const Calendar& calendar,
                                            Instant start, Instant end, Instant now, int people);

/// Checks the cancellation at `now` of a booking starting at `start`; nullopt = allowed.
std::optional<BookingRefusal> check_cancel(const RoomRules& rules, Instant start, Instant now);

/// The instant a booking starting at `start` is a no-show if nobody named on it came in.
Instant no_show_at(const RoomRules& rules, Instant start);

/// Whether the reader of the room admits a booking [start, end) at `at`: from
/// start - early_entry (inclusive) to end (exclusive).
bool admits(const RoomRules& rules, Instant start, Instant end, Instant at);

}  // namespace labgate::gateway::policy
