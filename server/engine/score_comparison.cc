#include "server/engine/score_comparison.h"

#include <algorithm>

namespace tinylm {

std::vector<TokenComparison> CompareScores(
    const std::vector<const TokenScores*>& scores) {
  std::vector<TokenComparison> out;
  if (scores.empty()) return out;
  const size_t scored = scores.front()->logprobs.size();
  for (size_t t = 0; t < scored; ++t) {
    TokenComparison c;
    c.position = t + 1;
    for (const TokenScores* s : scores) c.logprobs.push_back(s->logprobs[t]);
    const auto [low, high] =
        std::minmax_element(c.logprobs.begin(), c.logprobs.end());
    c.best = high - c.logprobs.begin();
    c.spread = *high - *low;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace tinylm
