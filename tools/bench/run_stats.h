// What one benchmark run (one model at one concurrency) measured, and the
// figures the reports show.
//
// Each measured request leaves a RequestRecord of client-side timestamps.
// RunStats counts output tokens and finished requests inside the
// measurement window only (the load generator ends the window with the
// last measured request, so there that is all of them). Latency
// percentiles take every successful measured request, inside or not.
#ifndef TINYLM_TOOLS_BENCH_RUN_STATS_H_
#define TINYLM_TOOLS_BENCH_RUN_STATS_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/bench/percentile.h"

namespace tinylm {
namespace bench {

using Clock = std::chrono::steady_clock;

struct RequestRecord {
  Clock::time_point start;                     // just before the call is made
  std::vector<Clock::time_point> token_times;  // arrival of each token
  int64_t token_messages = 0;                  // messages that carried them
  Clock::time_point end;                       // the call's final status
  bool ok = false;
  std::string error_code;     // gRPC code name when !ok, e.g. "UNAVAILABLE"
  std::string finish_reason;  // "length", "eos", "stop", "cancelled"
  double server_ttft_ms = 0;  // the summary's timings (server clock)
  double server_queue_ms = 0;
};

// [start, end] of the measured phase.
struct Window {
  Clock::time_point start;
  Clock::time_point end;
};

struct RunStats {
  int64_t requests = 0;           // successful, finished inside the window
  int64_t measured_requests = 0;  // all measured requests, any outcome
  int64_t output_tokens = 0;      // streamed tokens that arrived in the window
  double duration_s = 0;          // window length
  double output_tokens_per_s = 0;
  double requests_per_s = 0;
  double mean_output_tokens = 0;  // per successful request
  double tokens_per_message = 0;  // of successful requests
  LatencySummary ttft_ms;         // send -> first token, client side
  LatencySummary itl_ms;          // between consecutive tokens of a request
  LatencySummary total_ms;        // send -> final status
  LatencySummary server_ttft_ms;  // as the server reports it
  LatencySummary server_queue_ms;
  std::map<std::string, int64_t> errors;          // code name -> count
  std::map<std::string, int64_t> finish_reasons;  // of successful requests
};

RunStats ComputeRunStats(const std::vector<RequestRecord>& records,
                         const Window& window);

// Milliseconds between two time points.
double Ms(Clock::time_point from, Clock::time_point to);

}  // namespace bench
}  // namespace tinylm

#endif  // TINYLM_TOOLS_BENCH_RUN_STATS_H_
