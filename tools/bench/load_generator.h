// The closed-loop load of one benchmark run: `concurrency` client threads,
// each with one Generate stream at a time, sending the next request as soon
// as the previous one has ended (no think time), for a fixed duration or a
// fixed number of requests.
//
// Phases: every stream first sends `warmup_requests` requests that are not
// measured; when all streams are through warm-up the measured phase starts
// for all of them at once (its start is the window's start). At the
// deadline no new request is sent; requests in flight run to their end,
// and the window ends with the last of them, so throughput is the measured
// requests' tokens over the time they took. Runs several request
// durations long keep the tail (fewer streams busy) small.
// Timestamps are taken on the client (steady clock) as each message is
// read, so they include the network and the client's own scheduling.
#ifndef TINYLM_TOOLS_BENCH_LOAD_GENERATOR_H_
#define TINYLM_TOOLS_BENCH_LOAD_GENERATOR_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tools/bench/prompts.h"
#include "tools/bench/run_stats.h"

namespace tinylm {
namespace bench {

struct SamplingOptions {
  double temperature = 0;  // 0 = greedy
  uint32_t top_k = 0;
  double top_p = 1;
  double min_p = 0;
  double repetition_penalty = 1;
  int64_t seed = -1;  // >= 0: request n gets seed + n; else the server picks
};

struct LoadOptions {
  std::string model;
  int concurrency = 1;
  int warmup_requests = 1;                      // per stream
  absl::Duration duration = absl::Seconds(10);  // when requests == 0
  int64_t requests = 0;  // > 0: measure this many requests in all
  uint32_t max_new_tokens = 64;
  // GenerateRequest.max_tokens_per_message: 1 = a message per token.
  uint32_t max_tokens_per_message = 1;
  SamplingOptions sampling;
  absl::Duration request_timeout = absl::Seconds(300);
};

// Prompt index -> the ids generated for it by its first successful
// request, to compare outputs with other runs and implementations.
using Outputs = std::map<int64_t, std::vector<int32_t>>;

struct LoadResult {
  std::vector<RequestRecord> records;  // measured requests only
  Window window;
  std::map<std::string, int64_t> warmup_errors;  // code name -> count
  // Greedy runs only: successful requests (warm-up included) whose ids
  // differ from `outputs`' entry for their prompt. Greedy decoding must
  // not depend on what else is in the batch, so this should be 0.
  int64_t greedy_mismatches = 0;
};

// Streams use the channels round robin. `prompts` must not be empty.
// `outputs` gains the first output of each prompt not in it yet; pass the
// same map to every run of a model to compare its runs with each other.
LoadResult RunLoad(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                   const std::vector<Prompt>& prompts,
                   const LoadOptions& options, Outputs* outputs);

// "OK", "UNAVAILABLE", ... as gRPC spells the codes.
std::string StatusCodeName(grpc::StatusCode code);

}  // namespace bench
}  // namespace tinylm

#endif  // TINYLM_TOOLS_BENCH_LOAD_GENERATOR_H_
