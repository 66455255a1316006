// The Prometheus text of the server metrics (server/operations/metrics.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "server/operations/metrics.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

TEST(ServerMetricsTest, TextHasEveryFamilyAndTheRecordedValues) {
  if (!MetricsAvailable()) GTEST_SKIP() << "built without metrics";
  ServerMetrics metrics;
  std::shared_ptr<SchedulerMetrics> base = metrics.ForModel("base", 4);
  base->OnStep(3, /*prefill=*/true);
  base->OnStep(2, /*prefill=*/false);
  base->OnToken(/*first=*/true, absl::Milliseconds(20));
  base->OnToken(/*first=*/false, absl::Milliseconds(3));
  base->OnSlotsInUse(2);
  base->OnSchedulerTime(SchedulerActivity::kWait, absl::Milliseconds(250));
  base->OnSchedulerTime(SchedulerActivity::kWait, absl::Milliseconds(250));
  base->OnSchedulerTime(SchedulerActivity::kTokens, absl::Milliseconds(125));
  metrics.CountRequest("Generate", "OK", absl::Milliseconds(30));
  metrics.CountRequest("Generate", "NOT_FOUND", absl::Milliseconds(1));
  const std::string text = metrics.Render({{"base", 5, 7}});
  for (const char* line : {
           "# TYPE tinylm_requests_total counter",
           "tinylm_requests_total{code=\"OK\",rpc=\"Generate\"} 1",
           "tinylm_requests_total{code=\"NOT_FOUND\",rpc=\"Generate\"} 1",
           "# TYPE tinylm_request_duration_seconds histogram",
           "tinylm_generated_tokens_total{model=\"base\"} 2",
           "tinylm_time_to_first_token_seconds_count{model=\"base\"} 1",
           "tinylm_inter_token_latency_seconds_count{model=\"base\"} 1",
           "tinylm_batch_size_sum{model=\"base\",phase=\"prefill\"} 3",
           "tinylm_batch_size_sum{model=\"base\",phase=\"decode\"} 2",
           "tinylm_queue_depth{model=\"base\"} 5",
           "tinylm_streams_in_flight{model=\"base\"} 7",
           "tinylm_kv_cache_slots_used{model=\"base\"} 2",
           "tinylm_kv_cache_slots{model=\"base\"} 4",
           "tinylm_scheduler_seconds_total{activity=\"wait\",model=\"base\"} "
           "0.5",
           "tinylm_scheduler_seconds_total{activity=\"tokens\",model=\"base\"}"
           " 0.125",
           "tinylm_scheduler_seconds_total{activity=\"launch\",model=\"base\"}"
           " 0",
           "# TYPE process_resident_memory_bytes gauge",
       }) {
    EXPECT_THAT(text, HasSubstr(line)) << text;
  }
}

}  // namespace
}  // namespace tinylm
