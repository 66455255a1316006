#include <algorithm>
#include <initializer_list>

#include "kernels/column_sums.h"
#include "kernels/common.cuh"
#include "kernels/rms_norm.h"

namespace tinylm::kernels {
namespace {

using detail::bf16;
using detail::kWarpSize;

// One row per warp. Lane l owns elements [l * kVec, (l + 1) * kVec) of each
// run of 32 * kVec: 16-byte accesses, coalesced across the warp.
constexpr int kForwardWarps = 8;
// The backward's grid is capped at a fixed size (not derived from the
// device) so that its partial sums, and therefore dweight's bits, depend
// only on the shape.
constexpr int kMaxBackwardBlocks = 528;
constexpr int kMaxBackwardWarps = 8;
constexpr size_t kBackwardSharedBytes = 48 * 1024;

// TX: x's storage type; TY: y's (TX, or bfloat16 for float32 x).
template <typename TX, typename TY, int kVec>
__global__ void __launch_bounds__(kForwardWarps* kWarpSize)
    RmsNormForwardKernel(const TX* __restrict__ x,
                         const float* __restrict__ weight, float eps,
                         int64_t rows, int cols, TY* __restrict__ y,
                         float* __restrict__ rstd) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t row =
      int64_t(blockIdx.x) * kForwardWarps + threadIdx.x / kWarpSize;
  if (row >= rows) return;
  const TX* x_row = x + row * cols;
  TY* y_row = y + row * cols;

  // 1. rstd = 1 / sqrt(mean(x^2) + eps), in float32.
  float sum_sq = 0.f;
  for (int c = lane * kVec; c < cols; c += kWarpSize * kVec) {
    float v[kVec];
    detail::Load<TX, kVec>(x_row + c, v);
#pragma unroll
    for (int i = 0; i < kVec; ++i) sum_sq += v[i] * v[i];
  }
  sum_sq = detail::WarpSum(sum_sq);
  const float r = rsqrtf(sum_sq / float(cols) + eps);
  if (lane == 0) rstd[row] = r;

  // 2. y = (x * rstd) * weight; the second read of the row hits L1.
  for (int c = lane * kVec; c < cols; c += kWarpSize * kVec) {
    float v[kVec], w[kVec], out[kVec];
    detail::Load<TX, kVec>(x_row + c, v);
    detail::Load<float, kVec>(weight + c, w);
#pragma unroll
    for (int i = 0; i < kVec; ++i) out[i] = (v[i] * r) * w[i];
    detail::Store<TY, kVec>(y_row + c, out);
  }
}

// Rows are dealt to warps in a fixed pattern (grid-stride). Each warp adds
// its rows' dy * xhat into its own shared-memory row of dweight sums; lanes
// own disjoint columns, so no two threads touch one address. dy has y's
// type TY, dx x's type TX.
template <typename TX, typename TY, int kVec>
__global__ void __launch_bounds__(kMaxBackwardWarps* kWarpSize)
    RmsNormBackwardKernel(const TY* __restrict__ dy, const TX* __restrict__ x,
                          const float* __restrict__ weight,
                          const float* __restrict__ rstd, int64_t rows,
                          int cols, TX* __restrict__ dx,
                          float* __restrict__ partials) {
  extern __shared__ float warp_dweight[];  // [warps, cols]
  const int warps = blockDim.x / kWarpSize;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  for (int i = threadIdx.x; i < warps * cols; i += blockDim.x) {
    warp_dweight[i] = 0.f;
  }
  __syncthreads();
  float* my_dweight = warp_dweight + warp * cols;

  const int64_t row_step = int64_t(gridDim.x) * warps;
  for (int64_t row = int64_t(blockIdx.x) * warps + warp; row < rows;
       row += row_step) {
    const TY* dy_row = dy + row * cols;
    const TX* x_row = x + row * cols;
    const float r = rstd[row];

    // 1. dot = mean(g * xhat), with g = dy * weight and xhat = x * rstd.
    float dot = 0.f;
    for (int c = lane * kVec; c < cols; c += kWarpSize * kVec) {
      float g[kVec], v[kVec], w[kVec];
      detail::Load<TY, kVec>(dy_row + c, g);
      detail::Load<TX, kVec>(x_row + c, v);
      detail::Load<float, kVec>(weight + c, w);
#pragma unroll
      for (int i = 0; i < kVec; ++i) dot += (g[i] * w[i]) * (v[i] * r);
    }
    dot = detail::WarpSum(dot) / float(cols);

    // 2. dx = rstd * (g - xhat * dot); dweight += dy * xhat.
    for (int c = lane * kVec; c < cols; c += kWarpSize * kVec) {
      float g[kVec], v[kVec], w[kVec], out[kVec], acc[kVec];
      detail::Load<TY, kVec>(dy_row + c, g);
      detail::Load<TX, kVec>(x_row + c, v);
      detail::Load<float, kVec>(weight + c, w);
      detail::Load<float, kVec>(my_dweight + c, acc);
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        const float xhat = v[i] * r;
        out[i] = r * (g[i] * w[i] - xhat * dot);
        acc[i] += g[i] * xhat;
      }
      detail::Store<TX, kVec>(dx + row * cols + c, out);
      detail::Store<float, kVec>(my_dweight + c, acc);
    }
  }
  __syncthreads();

