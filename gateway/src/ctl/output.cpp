#include "output.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "labgate/gateway/store/changes.hpp"
#include "labgate/gateway/text/text.hpp"

namespace labgate::gateway::ctl {

namespace {

// Terminal columns a code point takes: Japanese names (kana, kanji, full-width forms) take two,
// so a byte count would push every later column of their row out of line.
std::size_t columns_of(char32_t c) {
  const bool wide = (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) ||
                    (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
                    (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
                    (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x20000 && c <= 0x3FFFD);
  return wide ? 2 : 1;
}

// Display width of UTF-8 text; a malformed byte counts as one column.
std::size_t display_width(const std::string& text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    std::size_t len = b < 0x80           ? 1
                      : (b >> 5) == 0x6  ? 2
                      : (b >> 4) == 0xE  ? 3
                      : (b >> 3) == 0x1E ? 4
                                         : 1;
    if (i + len > text.size()) len = 1;
    char32_t c = len == 1 ? b : b & (0xFF >> (len + 1));
    for (std::size_t k = 1; k < len; ++k)
      c = (c << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    width += columns_of(c);
    i += len;
  }
  return width;
}

}  // namespace

void Table::add(std::vector<std::string> row) {
  for (auto& cell : row) cell = text::visible(cell);
  rows_.push_back(std::move(row));
}

void Table::print(std::ostream& out) const {
  if (rows_.empty()) {
    out << "(none)\n";
    return;
  }
  std::vector<std::size_t> widths(headers_.size());
  for (std::size_t i = 0; i < headers_.size(); ++i) widths[i] = display_width(headers_[i]);
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : std::string();
      text += cell;
      if (i + 1 < widths.size()) text.append(widths[i] - display_width(cell) + 2, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << '\n';
  };
  line(headers_);
  std::vector<std::string> rule;
  for (auto w : widths) rule.emplace_back(w, '-');
  line(rule);
  for (const auto& row : rows_) line(row);
}

std::string format_local(std::int64_t ms, const std::string& time_zone) {
  const auto tp = std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ms));
  try {
    return date::format("%F %T", date::floor<std::chrono::seconds>(
                                     date::make_zoned(time_zone, tp).get_local_time()));
  } catch (const std::exception&) {
    return date::format("%F %T UTC", date::floor<std::chrono::seconds>(tp));
  }
}

std::string format_local(const std::optional<std::int64_t>& ms, const std::string& time_zone) {
  return ms ? format_local(*ms, time_zone) : std::string();
}

std::string format_utc(std::int64_t ms) {
  return store::utc_text(ms);
}

std::int64_t local_midnight_ms(const std::string& day, const std::string& time_zone) {
  // The caller has validated `day` as YYYY-MM-DD.
  const int y = std::stoi(day.substr(0, 4));
  const auto m = static_cast<unsigned>(std::stoi(day.substr(5, 2)));
  const auto d = static_cast<unsigned>(std::stoi(day.substr(8, 2)));
  const date::local_days local{date::year{y} / date::month{m} / date::day{d}};
  const auto zoned = date::make_zoned(time_zone, local, date::choose::earliest);
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             zoned.get_sys_time().time_since_epoch())
      .count();
}

std::optional<std::int64_t> parse_local_time(const std::string& text,
                                             const std::string& time_zone) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, used = 0;
  const int n = std::sscanf(text.c_str(), "%4d-%2d-%2d %2d:%2d%n:%2d%n", &y, &mo, &d, &h, &mi,
                            &used, &sec, &used);
  if (n < 5 || static_cast<std::size_t>(used) != text.size()) return std::nullopt;
  const date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(mo)},
                                 date::day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) {
    return std::nullopt;
  }
  const auto local = date::local_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
                     std::chrono::seconds{sec};
  try {
    const auto zoned = date::make_zoned(time_zone, local, date::choose::earliest);
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               zoned.get_sys_time().time_since_epoch())
        .count();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace labgate::gateway::ctl
