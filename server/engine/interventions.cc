#include "server/engine/interventions.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

namespace tinylm {

void InterventionEffect::Add(const InterventionEffect& more) {
  if (positions == 0) {
    clean_top = more.clean_top;
    intervened_top = more.intervened_top;
  }
  const int64_t total = positions + more.positions;
  if (total > 0) {
    mean_kl = (mean_kl * positions + more.mean_kl * more.positions) / total;
  }
  max_kl = std::max(max_kl, more.max_kl);
  top_changed += more.top_changed;
  max_logit_change = std::max(max_logit_change, more.max_logit_change);
  positions = total;
}

std::unique_ptr<InterventionHooks> PrepareInterventions(
    Transformer& model, const std::vector<InterventionSpec>& specs) {
  const c10::Device device = model->parameters().front().device();
  std::vector<at::Tensor> sources(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const InterventionSpec& spec = specs[i];
    if (spec.action != InterventionSpec::Action::kPatch) continue;
    RecordingHooks recorder;
    recorder.Record(spec.point, spec.layer);
    ForwardInput input(
        at::tensor(spec.source, at::kLong).view({1, -1}).to(device));
    input.hooks = &recorder;
    model->Forward(input);
    sources[i] = recorder.Recorded(spec.point, spec.layer);
  }
  return std::make_unique<InterventionHooks>(specs, std::move(sources));
}

InterventionEffect EffectOf(const at::Tensor& clean,
                            const at::Tensor& intervened,
                            std::vector<float>* kl) {
  const at::Tensor lc = at::log_softmax(clean.to(at::kFloat), -1);  // [P, V]
  const at::Tensor li = at::log_softmax(intervened.to(at::kFloat), -1);
  const at::Tensor pc = lc.exp();
  // KL(clean || intervened); tokens the clean model gives no mass add 0.
  const at::Tensor divergence =
      at::where(pc > 0, pc * (lc - li), at::zeros_like(pc)).sum(-1);  // [P]
  const at::Tensor top_c = lc.argmax(-1), top_i = li.argmax(-1);      // [P]
  const int64_t P = lc.size(0);
  const at::Tensor host =
      at::cat({divergence.to(at::kDouble), top_c.to(at::kDouble),
               top_i.to(at::kDouble),
               (top_c != top_i).sum().view({1}).to(at::kDouble),
               (intervened.to(at::kFloat) - clean.to(at::kFloat))
                   .abs()
                   .max()
                   .view({1})
                   .to(at::kDouble),
               lc[0].index_select(0, top_c[0].view({1})).to(at::kDouble),
               li[0].index_select(0, top_i[0].view({1})).to(at::kDouble)})
          .cpu()
          .contiguous();
  const double* d = host.data_ptr<double>();
  InterventionEffect effect;
  effect.positions = P;
  for (int64_t p = 0; p < P; ++p) {
    effect.mean_kl += d[p] / P;
    effect.max_kl = std::max(effect.max_kl, d[p]);
    if (kl != nullptr) kl->push_back(static_cast<float>(d[p]));
  }
  effect.top_changed = static_cast<int64_t>(d[3 * P]);
  effect.max_logit_change = static_cast<float>(d[3 * P + 1]);
  effect.clean_top.id = static_cast<int64_t>(d[P]);
  effect.clean_top.logprob = static_cast<float>(d[3 * P + 2]);
  effect.clean_top.probability = static_cast<float>(std::exp(d[3 * P + 2]));
  effect.intervened_top.id = static_cast<int64_t>(d[2 * P]);
  effect.intervened_top.logprob = static_cast<float>(d[3 * P + 3]);
  effect.intervened_top.probability =
      static_cast<float>(std::exp(d[3 * P + 3]));
  return effect;
}

}  // namespace tinylm
