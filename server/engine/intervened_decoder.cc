#include "server/engine/intervened_decoder.h"

#include <ATen/ATen.h>

#include "server/engine/interventions.h"

namespace tinylm {

IntervenedDecoder::IntervenedDecoder(Transformer& model,
                                     const std::vector<InterventionSpec>& specs)
    : model_(model) {
  at::NoGradGuard no_grad;
  hooks_ = PrepareInterventions(model, specs);
}

IntervenedDecoder::Step IntervenedDecoder::Next(
    const std::vector<int64_t>& tokens) {
  at::NoGradGuard no_grad;
  const c10::Device device = model_->parameters().front().device();
  ForwardInput input;
  input.tokens = at::tensor(tokens, at::kLong).view({1, -1}).to(device);
  // Only the last position's logits: [1, 1, V].
  input.logits_at =
      at::full({1}, int64_t(tokens.size()) - 1, input.tokens.options());
  const at::Tensor clean = model_->Forward(input).logits.select(1, 0);
  input.hooks = hooks_.get();
  Step step;
  step.logits = model_->Forward(input).logits.select(1, 0).to(at::kFloat);
  step.effect = EffectOf(clean, step.logits);
  total_.Add(step.effect);
  return step;
}

}  // namespace tinylm
