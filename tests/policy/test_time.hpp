#pragma once
// Instants written as Japan local time (UTC+9, no DST) without going through the code under test.

#include <chrono>

namespace labgate::gateway::policy::test {

inline std::chrono::system_clock::time_point utc(int y, unsigned m, unsigned d, int hh, int mm) {
  using namespace std::chrono;
  return sys_days{year{y} / month{m} / day{d}} + hours{hh} + minutes{mm};
}

inline std::chrono::system_clock::time_point jst(int y, unsigned m, unsigned d, int hh, int mm) {
  return utc(y, m, d, hh, mm) - std::chrono::hours{9};
}

inline std::chrono::year_month_day ymd(int y, unsigned m, unsigned d) {
  return std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d};
}

}  // namespace labgate::gateway::policy::test
