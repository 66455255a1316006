// Batched next-token sampling: temperature, top-k, top-p, min-p and
// repetition penalty, each row with its own parameters.
//
// All filtering runs on the logits' device; the host receives one packed
// tensor per call (ids, logprobs, alternatives). Randomness is counter-based:
// a row's uniform draw is a hash of (seed, position), made on the host and
// uploaded, so a row's choice never depends on the other rows of the batch
// nor on any global generator state.
//
// Order of the transforms (as in common inference servers):
//   1. repetition penalty on the raw logits (CTRL rule: divide positive
//      logits by the penalty, multiply negative ones),
//   2. temperature (0 = greedy: the argmax of the penalized logits),
//   3. top-k, then top-p over the top-k renormalized probabilities, then
//      min-p (keep p >= min_p * p_max); each keeps a prefix of the tokens
//      sorted by probability, so the kept set is a prefix too,
//   4. inverse CDF over the kept prefix with the row's uniform.
// The reported logprobs are the model's own: log_softmax of the raw logits,
// before any of these transforms.
#ifndef TINYLM_MODELS_SAMPLER_H_
#define TINYLM_MODELS_SAMPLER_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "models/sampling_params.h"

namespace tinylm {

// One row of a sampling call.
struct SampleRow {
  SamplingParams params;
  // The absolute position of the token being drawn: the RNG counter, so a
  // sequence replayed with the same seed draws the same uniforms.
  int64_t position = 0;
  // Tokens the repetition penalty applies to (prompt and generated so far);
  // may be null when the penalty is 1.
  const std::vector<int64_t>* history = nullptr;
};

struct SampledToken {
  int64_t id = 0;
  float logprob = 0.0f;
  std::vector<TokenLogprob> alternatives;  // top_n most probable, raw dist.
};

// logits: [B, V] in any float dtype on any device (computed in float32);
// rows.size() == B.
// Returns B choices, each with `top_n` alternatives (0 = none).
std::vector<SampledToken> SampleTokens(const at::Tensor& logits,
                                       const std::vector<SampleRow>& rows,
                                       int64_t top_n = 0);

// Whether `params` choose the argmax (temperature 0, or top_k 1).
bool IsGreedy(const SamplingParams& params);

// The uniform in [0, 1) drawn for (seed, position): splitmix64 of the pair.
double CounterUniform(uint64_t seed, int64_t position);

}  // namespace tinylm

#endif  // TINYLM_MODELS_SAMPLER_H_
