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
#include <vector>

namespace tinylm::ops {

// x: [..., C] float32 or bfloat16; weight: [C] float32 or bfloat16.
// Returns [..., C] in `y_dtype`: x's dtype by default, or bfloat16 for
// float32 x (what a bfloat16 product reads, without a float32 y and a
// cast); differentiable in x and weight.
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps,
                   std::optional<at::ScalarType> y_dtype = std::nullopt);

// The residual add before a norm, fused into its kernels:
//   h = x + delta,  y = RMSNorm(h) in `y_dtype` (as RmsNorm);
// backward: dx = dh + dRMSNorm(dy), ddelta = dx in delta's dtype. x: [..., C]
// float32 or bfloat16; delta: [..., C] in y's dtype (a bfloat16 product's
// output beside a float32 residual stream). Returns {h, y}; differentiable
// in x, delta and weight.
std::vector<at::Tensor> AddRmsNorm(
    const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight,
    double eps, std::optional<at::ScalarType> y_dtype = std::nullopt);

// The same math in LibTorch ops (autograd through them): float32 inside,
// float64 when x is float64 (the tests' reference).
at::Tensor RmsNormReference(const at::Tensor& x, const at::Tensor& weight,
                            double eps);

// The kernels on caller-owned outputs, no autograd (tests poison outputs
// to see that every element is written). x, y, dy, dx: [N, C] contiguous;
// x and dx of one dtype, y and dy of x's or bfloat16 for float32 x;
// weight: [C] float32; rstd: [N] float32; dweight: [C] float32. With delta
// (y's dtype), h = x + delta is normalized and written (x's dtype); the
// backward's x is then that h, dh (x's dtype) is added to dx, and ddelta
// (y's dtype) receives dx again.
void RmsNormForwardOut(const at::Tensor& x, const at::Tensor& weight,
                       double eps, at::Tensor& y, at::Tensor& rstd,
                       const at::Tensor& delta = {}, at::Tensor* h = nullptr);
void RmsNormBackwardOut(const at::Tensor& dy, const at::Tensor& x,
                        const at::Tensor& weight, const at::Tensor& rstd,
                        at::Tensor& dx, at::Tensor& dweight,
                        const at::Tensor& dh = {},
                        at::Tensor* ddelta = nullptr);

}  // namespace tinylm::ops

#endif  // TINYLM_KERNELS_TORCH_RMS_NORM_OP_H_
