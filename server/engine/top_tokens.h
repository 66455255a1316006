// Top-k results copied to the host (ids and logprobs as doubles, one copy
// per call) as TokenProbability lists.
#ifndef TINYLM_SERVER_ENGINE_TOP_TOKENS_H_
#define TINYLM_SERVER_ENGINE_TOP_TOKENS_H_

#include <cstdint>
#include <vector>

#include "server/engine/request.h"

namespace tinylm {

// ids[i], logprobs[i] for i < k, most probable first.
std::vector<TokenProbability> TopTokens(const double* ids,
                                        const double* logprobs, int64_t k);

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_TOP_TOKENS_H_
