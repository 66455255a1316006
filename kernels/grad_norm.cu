#include "kernels/common.cuh"
#include "kernels/grad_norm.h"

namespace tinylm::kernels {
namespace {

// A fixed grid, independent of the device and the sizes: the partial sums,
// and therefore the norm's bits, depend only on the data.
constexpr int kPartialBlocks = 1024;
constexpr int kThreads = 256;

struct GradBuffers {
  GradBuffer buffer[kMaxGradBuffers];
  bool vec4[kMaxGradBuffers];  // 16-byte aligned: read as float4
  int count;
};

// Block b sums g² over the elements that its threads take in grid-stride
// order, in float64.
__global__ void __launch_bounds__(kThreads)
    SquaredSumPartialsKernel(GradBuffers buffers, double* partials) {
  __shared__ double scratch[detail::kWarpSize];
  const int64_t thread = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t threads = int64_t(gridDim.x) * blockDim.x;
  double sum = 0.0;
  for (int b = 0; b < buffers.count; ++b) {
    const float* g = buffers.buffer[b].data;
    const int64_t size = buffers.buffer[b].size;
    int64_t scalar_begin = 0;
    if (buffers.vec4[b]) {
      const float4* g4 = reinterpret_cast<const float4*>(g);
      // Unrolled so that each thread keeps several loads in flight.
#pragma unroll 4
      for (int64_t i = thread; i < size / 4; i += threads) {
        const float4 v = g4[i];
        sum += double(v.x) * v.x + double(v.y) * v.y + double(v.z) * v.z +
               double(v.w) * v.w;
      }
      scalar_begin = size / 4 * 4;
    }
    for (int64_t i = scalar_begin + thread; i < size; i += threads) {
      sum += double(g[i]) * g[i];
    }
  }
  sum = detail::BlockSum(sum, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

__global__ void __launch_bounds__(kPartialBlocks)
    NormAndClipKernel(const double* partials, float max_norm, float* norm,
                      float* clip_coef) {
  __shared__ double scratch[detail::kWarpSize];
  const double total = detail::BlockSum(partials[threadIdx.x], scratch);
  if (threadIdx.x == 0) {
    const float n = float(sqrt(total));
    *norm = n;
    *clip_coef = fminf(max_norm / (n + 1e-6f), 1.f);
  }
}

}  // namespace

size_t GradNormWorkspaceBytes() { return kPartialBlocks * sizeof(double); }

cudaError_t GradNorm(const GradBuffer* buffers, int count, float max_norm,
                     float* norm, float* clip_coef, void* workspace,
                     cudaStream_t stream) {
  if (count < 0 || count > kMaxGradBuffers) return cudaErrorInvalidValue;
  GradBuffers all{};
  all.count = count;
  for (int b = 0; b < count; ++b) {
    if (buffers[b].size < 0) return cudaErrorInvalidValue;
    all.buffer[b] = buffers[b];
    all.vec4[b] = detail::IsAligned(buffers[b].data, 16);
  }
  double* partials = static_cast<double*>(workspace);
  SquaredSumPartialsKernel<<<kPartialBlocks, kThreads, 0, stream>>>(all,
                                                                    partials);
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) return status;
  NormAndClipKernel<<<1, kPartialBlocks, 0, stream>>>(partials, max_norm, norm,
                                                      clip_coef);
  return cudaGetLastError();
}

}  // namespace tinylm::kernels
