// ServerMetrics over prometheus-cpp's core library (counters, gauges,
// histograms with labels, text serializer).
#include "server/operations/metrics.h"

#include <unistd.h>

#include <array>
#include <fstream>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace tinylm {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// Bucket upper bounds. Latencies span a GPU decode step (~1 ms) to a long
// CPU generation; batch sizes are the powers of two up to a large batch.
const Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
      0.5,   1,      2.5,   5,    10,    30,   60,  300};
  return *buckets;
}
const Histogram::BucketBoundaries& TokenGapBuckets() {
  static const auto* buckets = new Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
  return *buckets;
}
const Histogram::BucketBoundaries& BatchBuckets() {
  static const auto* buckets =
      new Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256};
  return *buckets;
}

// Resident set size from /proc/self/statm (pages); 0 where unreadable.
double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return double(resident) * double(sysconf(_SC_PAGESIZE));
}

// The hooks of one model's scheduler: references into the registry's
// families, which live as long as ServerMetrics.
class ModelMetrics final : public SchedulerMetrics {
 public:
  // `scheduler_seconds` in SchedulerActivity's order.
  ModelMetrics(Counter& tokens, Histogram& ttft, Histogram& token_gap,
               Histogram& prefill_batch, Histogram& decode_batch,
               Gauge& slots_used, std::array<Counter*, 4> scheduler_seconds)
      : tokens_(tokens),
        ttft_(ttft),
        token_gap_(token_gap),
        prefill_batch_(prefill_batch),
        decode_batch_(decode_batch),
        slots_used_(slots_used),
        scheduler_seconds_(scheduler_seconds) {}

  void OnStep(int64_t rows, bool prefill) override {
    (prefill ? prefill_batch_ : decode_batch_).Observe(double(rows));
  }
  void OnToken(bool first, absl::Duration latency) override {
    tokens_.Increment();
    (first ? ttft_ : token_gap_).Observe(absl::ToDoubleSeconds(latency));
  }
  void OnSlotsInUse(int64_t used) override { slots_used_.Set(double(used)); }
  void OnSchedulerTime(SchedulerActivity activity,
                       absl::Duration spent) override {
    scheduler_seconds_[static_cast<int>(activity)]->Increment(
        absl::ToDoubleSeconds(spent));
  }

 private:
  Counter& tokens_;
  Histogram& ttft_;
  Histogram& token_gap_;
  Histogram& prefill_batch_;
  Histogram& decode_batch_;
  Gauge& slots_used_;
  std::array<Counter*, 4> scheduler_seconds_;
};

}  // namespace

bool MetricsAvailable() { return true; }

struct ServerMetrics::Impl {
  prometheus::Registry registry;
  Family<Counter>& requests =
      BuildCounter()
          .Name("tinylm_requests_total")
          .Help("Finished TinyLM calls by method and gRPC status code")
          .Register(registry);
  Family<Histogram>& request_seconds =
      BuildHistogram()
          .Name("tinylm_request_duration_seconds")
          .Help("Duration of TinyLM calls, from arrival to status")
          .Register(registry);
  Family<Counter>& tokens = BuildCounter()
                                .Name("tinylm_generated_tokens_total")
                                .Help("Tokens generated (every request kind)")
                                .Register(registry);
  Family<Histogram>& ttft =
      BuildHistogram()
          .Name("tinylm_time_to_first_token_seconds")
          .Help(
              "From a request's arrival (queueing included) to its first "
              "generated token")
          .Register(registry);
  Family<Histogram>& token_gap =
      BuildHistogram()
          .Name("tinylm_inter_token_latency_seconds")
          .Help("Time between consecutive generated tokens of a request")
          .Register(registry);
  Family<Histogram>& batch =
      BuildHistogram()
          .Name("tinylm_batch_size")
          .Help(
              "Sequences per batched forward pass (phase: prefill of "
              "newcomers, or decode step)")
          .Register(registry);
  Family<Counter>& scheduler_seconds =
      BuildCounter()
          .Name("tinylm_scheduler_seconds_total")
          .Help(
              "A model's scheduler thread time by activity: launch "
              "(pipelined steps), wait (for a launched step's tokens), "
              "step (synchronous steps: prefill, unpipelined decoding), "
              "tokens (text and stream events of generated tokens)")
          .Register(registry);
  Family<Gauge>& queued = BuildGauge()
                              .Name("tinylm_queue_depth")
                              .Help("Requests waiting for a KV cache slot")
                              .Register(registry);
  Family<Gauge>& in_flight =
      BuildGauge()
          .Name("tinylm_streams_in_flight")
          .Help(
              "Calls in flight per model (queued, running, or still "
              "sending), bounded by --max_streams_per_model")
          .Register(registry);
  Family<Gauge>& slots_used = BuildGauge()
                                  .Name("tinylm_kv_cache_slots_used")
                                  .Help("KV cache slots holding a sequence")
                                  .Register(registry);
  Family<Gauge>& slots = BuildGauge()
                             .Name("tinylm_kv_cache_slots")
                             .Help("KV cache slots (--max_batch)")
                             .Register(registry);
  Family<Gauge>& resident =
      BuildGauge()
          .Name("process_resident_memory_bytes")
          .Help("Resident memory size of the server process in bytes")
          .Register(registry);
};

ServerMetrics::ServerMetrics() : impl_(std::make_unique<Impl>()) {}
ServerMetrics::~ServerMetrics() = default;

std::shared_ptr<SchedulerMetrics> ServerMetrics::ForModel(
    const std::string& model, int64_t slots) {
  const prometheus::Labels labels = {{"model", model}};
  Impl& m = *impl_;
  m.slots.Add(labels).Set(double(slots));
  m.queued.Add(labels);
  m.in_flight.Add(labels);
  auto activity = [&](const char* name) {
    return &m.scheduler_seconds.Add({{"model", model}, {"activity", name}});
  };
  const std::array<Counter*, 4> scheduler_seconds = {
      activity("launch"), activity("wait"), activity("step"),
      activity("tokens")};
  return std::make_shared<ModelMetrics>(
      m.tokens.Add(labels), m.ttft.Add(labels, LatencyBuckets()),
      m.token_gap.Add(labels, TokenGapBuckets()),
      m.batch.Add({{"model", model}, {"phase", "prefill"}}, BatchBuckets()),
      m.batch.Add({{"model", model}, {"phase", "decode"}}, BatchBuckets()),
      m.slots_used.Add(labels), scheduler_seconds);
}

void ServerMetrics::CountRequest(absl::string_view rpc, absl::string_view code,
                                 absl::Duration duration) {
  Impl& m = *impl_;
  m.requests.Add({{"rpc", std::string(rpc)}, {"code", std::string(code)}})
      .Increment();
  m.request_seconds.Add({{"rpc", std::string(rpc)}}, LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(duration));
}

std::string ServerMetrics::Render(const std::vector<ModelLoad>& loads) {
  Impl& m = *impl_;
  for (const ModelLoad& load : loads) {
    const prometheus::Labels labels = {{"model", load.model}};
    m.queued.Add(labels).Set(double(load.queued));
    m.in_flight.Add(labels).Set(double(load.in_flight));
  }
  m.resident.Add({}).Set(ResidentBytes());
  return prometheus::TextSerializer().Serialize(m.registry.Collect());
}

}  // namespace tinylm
