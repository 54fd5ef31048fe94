#pragma once
// Weekly time windows of a plan ("mon-fri 08:30-17:15; sat 10:00-16:00; sun off").

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/gateway/policy/calendar.hpp"
#include "labgate/gateway/policy/result.hpp"

namespace labgate::gateway::policy {

/// One weekly window: the days it opens on and its local open/close minutes.
/// `close_minute <= open_minute` means the window runs past midnight into the next day
/// ("22:00-06:00" opens Friday 22:00 and closes Saturday 06:00). 00:00-24:00 is the whole day.
struct TimeWindow {
  std::uint8_t days{0};  ///< bit n set = opens on weekday n (0 = Sunday ... 6 = Saturday)
  int open_minute{0};    ///< 0..1439
  int close_minute{0};   ///< 1..1440
  friend bool operator==(const TimeWindow&, const TimeWindow&) = default;
};

/// Where and why parse_windows() refused its input.
struct WindowParseError {
  std::size_t position{0};  ///< zero-based byte offset into the input
  std::string message;      ///< what was expected there
};

/// A parsed plan schedule.
class TimeWindows {
 public:
  /// No window at all: never open.
  TimeWindows() = default;
  /// From explicit windows.
  explicit TimeWindows(std::vector<TimeWindow> windows) : windows_(std::move(windows)) {}

  /// Every day, all day.
  static TimeWindows always();

  /// The windows, in the order they were written.
  const std::vector<TimeWindow>& windows() const { return windows_; }
  /// True when no window opens on any day.
  bool empty() const { return windows_.empty(); }

  /// True when the local moment falls inside a window: a window opened on this weekday and not
  /// yet closed, or a window opened the previous weekday that runs past midnight. The open
  /// minute is inside, the close minute outside.
  bool contains(std::chrono::weekday wd, int minute_of_day) const;

  friend bool operator==(const TimeWindows&, const TimeWindows&) = default;

 private:
  std::vector<TimeWindow> windows_;
};

/// Parses a schedule. Grammar (case-insensitive, whitespace free between tokens):
///   schedule := clause (';' clause)*  |  "24h"  |  "off"
///   clause   := days ranges
///   days     := dayspec (',' dayspec)*      dayspec := day | day '-' day | "daily"
///   day      := mon | tue | wed | thu | fri | sat | sun     (a range may wrap: "fri-mon")
///   ranges   := "off" | "24h" | range (',' range)*         range := HH:MM '-' HH:MM
/// Minutes are 00..59, hours 00..23 (24:00 only as a close time). A clause with "off" removes
/// the windows that earlier clauses opened on those days ("daily 08:00-20:00; sun off").
/// An open time equal to its close time is refused (use 24h or 00:00-24:00).
Result<TimeWindows, WindowParseError> parse_windows(std::string_view text);

/// Canonical text of a schedule, parseable again by parse_windows().
std::string to_string(const TimeWindows& w);

}  // namespace labgate::gateway::policy
