// Several models' scores of one token sequence side by side: for each
// scored position, which model predicts the token best and by how much the
// models differ. Plain data, no torch.
#ifndef TINYLM_SERVER_ENGINE_SCORE_COMPARISON_H_
#define TINYLM_SERVER_ENGINE_SCORE_COMPARISON_H_

#include <cstdint>
#include <vector>

#include "server/engine/request.h"

namespace tinylm {

struct TokenComparison {
  int64_t position = 0;         // of the token in the sequence, >= 1
  std::vector<float> logprobs;  // one per model, in the given order
  int64_t best = 0;             // the model with the highest logprob
  float spread = 0.0f;          // highest minus lowest
};

// scores: one per model, all of the same sequence (equal lengths).
std::vector<TokenComparison> CompareScores(
    const std::vector<const TokenScores*>& scores);

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_SCORE_COMPARISON_H_
