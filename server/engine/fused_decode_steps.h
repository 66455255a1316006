// FusedDecodeSteps: the static runner's decode step (step_runner.h) on the
// fused CUDA kernels of kernels/decode/ (FusedDecoder) instead of
// LibTorch's ops: a handful of kernels per layer, one CUDA graph per bucket
// of rows.
//
// A step of B rows runs the smallest bucket P >= B of 1, 2, 4, ... slots;
// the P - B padding rows sit at position -1, where they read and write no
// cache entry. The fused kernels give a row the same arithmetic whatever P
// and the other rows are (kernels/decode/README.md), so greedy output stays
// independent of the batch. Prefill runs the same kernels with a prompt's
// positions as rows (kernels/decode/decode_step.h, DecodeIo::prompt), up
// to 128 prompt tokens per step, so a prompt leaves the cache and logits
// that decoding it token by token would.
//
// Built only with a CUDA LibTorch 2.x (fused_decode_steps.cc); elsewhere
// MakeFusedDecodeSteps always says why not (fused_decode_steps_unavailable.cc).
#ifndef TINYLM_SERVER_ENGINE_FUSED_DECODE_STEPS_H_
#define TINYLM_SERVER_ENGINE_FUSED_DECODE_STEPS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "models/kv_cache.h"
#include "models/model.h"
#include "models/sampler.h"
#include "server/engine/step_graph.h"
#include "server/engine/step_runner.h"

namespace tinylm {

class FusedDecodeSteps {
 public:
  virtual ~FusedDecodeSteps() = default;

  // [B, V] float32 next-token logits of `rows` (B <= the slots), in row
  // order; the tensor stays valid across later steps.
  virtual at::Tensor Decode(const std::vector<StepRow>& rows) = 0;

  // StepRunner::Prefill: each row's whole token list from position 0, in
  // steps of up to 128 positions of one or more prompts (a long prompt
  // spans several); [B, V] float32 logits after each row's last token.
  // May run while launched steps are unfinished: it leaves their device
  // choices alone.
  virtual at::Tensor Prefill(const std::vector<StepRow>& rows) = 0;

  // StepRunner::DecodeAndSample. Each graph ends with the device sampler
  // (kernels/decode/sampling.h) over all its rows, which takes SampleTokens'
  // rule: repetition penalty, temperature, top-k, top-p, min-p, the
  // counter-based uniform of (seed, position), and up to 20 alternatives;
  // only ids, logprobs and (for steps that ask) alternatives cross to the
  // host. With a vocabulary over 16,384 tokens only greedy rows without
  // alternatives are chosen there and the others' logits go through
  // SampleTokens. Which way a row goes depends on its own request alone,
  // so its output never depends on the batch. Greedy ids equal
  // SampleTokens' (both take the first of equal maxima); a sampled id
  // equals SampleTokens' unless the draw falls within float rounding of a
  // boundary (the sums run in another order); logprobs agree to float
  // rounding.
  virtual std::vector<SampledToken> DecodeAndSample(
      const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
      const std::vector<int64_t>& top_n) = 0;
  // StepRunner::PrefillAndSample: Prefill, then the device sampler over
  // the prompts' last logits (its own output buffers, so launched steps'
  // choices stay as they are), as DecodeAndSample chooses.
  virtual std::vector<SampledToken> PrefillAndSample(
      const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
      const std::vector<int64_t>& top_n) = 0;

  // StepRunner::Launch and Finish: Launch uploads the inputs, replays the
  // graph and queues the copy of the device sampler's choices, all without
  // waiting; a fed row's token is read on the device from the previous
  // step's choices (FusedDecoder::FeedFrom). Finish waits for that copy.
  virtual void Launch(const std::vector<LaunchRow>& rows) = 0;
  virtual std::vector<SampledToken> Finish() = 0;
  // StepRunner::CanLaunch: rows that the device sampler chooses.
  virtual bool CanLaunch(const SamplingParams& sampling,
                         int64_t top_n) const = 0;

  // For the start-up log: "fused decode step (kernels/decode/), ...".
  virtual std::string Describe() const = 0;
};

// The fused step over `cache` for `num_slots` servable slots (the cache's
// slot `num_slots` is scratch), its graphs in `pool`. Null, with the reason
// in *why_not, when this build has no fused kernels or the model or cache
// does not fit them (not bfloat16 on CUDA, more than 128 slots, a shape
// the kernels do not take: products wider than 2048, say).
std::unique_ptr<FusedDecodeSteps> MakeFusedDecodeSteps(Transformer& model,
                                                       KvCache& cache,
                                                       int64_t num_slots,
                                                       GraphPool& pool,
                                                       std::string* why_not);

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_FUSED_DECODE_STEPS_H_
