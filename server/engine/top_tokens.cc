#include "server/engine/top_tokens.h"

#include <cmath>

namespace tinylm {

std::vector<TokenProbability> TopTokens(const double* ids,
                                        const double* logprobs, int64_t k) {
  std::vector<TokenProbability> out(k);
  for (int64_t i = 0; i < k; ++i) {
    out[i].id = static_cast<int64_t>(ids[i]);
    out[i].logprob = static_cast<float>(logprobs[i]);
    out[i].probability = static_cast<float>(std::exp(logprobs[i]));
  }
  return out;
}

}  // namespace tinylm
