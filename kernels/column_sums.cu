#include "kernels/column_sums.h"
#include "kernels/common.cuh"

namespace tinylm::kernels::detail {
namespace {

constexpr int kColumnsPerBlock = 32;
constexpr int kPartGroups = 8;

// Block (32, 8): threadIdx.x picks the column, threadIdx.y a fixed subset of
// the parts (y, y + 8, ...); the 8 subset sums are then added in y order.
__global__ void SumColumnsKernel(const float* __restrict__ partials, int parts,
                                 int cols, float* __restrict__ out) {
  __shared__ float subset_sums[kPartGroups][kColumnsPerBlock + 1];
  const int col = blockIdx.x * kColumnsPerBlock + threadIdx.x;
  float sum = 0.f;
  if (col < cols) {
#pragma unroll 8
    for (int p = threadIdx.y; p < parts; p += kPartGroups) {
      sum += partials[int64_t(p) * cols + col];
    }
  }
  subset_sums[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    float total = 0.f;
#pragma unroll
    for (int g = 0; g < kPartGroups; ++g) total += subset_sums[g][threadIdx.x];
    out[col] = total;
  }
}

}  // namespace

cudaError_t SumColumns(const float* partials, int parts, int cols, float* out,
                       cudaStream_t stream) {
  if (cols == 0) return cudaSuccess;
  const dim3 block(kColumnsPerBlock, kPartGroups);
  SumColumnsKernel<<<CeilDiv(cols, kColumnsPerBlock), block, 0, stream>>>(
      partials, parts, cols, out);
  return cudaGetLastError();
}

}  // namespace tinylm::kernels::detail
