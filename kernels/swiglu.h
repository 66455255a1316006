// The SwiGLU gate of the MLP (models/block.cc): h = silu(a) · b, with
// silu(a) = a / (1 + exp(-a)), in float32 for float32 or bfloat16 storage;
// and its backward. a and b may be two halves of one fused fc_1|fc_2
// product (row strides are free), and so may da and db.
//
// Not here: the matrix products around it.
#ifndef TINYLM_KERNELS_SWIGLU_H_
#define TINYLM_KERNELS_SWIGLU_H_

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/dtype.h"

namespace tinylm::kernels {

// A [rows, cols] matrix whose rows are `stride` elements apart.
template <typename Ptr>
struct StridedRows {
  Ptr data = nullptr;
  int64_t stride = 0;
};

// a, b, h: [rows, cols] of `dtype`.
cudaError_t SwiGluForward(DType dtype, int64_t rows, int cols,
                          StridedRows<const void*> a,
                          StridedRows<const void*> b, StridedRows<void*> h,
                          cudaStream_t stream);

// dh: gradient of h; writes da = dh · b · silu'(a) and db = dh · silu(a),
// silu'(a) = s · (1 + a · (1 - s)), s = sigmoid(a). All [rows, cols].
cudaError_t SwiGluBackward(DType dtype, int64_t rows, int cols,
                           StridedRows<const void*> dh,
                           StridedRows<const void*> a,
                           StridedRows<const void*> b, StridedRows<void*> da,
                           StridedRows<void*> db, cudaStream_t stream);

}  // namespace tinylm::kernels

#endif  // TINYLM_KERNELS_SWIGLU_H_
