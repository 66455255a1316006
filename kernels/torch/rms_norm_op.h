// RMSNorm (models/rms_norm.h) as a differentiable LibTorch op on the CUDA
// kernels of kernels/rms_norm.h:
//   y = x * rsqrt(mean(x^2, -1) + eps) * weight, in float32, y in x's dtype.
// CUDA tensors run the kernels (dweight reduced deterministically); other
// devices, and rows longer than kernels::kRmsNormMaxCols, run
// RmsNormReference. Not here: a bias, norms over other dimensions.
#ifndef TINYLM_KERNELS_TORCH_RMS_NORM_OP_H_
#define TINYLM_KERNELS_TORCH_RMS_NORM_OP_H_

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <optional>

namespace tinylm::ops {

// x: [..., C] float32 or bfloat16; weight: [C] float32 or bfloat16.
// Returns [..., C] in `y_dtype`: x's dtype by default, or bfloat16 for
// float32 x (what a bfloat16 product reads, without a float32 y and a
// cast); differentiable in x and weight.
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps,
                   std::optional<at::ScalarType> y_dtype = std::nullopt);

// The same math in LibTorch ops (autograd through them): float32 inside,
// float64 when x is float64 (the tests' reference).
at::Tensor RmsNormReference(const at::Tensor& x, const at::Tensor& weight,
                            double eps);

// The kernels on caller-owned outputs, no autograd (tests poison outputs
// to see that every element is written). x, y, dy, dx: [N, C] contiguous;
// x and dx of one dtype, y and dy of x's or bfloat16 for float32 x;
// weight: [C] float32; rstd: [N] float32; dweight: [C] float32.
void RmsNormForwardOut(const at::Tensor& x, const at::Tensor& weight,
                       double eps, at::Tensor& y, at::Tensor& rstd);
void RmsNormBackwardOut(const at::Tensor& dy, const at::Tensor& x,
                        const at::Tensor& weight, const at::Tensor& rstd,
                        at::Tensor& dx, at::Tensor& dweight);

}  // namespace tinylm::ops

#endif  // TINYLM_KERNELS_TORCH_RMS_NORM_OP_H_
