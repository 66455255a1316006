#include "server/engine/token_scores.h"

#include <ATen/ATen.h>

#include "server/engine/interventions.h"

namespace tinylm {
namespace {

// Row t - 1's log-probability of token t, for t = 1..T-1: [T - 1].
at::Tensor NextLogprobs(const at::Tensor& predictions, const at::Tensor& next) {
  return at::log_softmax(predictions, -1)
      .gather(-1, next.view({-1, 1}))
      .squeeze(-1);
}

// The mean loss of host logprobs, in double.
double MeanLoss(const std::vector<float>& logprobs) {
  double sum = 0.0;
  for (float v : logprobs) sum += v;
  return -sum / logprobs.size();
}

}  // namespace

TokenScores ScoreTokens(const at::Tensor& logits, const at::Tensor& tokens,
                        const at::Tensor& clean, InterventionEffect* effect) {
  const int64_t scored = tokens.size(0) - 1;
  const at::Tensor next = tokens.narrow(0, 1, scored);
  const at::Tensor predictions = logits.narrow(0, 0, scored);  // [T - 1, V]
  std::vector<at::Tensor> parts = {NextLogprobs(predictions, next)};
  if (clean.defined()) {
    parts.push_back(NextLogprobs(clean.narrow(0, 0, scored), next));
  }
  const at::Tensor host = at::stack(parts).cpu().contiguous();  // [1|2, T-1]
  const float* data = host.data_ptr<float>();
  TokenScores scores;
  scores.logprobs.assign(data, data + scored);
  scores.mean_loss = MeanLoss(scores.logprobs);
  if (clean.defined()) {
    scores.clean_logprobs.assign(data + scored, data + 2 * scored);
    scores.clean_mean_loss = MeanLoss(scores.clean_logprobs);
    *effect = EffectOf(clean.narrow(0, 0, scored), predictions, &scores.kl);
  }
  return scores;
}

}  // namespace tinylm