  // 3. This block's partial dweight: its warps' sums, in warp order.
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    float sum = 0.f;
    for (int w = 0; w < warps; ++w) sum += warp_dweight[w * cols + c];
    partials[int64_t(blockIdx.x) * cols + c] = sum;
  }
}

// As many warps per block as their dweight rows fit in 48 KB, up to 8.
int BackwardWarps(int cols) {
  return std::min<int>(kMaxBackwardWarps,
                       kBackwardSharedBytes / (sizeof(float) * cols));
}

int BackwardBlocks(int64_t rows, int cols) {
  return int(std::min<int64_t>(
      kMaxBackwardBlocks,
      std::max<int64_t>(1, detail::CeilDiv(rows, BackwardWarps(cols)))));
}

template <typename TX, typename TY, int kVec>
cudaError_t LaunchForward(const void* x, const float* weight, float eps,
                          int64_t rows, int cols, void* y, float* rstd,
                          cudaStream_t stream) {
  RmsNormForwardKernel<TX, TY, kVec>
      <<<detail::CeilDiv(rows, kForwardWarps), kForwardWarps * kWarpSize, 0,
         stream>>>(static_cast<const TX*>(x), weight, eps, rows, cols,
                   static_cast<TY*>(y), rstd);
  return cudaGetLastError();
}

template <typename TX, typename TY, int kVec>
cudaError_t LaunchBackward(const void* dy, const void* x, const float* weight,
                           const float* rstd, int64_t rows, int cols, void* dx,
                           float* dweight, void* workspace,
                           cudaStream_t stream) {
  const int warps = BackwardWarps(cols);
  const int blocks = BackwardBlocks(rows, cols);
  float* partials = static_cast<float*>(workspace);  // [blocks, cols]
  RmsNormBackwardKernel<TX, TY, kVec>
      <<<blocks, warps * kWarpSize, warps * cols * sizeof(float), stream>>>(
          static_cast<const TY*>(dy), static_cast<const TX*>(x), weight, rstd,
          rows, cols, static_cast<TX*>(dx), partials);
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) return status;
  return detail::SumColumns(partials, blocks, cols, dweight, stream);
}

// Picks the vector width: 16-byte accesses of the wider type where every
// pointer and the row length allow them, single elements otherwise.
template <typename TX, typename TY>
constexpr int VecWidth() {
  return detail::VecWidth<TX>() < detail::VecWidth<TY>()
             ? detail::VecWidth<TX>()
             : detail::VecWidth<TY>();
}

