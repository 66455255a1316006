// RMSNorm over the last dimension with a learnable scale (models/rms_norm.h):
//   y = x * rstd * weight,  rstd = 1 / sqrt(mean(x^2) + eps)
// computed in float32 for float32 or bfloat16 x; y has x's type, or is
// bfloat16 for float32 x (a float32 residual stream feeding a bfloat16
// product: the rounding a cast would do, without the float32 y and the
// cast). The backward reads dy in y's type and writes dx in x's.
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

// x: [rows, cols] of `x_dtype`, y of `y_dtype` (x_dtype, or bfloat16 for
// float32 x; others are cudaErrorInvalidValue), contiguous; weight: [cols]
// float32; rstd: [rows] float32, saved for the backward.
cudaError_t RmsNormForward(DType x_dtype, DType y_dtype, const void* x,
                           const float* weight, float eps, int64_t rows,
                           int cols, void* y, float* rstd,
                           cudaStream_t stream);

// Bytes of scratch memory RmsNormBackward needs for these sizes.
size_t RmsNormBackwardWorkspaceBytes(int64_t rows, int cols);

// dy: [rows, cols] of `y_dtype`; x, dx: of `x_dtype` (the forward's
// pair); weight: [cols]; rstd: [rows] from the
// forward; dweight: [cols] float32, written (not accumulated). dweight is
// reduced over rows in a fixed order (per-block partial sums in `workspace`,
// then one pass over them), so repeated runs give identical bits.
cudaError_t RmsNormBackward(DType x_dtype, DType y_dtype, const void* dy,
                            const void* x, const float* weight,
                            const float* rstd, int64_t rows, int cols,
                            void* dx, float* dweight, void* workspace,
                            cudaStream_t stream);

}  // namespace tinylm::kernels

#endif  // TINYLM_KERNELS_RMS_NORM_H_
