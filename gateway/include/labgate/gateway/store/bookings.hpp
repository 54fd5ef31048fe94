#pragma once
// Meeting rooms, their bookings and the lockers lent to members (docs/BOOKINGS.md): the only
// owner of the rooms, bookings, booking_guests, booking_slots, lockers and locker_loans SQL.
//
// A booking is checked by policy::check_booking (grid, hours, closure, holidays, lead time,
// capacity) and then, inside the same write transaction, against the room's other live
// bookings; its grid steps go into booking_slots, whose primary key refuses a second booking of
// any slot, so two clients booking the same slot at once leave exactly one. A refusal is an
// Error whose message starts with its code ("overlap: ...", see refusal_code()).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/gateway/policy/booking.hpp"
#include "labgate/gateway/policy/calendar.hpp"
#include "labgate/gateway/store/billing_ledger.hpp"
#include "labgate/gateway/store/context.hpp"
#include "labgate/gateway/store/result.hpp"

namespace labgate::gateway::store {

class TapReads;

/// A room as the daemon's config declares it.
struct Room {
  std::string id;
  std::string name;
  std::string door_id;
  policy::RoomRules rules;
  std::int64_t rate_per_hour{0};
};

/// A booking with its member and guests (member numbers).
struct Booking {
  std::int64_t id{0};
  std::string room_id;
  std::int64_t member_id{0};
  std::string member_no;
  std::int64_t start_ms{0};
  std::int64_t end_ms{0};
  std::string state;  ///< booked, held, no_show, cancelled
  std::vector<std::string> guests;
  std::string note;
  std::int64_t created_at_ms{0};
  std::string created_by;
};

/// What a member or staff asks to book.
struct NewBooking {
  std::string room_id;
  std::string member_no;
  std::int64_t start_ms{0};
  std::int64_t end_ms{0};
  std::vector<std::string> guests;  ///< member numbers of the named guests
  std::string note;
};

/// A locker as the config declares it.
struct Locker {
  std::string id;
  std::string name;
  std::optional<std::string> door_id;  ///< none: no electronics
  std::int64_t rate_per_month{0};
};

/// One loan of a locker.
struct LockerLoan {
  std::int64_t id{0};
  std::string locker_id;
  std::int64_t member_id{0};
  std::string member_no;
  std::string from_date;   ///< first local day, inclusive
  std::string until_date;  ///< last local day, inclusive
  std::int64_t lent_at_ms{0};
  std::optional<std::int64_t> returned_at_ms;
};

/// A locker with its open loan, if any, for the locker map.
struct LockerState {
  Locker locker;
  std::optional<LockerLoan> loan;  ///< the open loan
  bool overdue{false};             ///< the open loan's last day is before today
};

/// One effective-dated price of a room (yen per hour) or a locker (yen per month). A booking is
/// billed under its room's rate in force at the booking's start, a locker month under the
/// locker's rate in force at that month's first local midnight.
struct ResourceRate {
  std::int64_t id{0};
  std::string kind;  ///< "room" or "locker"
  std::string resource_id;
  std::int64_t effective_from_ms{0};  ///< 0: since always (seeded from the config)
  std::optional<std::int64_t> effective_until_ms;
  std::int64_t price{0};
  std::string note;
  std::int64_t created_at_ms{0};
  std::string created_by;

  /// "room:<id>" or "locker:<id>", as statement items and audit rows name it.
  std::string target() const { return kind + ":" + resource_id; }
};

/// Input of Bookings::set_resource_rate.
struct NewResourceRate {
  std::string kind;  ///< "room" or "locker"
  std::string resource_id;
  std::int64_t price{0};                          ///< yen per hour (room) or per month (locker)
  std::optional<std::int64_t> effective_from_ms;  ///< default: now
  std::string note;
};

/// Which bookings list() returns.
struct BookingFilter {
  std::optional<std::string> room_id;
  std::optional<std::string> member_no;  ///< as the booker or a guest
  std::int64_t from_ms{0};               ///< bookings ending after this
  std::int64_t to_ms{INT64_MAX};         ///< and starting before this
  bool include_cancelled{false};
};

/// The code at the start of a refusal's message ("overlap"), or "" when it carries none.
std::string_view refusal_code(const Error& e);

/// "YYYY-MM-DDTHH:MM" (or with a space) in `calendar`'s zone as ms since the epoch; kInvalid
/// when malformed.
Result<std::int64_t> parse_local_time(std::string_view text, const policy::Calendar& calendar);
/// ms since the epoch as "YYYY-MM-DD HH:MM" in `calendar`'s zone.
std::string local_time_text(std::int64_t ms, const policy::Calendar& calendar);

/// Rooms, bookings and lockers. Obtained from Store::bookings().
class Bookings : public Repository {
 public:
  /// A view over `context`; `reads` resolves member numbers.
  Bookings(const StoreContext& context, TapReads& reads) : Repository(context), reads_(&reads) {}

