#include "tools/bench/percentile.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace tinylm {
namespace bench {

double PercentileOfSorted(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  q = std::clamp(q, 0.0, 100.0);
  // Rank on [0, n-1]; the answer lies between the samples either side.
  const double rank = q / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lower = static_cast<size_t>(std::floor(rank));
  const size_t upper = std::min(lower + 1, sorted.size() - 1);
  const double fraction = rank - static_cast<double>(lower);
  return sorted[lower] + fraction * (sorted[upper] - sorted[lower]);
}

LatencySummary Summarize(std::vector<double> values) {
  LatencySummary summary;
  summary.count = static_cast<int64_t>(values.size());
  if (values.empty()) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    summary.mean = summary.min = summary.p50 = summary.p90 = summary.p99 =
        summary.max = nan;
    return summary;
  }
  std::sort(values.begin(), values.end());
  summary.mean = std::accumulate(values.begin(), values.end(), 0.0) /
                 static_cast<double>(values.size());
  summary.min = values.front();
  summary.p50 = PercentileOfSorted(values, 50);
  summary.p90 = PercentileOfSorted(values, 90);
  summary.p99 = PercentileOfSorted(values, 99);
  summary.max = values.back();
  return summary;
}

}  // namespace bench
}  // namespace tinylm
