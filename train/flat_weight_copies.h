// bfloat16 copies of FlatParameters' two float32 buffers, one flat copy
// each, with every parameter's copy a view of it in the same place: the
// weights a fused training step's forward reads (models/weight_copies.h).
// The step's AdamW rewrites the flat copies after each update
// (kernels/torch/optimizer_ops.h, AdamWBuffers::param_bf16), so no step
// casts the weights, and adjacent parameters (fc_1 and fc_2; q, k and v)
// have adjacent copies, which one product reads without a concatenation.
#ifndef TINYLM_TRAIN_FLAT_WEIGHT_COPIES_H_
#define TINYLM_TRAIN_FLAT_WEIGHT_COPIES_H_

#include <ATen/core/Tensor.h>
#include <c10/core/TensorImpl.h>
#include <torch/nn/module.h>

#include "absl/container/flat_hash_map.h"
#include "models/weight_copies.h"
#include "train/flat_parameters.h"

namespace tinylm {

class FlatWeightCopies : public WeightCopies {
 public:
  // `module`'s parameters must be views of `flat` (its constructor made
  // them so); the copies are made from their current values.
  FlatWeightCopies(torch::nn::Module& module, const FlatParameters& flat);

  // Fails (TORCH_CHECK) for a tensor that is not one of the parameters.
  at::Tensor Of(const at::Tensor& parameter) const override;

  // The flat bfloat16 copy of the flat buffer that `buffer` views (e.g.
  // FlatParameters::decayed()[0]); fails (TORCH_CHECK) for other tensors.
  const at::Tensor& FlatCopyOf(const at::Tensor& buffer) const;

 private:
  at::Tensor decayed_, undecayed_;            // [N] float32, the buffers
  at::Tensor decayed_copy_, undecayed_copy_;  // [N] bfloat16
  absl::flat_hash_map<const c10::TensorImpl*, at::Tensor> views_;
};

}  // namespace tinylm

#endif  // TINYLM_TRAIN_FLAT_WEIGHT_COPIES_H_
