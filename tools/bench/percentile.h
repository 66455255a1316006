// Order statistics of latency samples for the benchmark reports.
//
// Percentiles interpolate linearly between the two closest ranks (Hyndman
// and Fan's type 7, numpy.percentile's default), so p50 of {1, 2, 3, 4} is
// 2.5 and p100 is the maximum. With one sample every percentile is that
// sample; with none the summary reports count 0 and NaN elsewhere.
#ifndef TINYLM_TOOLS_BENCH_PERCENTILE_H_
#define TINYLM_TOOLS_BENCH_PERCENTILE_H_

#include <cstdint>
#include <vector>

namespace tinylm {
namespace bench {

// `sorted` ascending; q in [0, 100] (clamped). NaN when `sorted` is empty.
double PercentileOfSorted(const std::vector<double>& sorted, double q);

struct LatencySummary {
  int64_t count = 0;
  double mean = 0;
  double min = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};

// Sorts a copy of `values` once and reads every field from it.
LatencySummary Summarize(std::vector<double> values);

}  // namespace bench
}  // namespace tinylm

#endif  // TINYLM_TOOLS_BENCH_PERCENTILE_H_