template <typename TX, typename TY>
bool CanVectorize(int cols, std::initializer_list<const void*> pointers) {
  if (cols % VecWidth<TX, TY>() != 0) return false;
  for (const void* p : pointers) {
    if (!detail::IsAligned(p, 16)) return false;
  }
  return true;
}

template <typename TX, typename TY>
cudaError_t Forward(const void* x, const float* weight, float eps, int64_t rows,
                    int cols, void* y, float* rstd, cudaStream_t stream) {
  return CanVectorize<TX, TY>(cols, {x, weight, y})
             ? LaunchForward<TX, TY, VecWidth<TX, TY>()>(x, weight, eps, rows,
                                                         cols, y, rstd, stream)
             : LaunchForward<TX, TY, 1>(x, weight, eps, rows, cols, y, rstd,
                                        stream);
}

template <typename TX, typename TY>
cudaError_t Backward(const void* dy, const void* x, const float* weight,
                     const float* rstd, int64_t rows, int cols, void* dx,
                     float* dweight, void* workspace, cudaStream_t stream) {
  return CanVectorize<TX, TY>(cols, {dy, x, weight, dx})
             ? LaunchBackward<TX, TY, VecWidth<TX, TY>()>(
                   dy, x, weight, rstd, rows, cols, dx, dweight, workspace,
                   stream)
             : LaunchBackward<TX, TY, 1>(dy, x, weight, rstd, rows, cols, dx,
                                         dweight, workspace, stream);
}

}  // namespace

cudaError_t RmsNormForward(DType x_dtype, DType y_dtype, const void* x,
                           const float* weight, float eps, int64_t rows,
                           int cols, void* y, float* rstd,
                           cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  if (cols <= 0) return cudaErrorInvalidValue;
  if (x_dtype == DType::kBFloat16 && y_dtype == DType::kBFloat16) {
    return Forward<bf16, bf16>(x, weight, eps, rows, cols, y, rstd, stream);
  }
  if (x_dtype == DType::kFloat32 && y_dtype == DType::kFloat32) {
    return Forward<float, float>(x, weight, eps, rows, cols, y, rstd, stream);
  }
  if (x_dtype == DType::kFloat32 && y_dtype == DType::kBFloat16) {
    return Forward<float, bf16>(x, weight, eps, rows, cols, y, rstd, stream);
  }
  return cudaErrorInvalidValue;
}

size_t RmsNormBackwardWorkspaceBytes(int64_t rows, int cols) {
  if (rows == 0 || cols <= 0 || cols > kRmsNormMaxCols) return 0;
  return size_t(BackwardBlocks(rows, cols)) * cols * sizeof(float);
}

cudaError_t RmsNormBackward(DType x_dtype, DType y_dtype, const void* dy,
                            const void* x, const float* weight,
                            const float* rstd, int64_t rows, int cols,
                            void* dx, float* dweight, void* workspace,
                            cudaStream_t stream) {
  if (cols <= 0 || cols > kRmsNormMaxCols) return cudaErrorInvalidValue;
  if (rows == 0) {
    return cudaMemsetAsync(dweight, 0, cols * sizeof(float), stream);
  }
  if (x_dtype == DType::kBFloat16 && y_dtype == DType::kBFloat16) {
    return Backward<bf16, bf16>(dy, x, weight, rstd, rows, cols, dx, dweight,
                                workspace, stream);
  }
  if (x_dtype == DType::kFloat32 && y_dtype == DType::kFloat32) {
    return Backward<float, float>(dy, x, weight, rstd, rows, cols, dx, dweight,
                                  workspace, stream);
  }
  if (x_dtype == DType::kFloat32 && y_dtype == DType::kBFloat16) {
    return Backward<float, bf16>(dy, x, weight, rstd, rows, cols, dx, dweight,
                                 workspace, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace tinylm::kernels
