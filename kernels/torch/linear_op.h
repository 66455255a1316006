// The weight products of the fused training pass (models/ with
// ForwardInput::weight_copies) when the weights are float32 parameters with
// gradients in float32 buffers and a bfloat16 copy kept by the optimizer:
//
//   y  = x·Wᵀ (+ b)          in bfloat16, read from the copy: no cast a step
//   dx = dy·W                in bfloat16
//   W.grad += dyᵀ·x          in float32, by cuBLAS with β = 1 straight into
//                            each parameter's gradient
//
// where W [N, K] is the rows of `weights` stacked (fc_1 over fc_2, or q, k
// and v). Autocast's way costs, per weight and step, a cast of W to
// bfloat16, a bfloat16 gradient, its cast to float32 and an add into the
// gradient buffer; this op costs none of them. The weights' autograd
// gradients are left undefined (their accumulation nodes still run, with
// their hooks, and add nothing); the bias gradient flows as usual.
#ifndef TINYLM_KERNELS_TORCH_LINEAR_OP_H_
#define TINYLM_KERNELS_TORCH_LINEAR_OP_H_

#include <ATen/core/Tensor.h>

#include <vector>

namespace tinylm::ops {

// x: [..., K] float32 or bfloat16 on CUDA; weights: float32 [n_i, K] whose
// gradients are float32 and contiguous (created as zeros where undefined);
// weight_bf16: [Σ n_i, K] bfloat16, the same values rounded; bias and
// bias_bf16: [Σ n_i] or both undefined. Returns y [..., Σ n_i] bfloat16,
// differentiable in x and bias.
at::Tensor LinearIntoGrads(const at::Tensor& x,
                           const std::vector<at::Tensor>& weights,
                           const at::Tensor& weight_bf16,
                           const at::Tensor& bias, const at::Tensor& bias_bf16);

// The rows of `parts` (contiguous, each [n_i, ...] with one trailing shape
// and dtype) stacked along dimension 0: a view where they lie one after
// the other in one storage (as in a flat parameter buffer) and take no
// gradient, else a copy (at::cat, which autograd differentiates).
at::Tensor StackRows(const std::vector<at::Tensor>& parts);

// Whether StackRows's view applies to `parts` (non-empty): contiguous, one
// dtype and trailing shape, each starting where the one before ends in one
// storage.
bool RowsAreAdjacent(const std::vector<at::Tensor>& parts);

}  // namespace tinylm::ops

#endif  // TINYLM_KERNELS_TORCH_LINEAR_OP_H_
