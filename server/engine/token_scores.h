// Score: the log-probability of each token of a sequence under the
// prediction the model makes after the tokens before it, and the mean loss
// (the first token has no prediction). Runs on the scheduler thread; may
// throw c10::Error.
#ifndef TINYLM_SERVER_ENGINE_TOKEN_SCORES_H_
#define TINYLM_SERVER_ENGINE_TOKEN_SCORES_H_

#include <ATen/core/Tensor.h>

#include "server/engine/request.h"

namespace tinylm {

// logits: [T, V] float32 over the sequence `tokens` [T] (int64, T >= 2);
// clean: the same without interventions, or undefined. With `clean`,
// *effect receives the interventions' effect over the T - 1 predictions.
TokenScores ScoreTokens(const at::Tensor& logits, const at::Tensor& tokens,
                        const at::Tensor& clean, InterventionEffect* effect);

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_TOKEN_SCORES_H_
