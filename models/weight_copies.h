// Low-precision copies of a model's parameters, kept up to date by whoever
// updates the parameters (the fused training step's AdamW,
// train/flat_weight_copies.h). The fused pass's weight products read them
// (kernels/torch/linear_op.h) instead of casting the float32 parameters
// again at every step, and add their gradients straight into the
// parameters' float32 gradients.
#ifndef TINYLM_MODELS_WEIGHT_COPIES_H_
#define TINYLM_MODELS_WEIGHT_COPIES_H_

#include <ATen/core/Tensor.h>

namespace tinylm {

class WeightCopies {
 public:
  virtual ~WeightCopies() = default;
  // The bfloat16 copy of `parameter`, of its shape; a parameter of the
  // model the copies were made for.
  virtual at::Tensor Of(const at::Tensor& parameter) const = 0;
};

}  // namespace tinylm

#endif  // TINYLM_MODELS_WEIGHT_COPIES_H_
