// The benchmark's report: one JSON document (the record) and a Markdown
// rendering of it (tables for docs/benchmarks.md).
//
// JSON layout:
//   meta:    date, server address, client host, commit, label, the run's
//            settings (lengths, prompts, duration, sampling, ...)
//   models:  name -> ListModels facts (variant, device, dtype, max_batch,
//            parameters, context), the prompt ids, and the generated ids of
//            each prompt's first successful request over all its runs
//   results: one object per (model, concurrency): throughput, request
//            rate, latency summaries in ms (count, mean, min, p50, p90, p99,
//            max; null when there is no sample), errors by gRPC code, and
//            (greedy) how many outputs differed from the recorded ones
// The Markdown is made from the JSON alone, so a stored JSON file can be
// rendered again.
#ifndef TINYLM_TOOLS_BENCH_REPORT_H_
#define TINYLM_TOOLS_BENCH_REPORT_H_

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/bench/load_generator.h"
#include "tools/bench/run_stats.h"

namespace tinylm {
namespace bench {

nlohmann::json LatencyJson(const LatencySummary& summary);

// One results[] entry.
nlohmann::json RunJson(const std::string& model, int concurrency,
                       const RunStats& stats,
                       const std::map<std::string, int64_t>& warmup_errors);

// Tables per model (concurrency rows) and a header with the meta fields.
std::string MarkdownFromJson(const nlohmann::json& report);

}  // namespace bench
}  // namespace tinylm

#endif  // TINYLM_TOOLS_BENCH_REPORT_H_
