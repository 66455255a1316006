// RMSNorm over the last dimension with a learnable scale (models/rms_norm.h):
//   y = x * rstd * weight,  rstd = 1 / sqrt(mean(x^2) + eps)
// computed in float32 for float32 or bfloat16 x; y has x's type, or is
// bfloat16 for float32 x (a float32 residual stream feeding a bfloat16
// product: the rounding a cast would do, without the float32 y and the
// cast). The backward reads dy in y's type and writes dx in x's.
// Optionally the residual add before the norm is fused in both ways:
//   h = x + delta, y = RMSNorm(h);  dx = dh + dRMSNorm, ddelta = dx.
//
// Not here: a bias, a norm over other dimensions, in-place updates of x.
// The weight is float32 (convert a bfloat16 weight first; it is [C]).
#ifndef TINYLM_KERNELS_RMS_NORM_H_
#define TINYLM_KERNELS_RMS_NORM_H_

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/dtype.h"

namespace tinylm::kernels {

// Largest `cols` the backward supports (its per-warp dweight partial sums
// live in shared memory).
constexpr int kRmsNormMaxCols = 12288;

// The tensors of one forward call, all [rows, cols] contiguous unless
// stated.
struct RmsNormForwardArgs {
  const void* x = nullptr;       // x_dtype
  // Optional, y_dtype: the row normalized is then h = x + delta (the
  // residual add fused in), written to `h` (x_dtype), which the backward
  // reads as its x. Both or neither.
  const void* delta = nullptr;
  void* h = nullptr;
  const float* weight = nullptr;  // [cols]
  void* y = nullptr;              // y_dtype
  float* rstd = nullptr;          // [rows], saved for the backward
};

// y_dtype is x_dtype, or bfloat16 for float32 x; other pairs are
// cudaErrorInvalidValue.
cudaError_t RmsNormForward(DType x_dtype, DType y_dtype,
                           const RmsNormForwardArgs& args, float eps,
                           int64_t rows, int cols, cudaStream_t stream);

// Bytes of scratch memory RmsNormBackward needs for these sizes.
size_t RmsNormBackwardWorkspaceBytes(int64_t rows, int cols);

struct RmsNormBackwardArgs {
  const void* dy = nullptr;       // y_dtype
  const void* x = nullptr;        // x_dtype: the row normalized (h)
  const float* weight = nullptr;  // [cols]
  const float* rstd = nullptr;    // [rows], from the forward
  // Optional, x_dtype: the gradient h receives from elsewhere (the
  // residual stream), added to dx.
  const void* dh = nullptr;
  void* dx = nullptr;             // x_dtype
  void* ddelta = nullptr;         // optional, y_dtype: dx again, for delta
  float* dweight = nullptr;       // [cols] float32, written
  void* workspace = nullptr;      // RmsNormBackwardWorkspaceBytes
};

// dweight is reduced over rows in a fixed order (per-block partial sums in
// the workspace, then one pass over them), so repeated runs give identical
// bits.
cudaError_t RmsNormBackward(DType x_dtype, DType y_dtype,
                            const RmsNormBackwardArgs& args, int64_t rows,
                            int cols, cudaStream_t stream);

}  // namespace tinylm::kernels

#endif  // TINYLM_KERNELS_RMS_NORM_H_
