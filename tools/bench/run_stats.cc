#include "tools/bench/run_stats.h"

namespace tinylm {
namespace bench {

double Ms(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

RunStats ComputeRunStats(const std::vector<RequestRecord>& records,
                         const Window& window) {
  RunStats stats;
  stats.measured_requests = static_cast<int64_t>(records.size());
  stats.duration_s = Ms(window.start, window.end) / 1000.0;
  std::vector<double> ttft, itl, total, server_ttft, server_queue;
  int64_t ok_tokens = 0, ok_messages = 0;
  int64_t ok_requests = 0;
  for (const RequestRecord& r : records) {
    for (const Clock::time_point t : r.token_times) {
      if (t <= window.end) ++stats.output_tokens;
    }
    if (!r.ok) {
      ++stats.errors[r.error_code];
      continue;
    }
    ++ok_requests;
    ok_tokens += static_cast<int64_t>(r.token_times.size());
    ok_messages += r.token_messages;
    if (r.end <= window.end) ++stats.requests;
    ++stats.finish_reasons[r.finish_reason];
    if (!r.token_times.empty()) ttft.push_back(Ms(r.start, r.token_times[0]));
    for (size_t i = 1; i < r.token_times.size(); ++i) {
      itl.push_back(Ms(r.token_times[i - 1], r.token_times[i]));
    }
    total.push_back(Ms(r.start, r.end));
    server_ttft.push_back(r.server_ttft_ms);
    server_queue.push_back(r.server_queue_ms);
  }
  if (stats.duration_s > 0) {
    stats.output_tokens_per_s = stats.output_tokens / stats.duration_s;
    stats.requests_per_s = stats.requests / stats.duration_s;
  }
  if (ok_requests > 0) {
    stats.mean_output_tokens =
        static_cast<double>(ok_tokens) / static_cast<double>(ok_requests);
  }
  if (ok_messages > 0) {
    stats.tokens_per_message =
        static_cast<double>(ok_tokens) / static_cast<double>(ok_messages);
  }
  stats.ttft_ms = Summarize(std::move(ttft));
  stats.itl_ms = Summarize(std::move(itl));
  stats.total_ms = Summarize(std::move(total));
  stats.server_ttft_ms = Summarize(std::move(server_ttft));
  stats.server_queue_ms = Summarize(std::move(server_queue));
  return stats;
}

}  // namespace bench
}  // namespace tinylm
