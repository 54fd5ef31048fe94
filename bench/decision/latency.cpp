#include "latency.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace labgate::bench::decision {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank: no interpolation, so every figure reported is a latency that really happened.
  // The epsilon keeps 99.9 % of 1000 at rank 999 despite binary floating point.
  const double rank = std::ceil(p * static_cast<double>(sorted.size()) / 100.0 - 1e-9);
  const auto index = static_cast<std::size_t>(std::clamp(rank, 1.0, double(sorted.size()))) - 1;
  return sorted[index];
}

LatencySummary LatencySet::summary() const {
  LatencySummary s;
  s.count = samples_.size();
  if (samples_.empty()) return s;
  std::vector<double> sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  s.p50 = percentile(sorted, 50);
  s.p90 = percentile(sorted, 90);
  s.p99 = percentile(sorted, 99);
  s.p999 = percentile(sorted, 99.9);
  s.max = sorted.back();
  return s;
}

std::string format_header(const std::string& first_column) {
  return fmt::format("{:<34} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}", first_column, "count", "p50 ms",
                     "p90 ms", "p99 ms", "p99.9 ms", "max ms");
}

std::string format_row(const std::string& label, const LatencySummary& s) {
  if (s.count == 0) return fmt::format("{:<34} {:>7}", label, 0);
  return fmt::format("{:<34} {:>7} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f}", label, s.count,
                     s.p50 / 1000.0, s.p90 / 1000.0, s.p99 / 1000.0, s.p999 / 1000.0,
                     s.max / 1000.0);
}

}  // namespace labgate::bench::decision
