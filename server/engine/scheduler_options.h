// How a model's scheduler runs: batch and queue bounds, step shapes, CUDA
// graphs, metrics. Plain data (set from the server's flags).
#ifndef TINYLM_SERVER_ENGINE_SCHEDULER_OPTIONS_H_
#define TINYLM_SERVER_ENGINE_SCHEDULER_OPTIONS_H_

#include <cstdint>
#include <memory>

#include "server/engine/scheduler_metrics.h"

namespace tinylm {

// The shapes of the model steps (step_runner.h).
enum class StepShapes {
  kAuto,     // static where CUDA graphs can be captured, else dynamic
  kDynamic,  // follow the batch
  kStatic,   // all slots every step, prompts alone in bucket lengths
};

// Whether decode step n + 1 is launched before the host handles step n's
// tokens (StepRunner::Launch), for batches whose rows have no
// interventions and are drawn as the runner's Launch takes them (the fused
// step: as its device sampler chooses). The tokens are the same either
// way.
enum class DecodePipeline {
  kAuto,  // where a launched step returns before it has run (fused CUDA)
  kOn,    // always; where steps run at once each token arrives a step late
  kOff,
};

struct SchedulerOptions {
  int64_t max_batch = 16;    // KV cache slots = sequences per step
  int64_t max_queued = 256;  // waiting requests before RESOURCE_EXHAUSTED
  StepShapes step_shapes = StepShapes::kAuto;
  bool cuda_graphs = true;   // capture static steps where possible
  bool fused_decode = true;  // static decode on kernels/decode/ where it runs
  DecodePipeline decode_pipeline = DecodePipeline::kAuto;
  // While sequences decode, queued requests are admitted (and prefilled
  // together) every this many decode steps; with nothing decoding, at once.
  // A prefill step has a fixed cost (LibTorch's static step: the same for
  // one prompt as for sixteen; the fused step: a bucket of 1..128
  // positions, 239 µs for one and 541 µs for 64 at the article size in
  // tinylm-decode-bench, docs/benchmarks.md), so
  // gathering arrivals saves steps for a little time to first token.
  // 0: 8 where decoding is pipelined (scheduler.h), else 1.
  int64_t admit_every_steps = 0;
  std::shared_ptr<SchedulerMetrics> metrics;  // null: nothing is reported
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_SCHEDULER_OPTIONS_H_
