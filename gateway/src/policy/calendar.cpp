#include "labgate/gateway/policy/calendar.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace labgate::gateway::policy {
namespace {

// std::chrono and date share the epoch and the proleptic Gregorian calendar, so a day count
// is the lossless bridge between the two libraries' types.
date::local_days to_date_local(const LocalDate& d) {
  const auto n = std::chrono::sys_days{d}.time_since_epoch().count();
  return date::local_days{date::days{static_cast<int>(n)}};
}

LocalDate from_date_days(date::days since_epoch) {
  return LocalDate{std::chrono::sys_days{std::chrono::days{since_epoch.count()}}};
}

bool parse_uint(std::string_view s, unsigned& out) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

std::string two_digits(unsigned v) {
  std::string s(2, '0');
  s[0] = static_cast<char>('0' + (v / 10) % 10);
  s[1] = static_cast<char>('0' + v % 10);
  return s;
}

const date::time_zone* locate(std::string_view name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace

std::string to_string(const LocalDate& d) {
  const int y = static_cast<int>(d.year());
  std::string year = std::to_string(y < 0 ? -y : y);
  while (year.size() < 4) year.insert(year.begin(), '0');
  return (y < 0 ? "-" : "") + year + "-" + two_digits(static_cast<unsigned>(d.month())) + "-" +
         two_digits(static_cast<unsigned>(d.day()));
}

std::optional<LocalDate> parse_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  unsigned y = 0, m = 0, d = 0;
  if (!parse_uint(text.substr(0, 4), y) || !parse_uint(text.substr(5, 2), m) ||
      !parse_uint(text.substr(8, 2), d))
    return std::nullopt;
  LocalDate out{std::chrono::year{static_cast<int>(y)}, std::chrono::month{m}, std::chrono::day{d}};
  if (!out.ok()) return std::nullopt;
  return out;
}

std::optional<MonthDay> parse_month_day(std::string_view text) {
  if (text.size() != 5 || text[2] != '-') return std::nullopt;
  unsigned m = 0, d = 0;
  if (!parse_uint(text.substr(0, 2), m) || !parse_uint(text.substr(3, 2), d)) return std::nullopt;
  // 2000 is a leap year, so 02-29 passes and 02-30 does not.
  if (!LocalDate{std::chrono::year{2000}, std::chrono::month{m}, std::chrono::day{d}}.ok())
    return std::nullopt;
  return MonthDay{m, d};
}

std::string to_string(const MonthDay& md) {
  return two_digits(md.month) + "-" + two_digits(md.day);
}

bool Closure::contains(const LocalDate& d) const {
  const unsigned key = static_cast<unsigned>(d.month()) * 100 + static_cast<unsigned>(d.day());
  const unsigned lo = from.month * 100 + from.day;
  const unsigned hi = to.month * 100 + to.day;
  if (lo <= hi) return key >= lo && key <= hi;
  return key >= lo || key <= hi;
}

Calendar::Calendar() : Calendar(kDefaultTimeZone) {}

Calendar::Calendar(std::string_view time_zone) : zone_(locate(time_zone)), zone_name_(time_zone) {
  if (zone_ == nullptr)
    throw std::invalid_argument("unknown time zone \"" + std::string(time_zone) + "\"");
}

bool Calendar::is_valid_time_zone(std::string_view name) {
  return locate(name) != nullptr;
}

void Calendar::set_holidays(std::vector<LocalDate> holidays) {
  holidays_ = std::move(holidays);
  std::sort(holidays_.begin(), holidays_.end());
  holidays_.erase(std::unique(holidays_.begin(), holidays_.end()), holidays_.end());
}

void Calendar::add_holiday(const LocalDate& d) {
  auto it = std::lower_bound(holidays_.begin(), holidays_.end(), d);
  if (it == holidays_.end() || *it != d) holidays_.insert(it, d);
}

LocalTime Calendar::to_local(std::chrono::system_clock::time_point t) const {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto local = zone_->to_local(date::sys_seconds{secs.time_since_epoch()});
  const auto day = date::floor<date::days>(local);
  const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(local - day).count();
  LocalTime out;
  out.date = from_date_days(day.time_since_epoch());
  out.weekday = std::chrono::weekday{std::chrono::sys_days{out.date}};
  out.minute_of_day = static_cast<int>(minutes);
  return out;
}

std::chrono::system_clock::time_point Calendar::to_sys(const LocalDate& d,
                                                       int minute_of_day) const {
  const date::local_seconds local{to_date_local(d).time_since_epoch() +
                                  std::chrono::minutes{minute_of_day}};
  const auto info = zone_->get_info(local);
  // In a gap (nonexistent local time) the earlier offset maps the time just past the gap.
  const auto sys = local.time_since_epoch() - info.first.offset;
  return std::chrono::system_clock::time_point{
      std::chrono::duration_cast<std::chrono::system_clock::duration>(sys)};
}

bool Calendar::is_holiday(const LocalDate& d) const {
  return std::binary_search(holidays_.begin(), holidays_.end(), d);
}

bool Calendar::in_closure(const LocalDate& d) const {
  return closure_ && closure_->contains(d);
}

}  // namespace labgate::gateway::policy
