// Packs a module's parameters into two flat float32 buffers (with and
// without weight decay) and makes every parameter and its gradient a view
// into them.
//
// Why: the models are small and the GPU step is launch-bound. With flat
// buffers the optimizer updates two tensors instead of ~100, gradient
// clipping is one norm, and zeroing gradients is one fill. Autograd keeps
// accumulating into the views in place because the gradients stay defined.
#ifndef TINYLM_TRAIN_FLAT_PARAMETERS_H_
#define TINYLM_TRAIN_FLAT_PARAMETERS_H_

#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace tinylm {

class FlatParameters {
 public:
  // Norm weights and biases get no weight decay; matrices and embeddings do.
  // The module must already be on its training device.
  explicit FlatParameters(torch::nn::Module& module);

  // The two leaf tensors to hand to the optimizer (decayed first).
  std::vector<at::Tensor> decayed() const { return {decayed_}; }
  std::vector<at::Tensor> undecayed() const { return {undecayed_}; }

  void ZeroGrad();
  // Scales gradients so their global L2 norm is at most `max_norm`; returns
  // the norm before scaling as a 0-dim device tensor (no host sync).
  at::Tensor ClipGradNorm(double max_norm);

 private:
  at::Tensor decayed_, undecayed_;  // [N] float32, requires_grad
};

}  // namespace tinylm

#endif  // TINYLM_TRAIN_FLAT_PARAMETERS_H_
