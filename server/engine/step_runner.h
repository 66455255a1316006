// StepRunner: how the scheduler runs its model over the KV cache. Two
// kinds of step produce next-token logits for a batch of sequences:
//   Prefill  feeds each row's whole token list (its prompt) from position 0;
//   Decode   feeds each row's last token at position len - 1 (all earlier
//            positions are cached).
// Each row sits in its own cache slot and attends only to its own positions.
//
// Two implementations:
//   dynamic  shapes follow the batch: one forward over exactly the given
//            rows, prompts right-padded to the longest. Least work; the
//            default on CPU.
//   static   fixed shapes: decode always runs all servable slots at once with
//            every cached position in view (masked); prompts are padded to
//            a bucket length and prefilled by bucket, in steps of a fixed
//            number of rows (unused rows idle). Inputs live in
//            preallocated buffers, so each step can be captured once as a
//            CUDA graph (step_graph.h) and replayed. Fixed shapes also keep
//            a row's arithmetic independent of what else is in the batch:
//            the same kernels run whatever the batch, so greedy decoding in
//            a batch reproduces decoding alone bit for bit, in bfloat16 too.
//
// All methods run on the scheduler thread and may throw c10::Error.
#ifndef TINYLM_SERVER_ENGINE_STEP_RUNNER_H_
#define TINYLM_SERVER_ENGINE_STEP_RUNNER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "models/kv_cache.h"
#include "models/model.h"
#include "models/sampler.h"

namespace tinylm {

struct StepRow {
  const std::vector<int64_t>* tokens;  // the sequence so far
  int64_t slot;                        // its KV cache slot
};

// A row of a launched decode step (StepRunner::Launch).
struct LaunchRow {
  int64_t slot = 0;
  int64_t position = 0;  // where the fed token sits
  int64_t token = 0;     // the token fed, unless feed >= 0
  // >= 0: feed the token that the previous launched step chose for its row
  // `feed` (which the host may not have seen yet).
  int64_t feed = -1;
  // How the step draws the row's next token (at position + 1) and how many
  // alternatives it reports: what CanLaunch accepted.
  SamplingParams sampling = GreedySampling();
  int64_t top_n = 0;
  // For a repetition penalty, the sequence as the host has it: every token
  // up to `position`, or up to position - 1 when the fed token is the
  // previous launched step's choice. (The fused step reads its own record
  // of the tokens instead.)
  const std::vector<int64_t>* history = nullptr;
};

class StepRunner {
 public:
  virtual ~StepRunner() = default;

  // Both return [B, V] float32 logits in row order: the next-token logits
  // after each row's last token. The tensor stays valid across later steps.
  virtual at::Tensor Prefill(const std::vector<StepRow>& rows) = 0;
  virtual at::Tensor Decode(const std::vector<StepRow>& rows) = 0;

  // A decode step and each row's next token: the choices of
  // SampleTokens(Decode(rows), samples, ...) with row b's top_n[b]
  // alternatives. Here exactly that; the fused step chooses on the device,
  // inside its graph, and copies only the choices to the host
  // (fused_decode_steps.h).
  virtual std::vector<SampledToken> DecodeAndSample(
      const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
      const std::vector<int64_t>& top_n);
  // The same after Prefill: each row's first token. Here
  // SampleEachRow(Prefill(rows), ...); the fused step draws on the device.
  virtual std::vector<SampledToken> PrefillAndSample(
      const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
      const std::vector<int64_t>& top_n);

  // Pipelined decoding: Launch enqueues a decode step whose rows are drawn
  // as CanLaunch accepts; Finish waits
  // for the oldest launched step not yet finished and returns its rows'
  // tokens, as DecodeAndSample would. One step may be launched
  // before the previous one is finished, so the host handles step n's
  // tokens while step n + 1 runs. Prefill may run in between; Decode and
  // DecodeAndSample only once every launched step is finished.
  // Here Launch runs the step at once; the fused step's Launch returns
  // before the step has run (launches_ahead()).
  virtual void Launch(const std::vector<LaunchRow>& rows);
  virtual std::vector<SampledToken> Finish();
  virtual bool launches_ahead() const { return false; }
  // Whether Launch takes a row drawn with `sampling` with `top_n`
  // alternatives. Here always; the fused step takes what its device
  // sampler chooses.
  virtual bool CanLaunch(const SamplingParams& sampling, int64_t top_n) const {
    return true;
  }

  // How the steps run, for the start-up log.
  virtual std::string Describe() const = 0;

 private:
  // Launch's results until Finish takes them, oldest first.
  std::deque<std::vector<SampledToken>> launched_;
};

// SampleTokens(logits, samples, ...) with row b's top_n[b] alternatives
// (SampleTokens itself gives every row as many as the most asked for).
std::vector<SampledToken> SampleEachRow(const at::Tensor& logits,
                                        const std::vector<SampleRow>& samples,
                                        const std::vector<int64_t>& top_n);

// A runner's cache for its Describe(): "KV cache 748 MiB (17 slots x 2048
// positions)", the memory a model's context costs at --max_batch.
std::string DescribeCache(const KvCache& cache);

// Each runner owns its KV cache, on the model's device and in its dtype:
// `num_slots` sequences (rows name their slot, 0 .. num_slots - 1) of up to
// the model's context length. `model` must outlive the runner.
std::unique_ptr<StepRunner> MakeDynamicStepRunner(Transformer& model,
                                                  int64_t num_slots);

// The static runner's cache has one slot more, its scratch space: the rows
// of slots outside a decode batch write their keys and values there.
// Allocates the buffers and, when `capture_graphs` and the device allows
// (step_graph.h), captures the decode step and one prefill step per bucket
// length (powers of two from 16 up to the context length). With
// `fused_decode`, decoding runs on the fused CUDA kernels where this build
// has them and the model is bfloat16 on CUDA (fused_decode_steps.h).
std::unique_ptr<StepRunner> MakeStaticStepRunner(Transformer& model,
                                                 int64_t num_slots,
                                                 bool capture_graphs,
                                                 bool fused_decode);

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_STEP_RUNNER_H_
