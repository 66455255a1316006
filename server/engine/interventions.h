// A request's interventions made ready for a forward pass, and what they
// changed. Runs on the scheduler thread; may throw c10::Error.
#ifndef TINYLM_SERVER_ENGINE_INTERVENTIONS_H_
#define TINYLM_SERVER_ENGINE_INTERVENTIONS_H_

#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "models/intervention.h"
#include "models/model.h"
#include "server/engine/request.h"

namespace tinylm {

// Hooks that apply `specs` (validated) to forwards of `model`. Each patch's
// source is read here, once: one forward of the source recording the
// activation at the patch's point and layer.
std::unique_ptr<InterventionHooks> PrepareInterventions(
    Transformer& model, const std::vector<InterventionSpec>& specs);

// The effect at P positions, from the next-token logits [P, V] without
// (`clean`) and with the interventions. When `kl` is not null it receives
// the P KL divergences.
InterventionEffect EffectOf(const at::Tensor& clean,
                            const at::Tensor& intervened,
                            std::vector<float>* kl = nullptr);

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_INTERVENTIONS_H_
