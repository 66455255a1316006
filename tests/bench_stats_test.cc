// tinylm-bench's arithmetic: percentiles (numpy's linear method, checked
// against values worked out by hand), and what a run's statistics count
// inside and outside the measurement window.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <vector>

#include "tools/bench/percentile.h"
#include "tools/bench/report.h"
#include "tools/bench/run_stats.h"

namespace tinylm {
namespace bench {
namespace {

using std::chrono::milliseconds;

TEST(PercentileTest, InterpolatesBetweenClosestRanks) {
  const std::vector<double> v = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(PercentileOfSorted(v, 0), 1);
  EXPECT_DOUBLE_EQ(PercentileOfSorted(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(PercentileOfSorted(v, 100), 4);
  // rank 0.99 * 3 = 2.97: 3 + 0.97 * (4 - 3)
  EXPECT_DOUBLE_EQ(PercentileOfSorted(v, 99), 3.97);
  // rank 0.25 * 3 = 0.75
  EXPECT_DOUBLE_EQ(PercentileOfSorted(v, 25), 1.75);
}

TEST(PercentileTest, HundredSamplesP99IsNotTheMaximum) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  // rank 0.99 * 99 = 98.01: 99 + 0.01 * (100 - 99)
  EXPECT_NEAR(PercentileOfSorted(v, 99), 99.01, 1e-9);
  EXPECT_NEAR(PercentileOfSorted(v, 50), 50.5, 1e-9);
}

TEST(PercentileTest, OneSampleAndNone) {
  EXPECT_DOUBLE_EQ(PercentileOfSorted({7}, 99), 7);
  EXPECT_TRUE(std::isnan(PercentileOfSorted({}, 50)));
  EXPECT_DOUBLE_EQ(PercentileOfSorted({1, 3}, 250), 3);  // q is clamped
  EXPECT_DOUBLE_EQ(PercentileOfSorted({1, 3}, -5), 1);
}

TEST(PercentileTest, SummarizeSortsItsInput) {
  const LatencySummary s = Summarize({9, 1, 5, 3, 7});
  EXPECT_EQ(s.count, 5);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 9);
  EXPECT_DOUBLE_EQ(s.mean, 5);
  EXPECT_DOUBLE_EQ(s.p50, 5);
  EXPECT_DOUBLE_EQ(s.p90, 8.2);  // rank 3.6 between 7 and 9
  const LatencySummary empty = Summarize({});
  EXPECT_EQ(empty.count, 0);
  EXPECT_TRUE(std::isnan(empty.p50));
}

// A request sent at `start_ms` whose tokens arrive at `token_ms` and that
// ends at `end_ms`, all relative to `t0`.
RequestRecord Request(Clock::time_point t0, int start_ms,
                      const std::vector<int>& token_ms, int end_ms) {
  RequestRecord r;
  r.start = t0 + milliseconds(start_ms);
  for (const int t : token_ms) r.token_times.push_back(t0 + milliseconds(t));
  r.end = t0 + milliseconds(end_ms);
  r.ok = true;
  r.finish_reason = "length";
  return r;
}

TEST(RunStatsTest, CountsTokensAndRequestsInsideTheWindow) {
  const Clock::time_point t0 = Clock::now();
  const Window window{t0, t0 + milliseconds(1000)};
  std::vector<RequestRecord> records = {
      Request(t0, 0, {10, 20, 40}, 50),          // all inside
      Request(t0, 900, {950, 990, 1100}, 1200),  // ends after the deadline
  };
  RequestRecord failed;
  failed.start = t0 + milliseconds(60);
  failed.end = t0 + milliseconds(70);
  failed.error_code = "UNAVAILABLE";
  records.push_back(failed);

  const RunStats s = ComputeRunStats(records, window);
  EXPECT_EQ(s.measured_requests, 3);
  EXPECT_EQ(s.requests, 1);       // only the first ended in the window
  EXPECT_EQ(s.output_tokens, 5);  // the token at 1100 ms is outside
  EXPECT_DOUBLE_EQ(s.duration_s, 1.0);
  EXPECT_DOUBLE_EQ(s.output_tokens_per_s, 5.0);
  EXPECT_DOUBLE_EQ(s.requests_per_s, 1.0);
  EXPECT_DOUBLE_EQ(s.mean_output_tokens, 3.0);
  EXPECT_EQ(s.errors.at("UNAVAILABLE"), 1);
  EXPECT_EQ(s.finish_reasons.at("length"), 2);
  // Latencies take both successful requests: TTFT 10 and 50 ms.
  EXPECT_EQ(s.ttft_ms.count, 2);
  EXPECT_NEAR(s.ttft_ms.p50, 30, 1e-6);
  // Gaps 10, 20 and 40, 110.
  EXPECT_EQ(s.itl_ms.count, 4);
  EXPECT_NEAR(s.itl_ms.max, 110, 1e-6);
  EXPECT_NEAR(s.itl_ms.min, 10, 1e-6);
  EXPECT_NEAR(s.total_ms.max, 300, 1e-6);
}

TEST(RunStatsTest, NoSuccessfulRequestGivesEmptySummaries) {
  const Clock::time_point t0 = Clock::now();
  RequestRecord failed;
  failed.start = failed.end = t0;
  failed.error_code = "NOT_FOUND";
  const RunStats s =
      ComputeRunStats({failed}, Window{t0, t0 + milliseconds(500)});
  EXPECT_EQ(s.requests, 0);
  EXPECT_EQ(s.output_tokens, 0);
  EXPECT_EQ(s.ttft_ms.count, 0);
  EXPECT_TRUE(std::isnan(s.ttft_ms.p50));
  // The report writes a missing percentile as null, not NaN.
  const nlohmann::json json = RunJson("base", 1, s, {});
  EXPECT_TRUE(json["ttft_ms"]["p50"].is_null());
  EXPECT_EQ(json["errors"]["NOT_FOUND"], 1);
}

TEST(ReportTest, MarkdownHasOneRowPerRunOfEachModel) {
  const Clock::time_point t0 = Clock::now();
  const RunStats s = ComputeRunStats({Request(t0, 0, {10, 20}, 30)},
                                     Window{t0, t0 + milliseconds(1000)});
  nlohmann::json report;
  report["meta"] = {{"date", "2000-01-01T00:00:00Z"}, {"label", "cpu"}};
  report["models"]["base"] = {
      {"device", "cpu"}, {"dtype", "float32"}, {"max_batch", 4}};
  report["results"] = {RunJson("base", 1, s, {}), RunJson("base", 4, s, {}),
                       RunJson("other", 1, s, {})};
  const std::string md = MarkdownFromJson(report);
  EXPECT_NE(md.find("### base (cpu, float32, max_batch 4)"), std::string::npos);
  EXPECT_NE(md.find("| 1 | 1.00 | 2.0 | 10.00 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 4 | 1.00 | 2.0 |"), std::string::npos) << md;
  EXPECT_EQ(md.find("other"), std::string::npos);  // not in models
  EXPECT_NE(md.find("- hardware / label: cpu"), std::string::npos);
}

}  // namespace
}  // namespace bench
}  // namespace tinylm
