// Two kinds of forward hooks (forward_hooks.h) for inspection:
//   RecordingHooks     keeps the activations at chosen points (the logit
//                      lens's residual streams, a patch's source);
//   InterventionHooks  ablates or patches activations as InterventionSpecs
//                      say (intervention_spec.h).
// Both serve one forward at a time and are not thread-safe.
#ifndef TINYLM_MODELS_INTERVENTION_H_
#define TINYLM_MODELS_INTERVENTION_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "models/forward_hooks.h"
#include "models/intervention_spec.h"

namespace tinylm {

class RecordingHooks final : public ForwardHooks {
 public:
  // Asks for the activation at (point, layer) of every later forward.
  void Record(HookPoint point, int64_t layer);

  // What the last forward had at (point, layer); undefined when not asked.
  at::Tensor Recorded(HookPoint point, int64_t layer) const;

  bool Wants(HookPoint point, int64_t layer) const override;
  at::Tensor At(HookPoint point, int64_t layer,
                const at::Tensor& value) override;

 private:
  std::map<std::pair<HookPoint, int64_t>, at::Tensor> recorded_;
};

class InterventionHooks final : public ForwardHooks {
 public:
  // sources[i]: for a patch specs[i], the activation recorded at its point
  // and layer while the model read specs[i].source ([1, S, C] residual or
  // [1, H, S, S] pattern, in the forward's dtype and device); ignored for
  // ablations. Specs at one point apply in order.
  InterventionHooks(std::vector<InterventionSpec> specs,
                    std::vector<at::Tensor> sources);

  bool Wants(HookPoint point, int64_t layer) const override;
  at::Tensor At(HookPoint point, int64_t layer,
                const at::Tensor& value) override;

 private:
  std::vector<InterventionSpec> specs_;
  std::vector<at::Tensor> sources_;
};

}  // namespace tinylm

#endif  // TINYLM_MODELS_INTERVENTION_H_