  /// Writes the config's rooms, lockers and the site calendar's holidays and closure (labgated
  /// at start). Rooms and lockers no longer in the config are kept, inactive, for history. The
  /// config's rate becomes a room's or locker's first rate (in force since always) only when it
  /// has none yet: a later change of the config's number never rewrites the rate history.
  Status sync_site(const std::vector<Room>& rooms, const std::vector<Locker>& lockers,
                   const std::vector<policy::LocalDate>& holidays,
                   const std::optional<policy::Closure>& closure);
  /// The site calendar (time zone, holidays, closure) the booking rules use.
  Result<policy::Calendar> calendar();
  /// The active rooms, by id.
  Result<std::vector<Room>> rooms();
  /// One active room, or nullopt.
  Result<std::optional<Room>> room(std::string_view room_id);

  /// Books a room; refused with its code (see the file comment) or kConflict "overlap".
  Result<Booking> add(const NewBooking& booking, const Actor& actor);
  /// Cancels a live booking that has not started (the room's cancel rule applies).
  Result<Booking> cancel(std::int64_t booking_id, const Actor& actor);
  /// One booking.
  Result<std::optional<Booking>> booking(std::int64_t booking_id);
  /// Bookings by start (a writer settles the no-shows first).
  Result<std::vector<Booking>> list(const BookingFilter& filter);
  /// Bookings by start as recorded, never settling: for readers inside a read transaction of
  /// their own (the ward report), where a write would not belong.
  Result<std::vector<Booking>> list_recorded(const BookingFilter& filter);
  /// Settles the bookings whose no-show time has come: held when someone named on the
  /// booking was granted at the room's door since its early entry, otherwise no_show and its
  /// slots are freed. Returns how many became no-shows.
  Result<std::int64_t> settle_no_shows();

  /// The active lockers with their open loans.
  Result<std::vector<LockerState>> lockers();
  /// Lends a free locker from `from_date` (default today) to `until_date`.
  Result<LockerLoan> lend(std::string_view locker_id, std::string_view member_no,
                          std::optional<std::string> from_date, std::string_view until_date,
                          const Actor& actor);
  /// Takes a lent locker back (staff release it once the period is over).
  Result<LockerLoan> give_back(std::string_view locker_id, const Actor& actor);
  /// What the month [begin_ms, end_ms) (local days first_day..last_day) bills for rooms and
  /// lockers, of one member when given, as sale lines: a booking starting in the month that is
  /// booked or held, or a no-show where the room charges one, as its grid steps at the hourly
  /// rate (each step's price rounded up to the yen); a locker loan covering part of the month,
  /// one month at its rate (not read when first_day is ""). A booking takes its room's rate in
  /// force at its start, a loan its locker's rate in force at begin_ms. Items "room:<id>" and
  /// "locker:<id>", standard tax class.
  static Status scan_usage(Database& db, std::int64_t begin_ms, std::int64_t end_ms,
                           std::string_view first_day, std::string_view last_day,
                           std::optional<std::int64_t> member_id,
                           const std::function<void(UsageSale&&)>& sink);
  /// Adds an effective-dated rate of a room or locker and ends the one in force at its start
  /// there; audited as rate_set on "room:<id>" / "locker:<id>". kInvalid: bad kind or a negative
  /// price; kNotFound: no such active room or locker; kConflict: it starts in the past, a rate of
  /// the resource already starts at or after it, or it would change an issued statement (a
  /// booking starting after it, or a locker month whose first midnight is after it, in a month
  /// already issued to that member; the message names them).
  Result<ResourceRate> set_resource_rate(const NewResourceRate& rate, const Actor& actor);
  /// Removes rate `id` of the room or locker `kind`/`resource_id` before it starts (a mistyped
  /// price or date): the rate before it stays in force up to the rate after it, if any.
  /// Audited as rate_withdraw. kNotFound: no such rate of that resource; kConflict: it has
  /// started (bookings and locker months may be billed under it: set a new rate instead).
  /// Returns the rate withdrawn.
  Result<ResourceRate> withdraw_resource_rate(std::string_view kind, std::string_view resource_id,
                                              std::int64_t id, const Actor& actor);
  /// Rates of rooms and lockers by kind, resource, start; without include_history only those
  /// still in force or starting later. `kind` "room" or "locker" narrows them.
  Result<std::vector<ResourceRate>> resource_rates(std::optional<std::string> kind,
                                                   bool include_history);
  /// The rate of a room or locker in force at `at_ms`, if any.
  Result<std::optional<ResourceRate>> resource_rate_at(std::string_view kind,
                                                       std::string_view resource_id,
                                                       std::int64_t at_ms);
  /// Bookings by start as a settling at `at_ms` would leave them, never writing: a booking still
  /// recorded as booked whose no-show time has come reads as held when someone named on it was
  /// let in at the room's door since its early entry, otherwise as no_show (the ward report,
  /// so that it counts what billing would after settling).
  Result<std::vector<Booking>> list_as_settled(const BookingFilter& filter, std::int64_t at_ms);
  /// Loans overlapping the local days [from_date, until_date] (billing).
  Result<std::vector<LockerLoan>> loans(std::string_view from_date, std::string_view until_date);

 private:
  Result<std::vector<std::string>> guests_of(std::int64_t booking_id);
  TapReads* reads_;
};

}  // namespace labgate::gateway::store
