#pragma once
// Latency samples and their order statistics for the decision benchmark.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace labgate::bench::decision {

/// Order statistics of one set of samples, in microseconds.
struct LatencySummary {
  std::size_t count{0};
  double p50{0};
  double p90{0};
  double p99{0};
  double p999{0};
  double max{0};
};

/// The nearest-rank percentile of `sorted` (ascending): the smallest sample with at least
/// `p` percent of the samples at or below it. `p` in (0, 100]; 0 for an empty set.
double percentile(const std::vector<double>& sorted, double p);

/// Collects samples (microseconds) and summarises them.
class LatencySet {
 public:
  /// Adds one sample.
  void add(double micros) { samples_.push_back(micros); }
  /// The samples, in the order added.
  const std::vector<double>& samples() const { return samples_; }
  /// Number of samples so far.
  std::size_t size() const { return samples_.size(); }
  /// p50, p90, p99, p99.9 and max by nearest rank.
  LatencySummary summary() const;

 private:
  std::vector<double> samples_;
};

/// One fixed-width table row: "label  count  p50  p90  p99  p99.9  max" (values in ms).
std::string format_row(const std::string& label, const LatencySummary& s);
/// The header matching format_row.
std::string format_header(const std::string& first_column);

}  // namespace labgate::bench::decision
