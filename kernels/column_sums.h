// Deterministic column sums of per-block partial results: the second half of
// every reduction over rows here (RMSNorm's dweight, the QKV bias gradient).
// Internal to kernels/.
#ifndef TINYLM_KERNELS_COLUMN_SUMS_H_
#define TINYLM_KERNELS_COLUMN_SUMS_H_

#include <cuda_runtime.h>

namespace tinylm::kernels::detail {

// out[c] = sum over p of partials[p, c], always added in the same order.
// partials: [parts, cols] float32; out: [cols] float32.
cudaError_t SumColumns(const float* partials, int parts, int cols, float* out,
                       cudaStream_t stream);

}  // namespace tinylm::kernels::detail

#endif  // TINYLM_KERNELS_COLUMN_SUMS_H_
