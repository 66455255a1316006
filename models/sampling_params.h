// What a request asks of the sampler (sampler.h has the order of the
// transforms) and what it reports per token. Plain data, no torch: the
// serving API's types use these.
#ifndef TINYLM_MODELS_SAMPLING_PARAMS_H_
#define TINYLM_MODELS_SAMPLING_PARAMS_H_

#include <cstdint>

namespace tinylm {

struct SamplingParams {
  double temperature = 1.0;        // 0 = greedy; must be >= 0
  int64_t top_k = 0;               // 0 = no limit
  double top_p = 1.0;              // in (0, 1]; 1 = no limit
  double min_p = 0.0;              // in [0, 1); 0 = no limit
  double repetition_penalty = 1.0; // > 0; 1 = none
  uint64_t seed = 0;
};

// Greedy decoding (temperature 0), the other fields at their defaults.
inline SamplingParams GreedySampling() {
  SamplingParams p;
  p.temperature = 0.0;
  return p;
}

struct TokenLogprob {
  int64_t id = 0;
  float logprob = 0.0f;  // log_softmax of the raw logits
};

}  // namespace tinylm

#endif  // TINYLM_MODELS_SAMPLING_PARAMS_H_
