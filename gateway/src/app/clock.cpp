#include "labgate/gateway/app/clock.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <cctype>

namespace labgate::gateway::app {

using std::chrono::milliseconds;
using std::chrono::system_clock;

system_clock::time_point SystemClock::wall() const {
  return system_clock::now();
}

milliseconds SystemClock::mono() const {
  return std::chrono::duration_cast<milliseconds>(
      std::chrono::steady_clock::now().time_since_epoch());
}

ManualClock::ManualClock(system_clock::time_point start) : wall_(start) {}

void ManualClock::advance(milliseconds d) {
  if (d.count() <= 0) return;
  wall_ += d;
  mono_ += d;
}

void ManualClock::set(system_clock::time_point t) {
  if (t > wall_) mono_ += std::chrono::duration_cast<milliseconds>(t - wall_);
  wall_ = t;
}

namespace {

// A small strict reader instead of date::parse, whose inlined code trips g++ 12's
// maybe-uninitialized warning.
bool read_int(const std::string& s, std::size_t& i, int digits, int& out) {
  out = 0;
  for (int k = 0; k < digits; ++k, ++i) {
    if (i >= s.size() || std::isdigit(static_cast<unsigned char>(s[i])) == 0) return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

bool parse_time(const std::string& text, const std::string& tz_name,
                system_clock::time_point& out) {
  std::size_t i = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!read_int(text, i, 4, y) || i >= text.size() || text[i++] != '-') return false;
  if (!read_int(text, i, 2, mo) || i >= text.size() || text[i++] != '-') return false;
  if (!read_int(text, i, 2, d) || i >= text.size() || (text[i] != ' ' && text[i] != 'T')) {
    return false;
  }
  ++i;
  if (!read_int(text, i, 2, h) || i >= text.size() || text[i++] != ':') return false;
  if (!read_int(text, i, 2, mi)) return false;
  if (i < text.size() && text[i] == ':') {
    ++i;
    if (!read_int(text, i, 2, sec)) return false;
  }
  date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(mo)},
                           date::day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return false;
  auto local = date::local_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
               std::chrono::seconds{sec};
  if (i == text.size()) {
    try {
      out = date::locate_zone(tz_name)->to_sys(local, date::choose::earliest);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }
  auto wall = system_clock::time_point(local.time_since_epoch());
  if (text[i] == 'Z' && i + 1 == text.size()) {
    out = wall;
    return true;
  }
  if (text[i] != '+' && text[i] != '-') return false;
  int sign = text[i++] == '+' ? 1 : -1;
  int oh = 0, om = 0;
  if (!read_int(text, i, 2, oh) || i >= text.size() || text[i++] != ':') return false;
  if (!read_int(text, i, 2, om) || i != text.size() || oh > 14 || om > 59) return false;
  out = wall - sign * (std::chrono::hours{oh} + std::chrono::minutes{om});
  return true;
}

bool parse_duration(const std::string& text, milliseconds& out) {
  std::size_t i = 0;
  long long value = 0;
  bool any = false;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
    value = value * 10 + (text[i] - '0');
    if (value > 10LL * 365 * 24 * 3600 * 1000) return false;
    any = true;
    ++i;
  }
  if (!any) return false;
  std::string unit = text.substr(i);
  long long factor = 0;
  if (unit == "ms") {
    factor = 1;
  } else if (unit == "s" || unit.empty()) {
    factor = 1000;
  } else if (unit == "m" || unit == "min") {
    factor = 60'000;
  } else if (unit == "h") {
    factor = 3'600'000;
  } else if (unit == "d") {
    factor = 86'400'000;
  } else {
    return false;
  }
  out = milliseconds(value * factor);
  return true;
}

std::string iso8601_utc(system_clock::time_point t) {
  return date::format("%FT%TZ", date::floor<milliseconds>(t));
}

std::string local_time_string(system_clock::time_point t, const std::string& tz_name) {
  try {
    auto zt = date::make_zoned(tz_name, date::floor<std::chrono::seconds>(t));
    return date::format("%F %T", zt);
  } catch (const std::exception&) {
    return date::format("%F %TZ", date::floor<std::chrono::seconds>(t));
  }
}

}  // namespace labgate::gateway::app
