// The SwiGLU gate of the MLP (models/block.cc) as a differentiable LibTorch
// op on kernels/swiglu.h: h = silu(a) · b in float32, h in the inputs'
// dtype. CUDA tensors run the kernels; other devices run the reference.
// Not here: the matrix products around it.
#ifndef TINYLM_KERNELS_TORCH_SWIGLU_OP_H_
#define TINYLM_KERNELS_TORCH_SWIGLU_OP_H_

#include <ATen/core/Tensor.h>

namespace tinylm::ops {

// a = fc_1(x), b = fc_2(x): [..., I] of one dtype, float32 or bfloat16.
// Returns h [..., I]; differentiable in a and b.
at::Tensor SwiGlu(const at::Tensor& a, const at::Tensor& b);

// ab: [..., 2I], one product of x with fc_1's and fc_2's weights stacked
// ([fc_1; fc_2], e.g. their adjacent rows in one flat buffer): a is the
// first half of the last dimension, b the second. Returns h [..., I]; the
// gradient of ab is written in one buffer, with no concatenation.
at::Tensor SwiGluPacked(const at::Tensor& ab);

// silu(a) · b in LibTorch ops (float32 inside, float64 for float64).
at::Tensor SwiGluReference(const at::Tensor& a, const at::Tensor& b);

// The kernels on caller-owned outputs, no autograd. All [N, I] with unit
// stride along I (row strides free), one dtype.
void SwiGluForwardOut(const at::Tensor& a, const at::Tensor& b, at::Tensor& h);
void SwiGluBackwardOut(const at::Tensor& dh, const at::Tensor& a,
                       const at::Tensor& b, at::Tensor& da, at::Tensor& db);

}  // namespace tinylm::ops

#endif  // TINYLM_KERNELS_TORCH_SWIGLU_OP_H_
