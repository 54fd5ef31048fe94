#include "labgate/gateway/policy/time_windows.hpp"

#include <array>
#include <cctype>
#include <optional>

namespace labgate::gateway::policy {
namespace {

constexpr int kMinutesPerDay = 24 * 60;
constexpr std::uint8_t kAllDays = 0x7f;
// Written Monday first, as people read a week; bits use the C encoding (Sunday = 0).
constexpr std::array<std::string_view, 7> kDayNamesFromMonday = {"mon", "tue", "wed", "thu",
                                                                 "fri", "sat", "sun"};

unsigned c_index_of_monday_index(std::size_t i) {
  return static_cast<unsigned>((i + 1) % 7);
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<TimeWindows, WindowParseError> run() {
    std::vector<TimeWindow> out;
    skip_ws();
    if (at_end()) return fail("empty schedule: expected a day, a time range, 24h or off");
    while (true) {
      if (!clause(out)) return *error_;
      skip_ws();
      if (at_end()) break;
      if (peek() != ';') return fail("expected ';' or the end of the schedule");
      ++pos_;
      skip_ws();
      if (at_end()) break;  // a trailing ';' is harmless
    }
    return TimeWindows{std::move(out)};
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  static char lower(char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  static bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  void skip_ws() {
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }

  WindowParseError fail(std::string message) { return fail_at(pos_, std::move(message)); }
  WindowParseError fail_at(std::size_t at, std::string message) {
    error_ = WindowParseError{at, std::move(message)};
    return *error_;
  }

  std::string word() {
    std::string w;
    while (!at_end() && (is_alpha(peek()) || is_digit(peek()))) w += lower(text_[pos_++]);
    return w;
  }

  bool keyword_ahead(std::string_view kw) const {
    if (text_.size() - pos_ < kw.size()) return false;
    for (std::size_t i = 0; i < kw.size(); ++i)
      if (lower(text_[pos_ + i]) != kw[i]) return false;
    const std::size_t end = pos_ + kw.size();
    return end == text_.size() || !(is_alpha(text_[end]) || is_digit(text_[end]));
  }

  std::optional<unsigned> day_name(std::size_t start, const std::string& w) {
    for (std::size_t i = 0; i < kDayNamesFromMonday.size(); ++i)
      if (w == kDayNamesFromMonday[i]) return c_index_of_monday_index(i);
    fail_at(start, "unknown day \"" + w + "\" (use mon tue wed thu fri sat sun or daily)");
    return std::nullopt;
  }

  bool dayspec(std::uint8_t& days) {
    const std::size_t start = pos_;
    const std::string w = word();
    if (w == "daily") {
      days = kAllDays;
      return true;
    }
    auto first = day_name(start, w);
    if (!first) return false;
    unsigned last = *first;
    if (peek() == '-') {
      ++pos_;
      const std::size_t second_start = pos_;
      if (!is_alpha(peek())) {
        fail("expected a day after '-'");
        return false;
      }
      auto second = day_name(second_start, word());
      if (!second) return false;
      last = *second;
    }
    for (unsigned d = *first;; d = (d + 1) % 7) {
      days = static_cast<std::uint8_t>(days | (1u << d));
      if (d == last) break;
    }
    return true;
  }

  // HH:MM with two-digit fields; returns minutes since midnight.
  std::optional<int> time(bool is_close) {
    const std::size_t start = pos_;
    if (text_.size() - pos_ < 5 || !is_digit(text_[pos_]) || !is_digit(text_[pos_ + 1]) ||
        text_[pos_ + 2] != ':' || !is_digit(text_[pos_ + 3]) || !is_digit(text_[pos_ + 4])) {
      fail("expected a time as HH:MM");
      return std::nullopt;
    }
    const int h = (text_[pos_] - '0') * 10 + (text_[pos_ + 1] - '0');
    const int m = (text_[pos_ + 3] - '0') * 10 + (text_[pos_ + 4] - '0');
    pos_ += 5;
    if (m > 59) {
      fail_at(start + 3, "minutes must be 00..59");
      return std::nullopt;
    }
    if (h > 24 || (h == 24 && (m != 0 || !is_close))) {
      fail_at(start, is_close ? "hours must be 00..23, or 24:00" : "hours must be 00..23");
      return std::nullopt;
    }
    return h * 60 + m;
  }

  bool clause(std::vector<TimeWindow>& out) {
    std::uint8_t days = 0;
    const bool has_days = is_alpha(peek()) && !keyword_ahead("off") && !keyword_ahead("24h");
    if (has_days) {
      while (true) {
        if (!dayspec(days)) return false;
        if (peek() == ',') {
          ++pos_;
          if (!is_alpha(peek())) {
            fail("expected a day after ','");
            return false;
          }
          continue;
        }
        break;
      }
      const std::size_t before_ws = pos_;
      skip_ws();
      if (pos_ == before_ws && !at_end()) {
        fail("expected a space between the days and the times");
        return false;
      }
    } else {
      if (at_end() || peek() == ';') {
        fail("expected a day or a time range");
        return false;
      }
      days = kAllDays;
    }

    if (at_end() || peek() == ';') {
      fail("expected a time range, 24h or off");
      return false;
    }
    if (keyword_ahead("off")) {
      pos_ += 3;
      std::vector<TimeWindow> kept;
      for (auto w : out) {
        w.days = static_cast<std::uint8_t>(w.days & ~days);
        if (w.days != 0) kept.push_back(w);
      }
      out = std::move(kept);
      return true;
    }
    while (true) {
      if (keyword_ahead("24h")) {
        pos_ += 3;
        out.push_back(TimeWindow{days, 0, kMinutesPerDay});
      } else {
        const std::size_t start = pos_;
        auto open = time(false);
        if (!open) return false;
        if (peek() != '-') {
          fail("expected '-' between the open and close times");
          return false;
        }
        ++pos_;
        auto close = time(true);
        if (!close) return false;
        if (*close == *open) {
          fail_at(start, "empty window: open and close are equal (use 24h for a whole day)");
          return false;
        }
        // "22:00-00:00" ends at midnight: the same as 24:00, not a window over midnight.
        const int close_minute = *close == 0 ? kMinutesPerDay : *close;
        out.push_back(TimeWindow{days, *open, close_minute});
      }
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      return true;
    }
  }

  std::string_view text_;
  std::size_t pos_{0};
  std::optional<WindowParseError> error_;
};

std::string hhmm(int minutes) {
  std::string s = "00:00";
  s[0] = static_cast<char>('0' + minutes / 600);
  s[1] = static_cast<char>('0' + (minutes / 60) % 10);
  s[3] = static_cast<char>('0' + (minutes % 60) / 10);
  s[4] = static_cast<char>('0' + minutes % 10);
  return s;
}

std::string days_text(std::uint8_t days) {
  if (days == kAllDays) return "daily";
  std::string out;
  std::size_t i = 0;
  while (i < 7) {
    if ((days & (1u << c_index_of_monday_index(i))) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j + 1 < 7 && (days & (1u << c_index_of_monday_index(j + 1))) != 0) ++j;
    if (!out.empty()) out += ',';
    out += kDayNamesFromMonday[i];
    if (j > i) {
      out += '-';
      out += kDayNamesFromMonday[j];
    }
    i = j + 1;
  }
  return out;
}

}  // namespace

TimeWindows TimeWindows::always() {
  return TimeWindows{{TimeWindow{kAllDays, 0, kMinutesPerDay}}};
}

bool TimeWindows::contains(std::chrono::weekday wd, int minute_of_day) const {
  const unsigned today = wd.c_encoding();
  const unsigned yesterday = (today + 6) % 7;
  for (const auto& w : windows_) {
    const bool opens_today = (w.days & (1u << today)) != 0;
    if (w.open_minute < w.close_minute) {
      if (opens_today && minute_of_day >= w.open_minute && minute_of_day < w.close_minute)
        return true;
    } else {
      if (opens_today && minute_of_day >= w.open_minute) return true;
      if ((w.days & (1u << yesterday)) != 0 && minute_of_day < w.close_minute) return true;
    }
  }
  return false;
}

Result<TimeWindows, WindowParseError> parse_windows(std::string_view text) {
  return Parser{text}.run();
}

std::string to_string(const TimeWindows& w) {
  if (w.empty()) return "off";
  std::string out;
  for (const auto& win : w.windows()) {
    if (!out.empty()) out += "; ";
    out += days_text(win.days);
    out += ' ';
    if (win.open_minute == 0 && win.close_minute == kMinutesPerDay)
      out += "24h";
    else
      out += hhmm(win.open_minute) + "-" + hhmm(win.close_minute);
  }
  return out;
}

}  // namespace labgate::gateway::policy
