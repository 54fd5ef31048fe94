#pragma once
// The ward report: what the centre tells the ward every month and every fiscal year (April to
// March): machine hours and sessions, unique users, new and active members, trainings per
// certification type, inspections done and overdue, coworking member-hours and peak occupancy,
// meeting-room utilisation (booked hours / open hours) and locker occupancy.
//
// Periods are local calendar days in the site time zone (Asia/Tokyo by default): a month
// 2026-05 is [2026-05-01 00:00, 2026-06-01 00:00) local, fiscal year FY2026 is
// [2026-04-01 00:00, 2027-04-01 00:00) local.
//
// Counting rules (the report states them too):
// - a session is counted in the period in which it *started*; its time is clipped to the period,
//   so hours of consecutive months add up to the fiscal year's hours;
// - a session still open is counted up to `as_of` (never past the period end);
// - unique users: members with a session overlapping the period or a granted door access in it;
// - peak occupancy: most coworking sessions open at the same instant; a session ending at the
//   instant another starts does not overlap it; the earliest instant of the peak is given;
// - a machine is overdue on a day when its latest inspection done on or before that day has a
//   next due date before that day, or when it has never been inspected (from its creation day).
//
// Reads only, through the store's repositories (events() and staff() report reads), in one read
// transaction. Sessions are read in one streaming pass over two index range scans (see
// build_ward_report).

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/gateway/store/result.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::report {

namespace st = labgate::gateway::store;

/// A month or a fiscal year.
enum class PeriodKind { kMonth, kFiscalYear };

/// A report period: whole local days [first_day, last_day] and the matching UTC instants.
struct Period {
  PeriodKind kind{PeriodKind::kMonth};
  std::string label;         ///< "2026-05" or "FY2026"
  std::string first_day;     ///< 'YYYY-MM-DD', inclusive
  std::string last_day;      ///< 'YYYY-MM-DD', inclusive
  std::int64_t start_ms{0};  ///< local midnight starting first_day
  std::int64_t end_ms{0};    ///< local midnight after last_day (exclusive)
  std::string time_zone;
};

/// The month 'YYYY-MM' in `time_zone`; kInvalid when malformed or the zone is unknown.
st::Result<Period> month_period(std::string_view yyyy_mm, std::string_view time_zone);
/// Fiscal year `year` (April `year` to March `year`+1) in `time_zone`; kInvalid when out of range.
st::Result<Period> fiscal_year_period(int year, std::string_view time_zone);
/// "YYYY-MM" or "FY2026" / "fy2026"; kInvalid with the accepted forms otherwise.
st::Result<Period> parse_period(std::string_view text, std::string_view time_zone);

/// Options of build_ward_report.
struct ReportOptions {
  /// "Now": a period starting after it is refused; open sessions are counted up to it; a period
  /// not yet over is reported up to it and marked partial.
  std::int64_t as_of_ms{0};
};

/// Use of one machine in the period.
struct MachineUsage {
  std::string id;
  std::string name;
  std::int64_t sessions{0};      ///< started in the period
  std::int64_t ms{0};            ///< time in the period (clipped)
  std::int64_t unique_users{0};  ///< members with a session overlapping the period
};

/// One local day: machine time per machine (in `WardReport::machines` order) and coworking time.
struct DayUsage {
  std::string date;
  std::vector<std::int64_t> machine_ms;
  std::int64_t machines_total_ms{0};
  std::int64_t coworking_ms{0};
};

/// Trainings of one certification type.
struct TrainingCount {
  std::string type_code;
  std::string name;
  std::int64_t granted{0};            ///< granted_on in the period
  std::int64_t granted_revoked{0};    ///< of those, revoked since
  std::int64_t revoked_in_period{0};  ///< any certification of the type revoked in the period
};

/// Inspections and overdue days of one machine.
struct InspectionFigures {
  std::string machine_id;
  std::string name;
  std::int64_t passed{0};  ///< done in the period
  std::int64_t failed{0};
  bool overdue_at_end{false};             ///< on the last day evaluated (period end or as_of)
  std::optional<std::string> due_at_end;  ///< next due date then; empty: never inspected / none
  std::int64_t overdue_days{0};           ///< days of the period on which it was overdue
};

/// Coworking figures.
struct CoworkingFigures {
  std::int64_t sessions{0};
  std::int64_t ms{0};  ///< member-time, clipped
  std::int64_t unique_members{0};
  std::int64_t peak_occupancy{0};
  std::optional<std::int64_t> peak_at_ms;  ///< earliest instant of the peak
};

/// Use of one meeting room (docs/BOOKINGS.md): its booked time over the time it was open.
struct RoomUsage {
  std::string id;
  std::string name;
  std::int64_t bookings{0};   ///< booked or held, overlapping the period
  std::int64_t booked_ms{0};  ///< their time in the period (clipped)
  std::int64_t open_ms{0};    ///< grid steps of the period a booking could take (hours, closure)
  std::int64_t no_shows{0};   ///< released unused, starting in the period
};

/// Locker occupancy: the days lockers were lent over the days there were lockers.
struct LockerOccupancy {
  std::int64_t lockers{0};      ///< active lockers
  std::int64_t locker_days{0};  ///< lockers × days of the period evaluated
  std::int64_t lent_days{0};    ///< days a loan held a locker (overdue ones until taken back)
  std::int64_t lent_at_end{0};  ///< lockers lent on the last day evaluated
};

/// The main figures of one month (fiscal-year breakdown; a month report has one row).
struct MonthFigures {
  std::string month;  ///< 'YYYY-MM'
  std::int64_t machine_sessions{0};
  std::int64_t machine_ms{0};
  std::int64_t coworking_sessions{0};
  std::int64_t coworking_ms{0};
  std::int64_t coworking_peak{0};
  std::int64_t unique_users{0};
  std::int64_t new_members{0};
  std::int64_t trainings{0};
  std::int64_t inspections{0};
};

/// The whole report.
struct WardReport {
  Period period;
  bool complete{true};         ///< false: the period is not over; figures are up to as_of_ms
  std::int64_t as_of_ms{0};    ///< shown in the output only when !complete
  std::string data_starts_on;  ///< local date of the first recorded activity
  bool empty{false};           ///< nothing at all recorded in the period
  std::vector<MachineUsage> machines;  ///< by machine id
  std::vector<DayUsage> days;          ///< every local day of the period, in order
  std::int64_t unique_users{0};
  std::int64_t new_members{0};
  std::int64_t active_members_at_end{0};
  std::vector<TrainingCount> trainings;        ///< every certification type, by code
  std::vector<InspectionFigures> inspections;  ///< every machine, by id
  CoworkingFigures coworking;
  std::vector<RoomUsage> rooms;  ///< every active room, by id
  LockerOccupancy lockers;
  std::vector<MonthFigures> months;  ///< 12 rows for a fiscal year, 1 for a month
  /// Coworking member-time per local hour of the day (0..23), summed over the period's days:
  /// divided by the days and an hour, the mean occupancy of that hour. The console's charts
  /// use it; the files do not carry it.
  std::array<std::int64_t, 24> coworking_hour_ms{};
  std::vector<std::string> notes;  ///< plain-language remarks (empty period, partial period)

  /// Machine sessions started in the period, all machines.
  std::int64_t machine_sessions() const;
  /// Machine time in the period, all machines.
  std::int64_t machine_ms() const;
};

/// Builds the report from the store. Errors: kInvalid for a period that has not begun at as_of;
/// kNotFound for a period ending before the first recorded activity ("no data before ...") or an
/// empty database; database errors as they come. An empty period inside the data is not an
/// error: the report is built with `empty` set and a note saying so.
///
/// Sessions are read by two index range scans in start order: those started from 24 h before the
/// period to its end (sessions_started), and the long or open ones started earlier. The second
/// scan is fast with a partial index on long sessions (see docs/BENCHMARKS.md); without it SQLite
/// walks the earlier part of sessions_started.
st::Result<WardReport> build_ward_report(st::Store& store, const Period& period,
                                         const ReportOptions& options);

/// Output formats.
enum class Format { kCsv, kJson, kHtml };

/// Parses "csv,json,html" (any subset, any order); kInvalid names the bad entry.
st::Result<std::vector<Format>> parse_formats(std::string_view list);

/// Hours with two decimals, rounded half up ("12.50"), from milliseconds.
std::string format_hours(std::int64_t ms);

/// `part` / `whole` in percent with one decimal, rounded half up ("37.5"); "0.0" when `whole`
/// is 0 (a room never open, no lockers).
std::string format_percent(std::int64_t part, std::int64_t whole);

/// The report as JSON (UTF-8, 2-space indent, trailing newline). Byte-identical for equal reports.
std::string render_json(const WardReport& report);

/// One CSV table: its file-name suffix ("machines") and its bytes (csv::Writer: UTF-8 BOM, CRLF,
/// RFC 4180, a text cell that would start a formula prefixed with an apostrophe).
struct CsvFile {
  std::string suffix;
  std::string content;
};
/// The report as CSV, one file per table: summary, machines, daily, trainings, inspections and,
/// for a fiscal year, months.
std::vector<CsvFile> render_csv(const WardReport& report);

/// A self-contained printable HTML page (inline CSS, inline SVG bar chart of machine hours per
/// day with one <rect class="bar"> per day, @media print rules, UTF-8).
std::string render_html(const WardReport& report);

/// Base file name of the report: "ward-2026-05" or "ward-FY2026".
std::string base_name(const Period& period);

/// Writes the chosen formats into `dir` (created if missing): <base>.json, <base>.html,
/// <base>-<table>.csv. Returns the paths written, in that order; kUnavailable on I/O failure.
st::Result<std::vector<std::filesystem::path>> write_report(const WardReport& report,
                                                            const std::filesystem::path& dir,
                                                            const std::vector<Format>& formats);

}  // namespace labgate::gateway::report
