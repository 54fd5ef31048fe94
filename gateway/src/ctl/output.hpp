#pragma once
// Rendering of labgatectl results: aligned text tables for people, JSON for scripts.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace labgate::gateway::ctl {

/// A text table: a header row and data rows, printed with aligned columns.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  /// Appends a row (missing cells print empty). Cells are stored text: control characters and
  /// invalid bytes are shown as escapes, so a name cannot drive the terminal or break the table.
  void add(std::vector<std::string> row);
  /// Prints the table, or "(none)" when it has no rows.
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

/// "YYYY-MM-DD HH:MM:SS" in `time_zone` for ms since the epoch.
std::string format_local(std::int64_t ms, const std::string& time_zone);
/// As format_local, "" when absent.
std::string format_local(const std::optional<std::int64_t>& ms, const std::string& time_zone);
/// ISO-8601 UTC ("2026-04-01T00:00:00.000Z") for JSON output.
std::string format_utc(std::int64_t ms);
/// Milliseconds since the epoch of local midnight starting `date` ('YYYY-MM-DD') in `time_zone`.
std::int64_t local_midnight_ms(const std::string& date, const std::string& time_zone);

/// Milliseconds since the epoch of "YYYY-MM-DD HH:MM[:SS]" local time in `time_zone`; nullopt when
/// the text is not such a time.
std::optional<std::int64_t> parse_local_time(const std::string& text, const std::string& time_zone);

}  // namespace labgate::gateway::ctl
