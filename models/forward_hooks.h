// Hook points of the forward pass: named places where inspection code may
// read an activation or replace it (the logit lens records the residual
// stream, interventions ablate or patch; intervention.h has both).
//
// A forward without hooks (ForwardInput::hooks null) runs exactly as it
// would without this file: each point costs one null pointer test.
#ifndef TINYLM_MODELS_FORWARD_HOOKS_H_
#define TINYLM_MODELS_FORWARD_HOOKS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "models/hook_point.h"

namespace tinylm {

class ForwardHooks {
 public:
  virtual ~ForwardHooks() = default;

  // Whether At() is to be called for `point` of `layer`.
  virtual bool Wants(HookPoint point, int64_t layer) const = 0;

  // The activation at `point` of `layer`: `value` itself, or a tensor of
  // the same shape and dtype that the forward continues with.
  virtual at::Tensor At(HookPoint point, int64_t layer,
                        const at::Tensor& value) = 0;
};

// `value` after the hooks at (point, layer), when there are hooks that want
// it; else `value` untouched.
inline at::Tensor Hook(ForwardHooks* hooks, HookPoint point, int64_t layer,
                       const at::Tensor& value) {
  if (hooks == nullptr || !hooks->Wants(point, layer)) return value;
  return hooks->At(point, layer, value);
}

}  // namespace tinylm

#endif  // TINYLM_MODELS_FORWARD_HOOKS_H_
