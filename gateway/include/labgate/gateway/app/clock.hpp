#pragma once
// The daemon's sense of time. Production reads the system clocks; the demo and the integration
// tests run on a manual clock moved through the control socket, so a whole scripted day (opening
// hours, grace periods, held-open alarms) plays in seconds and gives the same answers whenever it
// is run.

#include <chrono>
#include <string>

namespace labgate::gateway::app {

/// Wall time (UTC) and monotonic time, read together.
class Clock {
 public:
  virtual ~Clock() = default;
  /// Current wall-clock time, UTC.
  virtual std::chrono::system_clock::time_point wall() const = 0;
  /// Current monotonic time, ms since an arbitrary epoch (what the firmware controllers use).
  virtual std::chrono::milliseconds mono() const = 0;
  /// True for a manual clock (control-socket commands may move it).
  virtual bool manual() const = 0;
};

/// The system clocks.
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point wall() const override;
  std::chrono::milliseconds mono() const override;
  bool manual() const override { return false; }
};

/// A clock that moves only when told. Wall and monotonic time advance together.
class ManualClock final : public Clock {
 public:
  /// Starts at `start` (UTC).
  explicit ManualClock(std::chrono::system_clock::time_point start);
  std::chrono::system_clock::time_point wall() const override { return wall_; }
  std::chrono::milliseconds mono() const override { return mono_; }
  bool manual() const override { return true; }
  /// Moves both clocks forward by `d` (negative values are ignored: time never runs back).
  void advance(std::chrono::milliseconds d);
  /// Sets the wall clock to `t`; the monotonic clock advances by the difference when t is later.
  void set(std::chrono::system_clock::time_point t);

 private:
  std::chrono::system_clock::time_point wall_;
  std::chrono::milliseconds mono_{0};
};

/// Parses "2026-11-24T09:00:00+09:00" / "2026-11-24T00:00:00Z" / "2026-11-24 09:00" (local to
/// `tz_name`); returns false on malformed input.
bool parse_time(const std::string& text, const std::string& tz_name,
                std::chrono::system_clock::time_point& out);

/// Parses a duration "90s", "15m", "2h", "500ms", "1d"; returns false on malformed input.
bool parse_duration(const std::string& text, std::chrono::milliseconds& out);

/// Formats a UTC time as ISO-8601 with milliseconds and 'Z'.
std::string iso8601_utc(std::chrono::system_clock::time_point t);

/// Formats a time as local "YYYY-MM-DD HH:MM:SS" in the zone `tz_name`.
std::string local_time_string(std::chrono::system_clock::time_point t, const std::string& tz_name);

}  // namespace labgate::gateway::app
