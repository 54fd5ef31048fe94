#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <stdexcept>

#include "labgate/gateway/report/ward_report.hpp"
#include "time.hpp"

namespace labgate::gateway::report {

namespace detail {

bool known_zone(std::string_view zone) {
  try {
    return date::locate_zone(std::string(zone)) != nullptr;
  } catch (const std::runtime_error&) {
    return false;
  }
}

std::int64_t local_midnight_ms(std::string_view day, std::string_view zone) {
  const int y = std::stoi(std::string(day.substr(0, 4)));
  const auto m = static_cast<unsigned>(std::stoi(std::string(day.substr(5, 2))));
  const auto d = static_cast<unsigned>(std::stoi(std::string(day.substr(8, 2))));
  const date::local_days local{date::year{y} / date::month{m} / date::day{d}};
  // A zone that skips midnight (DST at 00:00) starts the day at the first instant that exists.
  const auto zoned = date::make_zoned(std::string(zone), local, date::choose::earliest);
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             zoned.get_sys_time().time_since_epoch())
      .count();
}

std::string local_date(std::int64_t ms, std::string_view zone) {
  const date::sys_time<std::chrono::milliseconds> t{std::chrono::milliseconds{ms}};
  const auto zoned = date::make_zoned(std::string(zone), t);
  return date::format("%F", date::floor<date::days>(zoned.get_local_time()));
}

std::string local_time(std::int64_t ms, std::string_view zone) {
  const date::sys_time<std::chrono::milliseconds> t{std::chrono::milliseconds{ms}};
  const auto zoned = date::make_zoned(std::string(zone), t);
  return date::format("%F %T", date::floor<std::chrono::seconds>(zoned.get_local_time()));
}

}  // namespace detail

namespace {

st::Error invalid(std::string message) {
  return st::Error{st::ErrorKind::kInvalid, 0, std::move(message)};
}

std::string ymd(int y, unsigned m, unsigned d) {
  return fmt::format("{:04}-{:02}-{:02}", y, m, d);
}

st::Result<Period> make_period(PeriodKind kind, std::string label, int y0, unsigned m0, int y1,
                               unsigned m1, std::string_view zone) {
  if (!detail::known_zone(zone)) return invalid(fmt::format("unknown time zone '{}'", zone));
  const date::year_month last_month{date::year{y1}, date::month{m1}};
  const date::year_month_day_last last{last_month / date::last};
  Period p;
  p.kind = kind;
  p.label = std::move(label);
  p.first_day = ymd(y0, m0, 1);
  p.last_day = ymd(y1, m1, static_cast<unsigned>(last.day()));
  const auto next = last_month + date::months{1};
  p.start_ms = detail::local_midnight_ms(p.first_day, zone);
  p.end_ms = detail::local_midnight_ms(
      ymd(static_cast<int>(next.year()), static_cast<unsigned>(next.month()), 1), zone);
  p.time_zone = std::string(zone);
  return p;
}

bool all_digits(std::string_view s) {
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) return false;
  }
  return !s.empty();
}

constexpr int kMinYear = 2000;
constexpr int kMaxYear = 2999;

}  // namespace

st::Result<Period> month_period(std::string_view text, std::string_view time_zone) {
  if (text.size() != 7 || text[4] != '-' || !all_digits(text.substr(0, 4)) ||
      !all_digits(text.substr(5, 2))) {
    return invalid(fmt::format("bad month '{}': expected YYYY-MM", text));
  }
  const int y = std::stoi(std::string(text.substr(0, 4)));
  const int m = std::stoi(std::string(text.substr(5, 2)));
  if (m < 1 || m > 12) return invalid(fmt::format("bad month '{}': month must be 01..12", text));
  if (y < kMinYear || y > kMaxYear) {
    return invalid(fmt::format("bad month '{}': year must be {}..{}", text, kMinYear, kMaxYear));
  }
  const auto mu = static_cast<unsigned>(m);
  return make_period(PeriodKind::kMonth, std::string(text), y, mu, y, mu, time_zone);
}

st::Result<Period> fiscal_year_period(int year, std::string_view time_zone) {
  if (year < kMinYear || year >= kMaxYear) {
    return invalid(
        fmt::format("bad fiscal year {}: expected a year {}..{}", year, kMinYear, kMaxYear - 1));
  }
  return make_period(PeriodKind::kFiscalYear, fmt::format("FY{}", year), year, 4, year + 1, 3,
                     time_zone);
}

st::Result<Period> parse_period(std::string_view text, std::string_view time_zone) {
  if (text.size() == 6 && (text[0] == 'F' || text[0] == 'f') &&
      (text[1] == 'Y' || text[1] == 'y') && all_digits(text.substr(2))) {
    return fiscal_year_period(std::stoi(std::string(text.substr(2))), time_zone);
  }
  if (text.size() == 7 && text[4] == '-') return month_period(text, time_zone);
  return invalid(
      fmt::format("bad period '{}': expected a month YYYY-MM or a fiscal year FYYYYY (FY2026 = "
                  "2026-04-01 .. 2027-03-31)",
                  text));
}

}  // namespace labgate::gateway::report
