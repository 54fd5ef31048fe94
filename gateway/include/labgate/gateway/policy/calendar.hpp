#pragma once
// The site calendar: local time zone, national holidays and the yearly closure.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace date {
class time_zone;
}

namespace labgate::gateway::policy {

/// A calendar date in the site's local time zone.
using LocalDate = std::chrono::year_month_day;

/// Formats a date as ISO 8601 ("2026-01-01").
std::string to_string(const LocalDate& d);
/// Parses "YYYY-MM-DD" strictly (four-digit year, two-digit month and day, a real date).
std::optional<LocalDate> parse_date(std::string_view text);

/// A month and day without a year, used for yearly recurring ranges.
struct MonthDay {
  unsigned month{1};  ///< 1..12
  unsigned day{1};    ///< 1..31 (must exist in a leap year)
  friend bool operator==(const MonthDay&, const MonthDay&) = default;
};

/// Parses "MM-DD" ("12-29"); nullopt unless the day exists in some year (02-29 is accepted).
std::optional<MonthDay> parse_month_day(std::string_view text);
/// Formats as "MM-DD".
std::string to_string(const MonthDay& md);

/// A yearly closure from `from` to `to`, both inclusive. When `to` comes before `from` in the
/// year, the range spans the new year (29 Dec - 3 Jan).
struct Closure {
  MonthDay from{12, 29};
  MonthDay to{1, 3};
  /// True when the date falls inside the range.
  bool contains(const LocalDate& d) const;
};

/// A moment expressed in the site's local time.
struct LocalTime {
  LocalDate date;                ///< local calendar date
  std::chrono::weekday weekday;  ///< local weekday of `date`
  int minute_of_day{0};          ///< 0..1439 since local midnight
};

/// The site calendar. Copyable and cheap to share; all functions are pure and thread-safe.
class Calendar {
 public:
  /// The default zone of the product.
  static constexpr std::string_view kDefaultTimeZone = "Asia/Tokyo";

  /// Asia/Tokyo, no holidays, closure 29 Dec - 3 Jan.
  Calendar();
  /// A calendar in the named IANA zone; throws std::invalid_argument when the zone is unknown.
  explicit Calendar(std::string_view time_zone);

  /// True when the OS time zone database knows the zone name.
  static bool is_valid_time_zone(std::string_view name);

  /// The IANA name of the zone ("Asia/Tokyo").
  const std::string& time_zone_name() const { return zone_name_; }

  /// Replaces the holiday list (duplicates are harmless).
  void set_holidays(std::vector<LocalDate> holidays);
  /// Adds one holiday.
  void add_holiday(const LocalDate& d);
  /// The holidays, sorted.
  const std::vector<LocalDate>& holidays() const { return holidays_; }

  /// Sets the yearly closure; nullopt disables it.
  void set_closure(std::optional<Closure> closure) { closure_ = closure; }
  /// The yearly closure, if any.
  const std::optional<Closure>& closure() const { return closure_; }

  /// Converts an instant to local date, weekday and minute of day.
  LocalTime to_local(std::chrono::system_clock::time_point t) const;
  /// The instant at which the given local date and minute of day begin. For a local time that
  /// does not exist or is ambiguous (DST changes; never in Japan) the earliest instant is used.
  std::chrono::system_clock::time_point to_sys(const LocalDate& d, int minute_of_day) const;

  /// True when the date is in the holiday list.
  bool is_holiday(const LocalDate& d) const;
  /// True when the date is inside the yearly closure.
  bool in_closure(const LocalDate& d) const;

 private:
  const date::time_zone* zone_{nullptr};
  std::string zone_name_;
  std::vector<LocalDate> holidays_;
  std::optional<Closure> closure_{Closure{}};
};

}  // namespace labgate::gateway::policy
