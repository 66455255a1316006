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

// TX: x's storage type; TY: y's (TX, or bfloat16 for float32 x), and
// delta's. With delta, the row normalized is h = x + delta, rounded to TX
// as a separate add would round it, and stored.
template <typename TX, typename TY, int kVec>
__device__ __forceinline__ void LoadInput(const TX* x, const TY* delta,
                                          float (&v)[kVec]) {
  detail::Load<TX, kVec>(x, v);
  if (delta == nullptr) return;
  float d[kVec];
  detail::Load<TY, kVec>(delta, d);
#pragma unroll
  for (int i = 0; i < kVec; ++i) {
    v[i] = detail::ToFloat(detail::FromFloat<TX>(v[i] + d[i]));
  }
}

template <typename TX, typename TY, int kVec>
__global__ void __launch_bounds__(kForwardWarps* kWarpSize)
    RmsNormForwardKernel(const TX* __restrict__ x, const TY* __restrict__ delta,
                         const float* __restrict__ weight, float eps,
                         int64_t rows, int cols, TX* __restrict__ h,
                         TY* __restrict__ y, float* __restrict__ rstd) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t row =
      int64_t(blockIdx.x) * kForwardWarps + threadIdx.x / kWarpSize;
  if (row >= rows) return;
  const TX* x_row = x + row * cols;
  const TY* delta_row = delta != nullptr ? delta + row * cols : nullptr;
  TY* y_row = y + row * cols;

  // 1. h = x (+ delta); rstd = 1 / sqrt(mean(h^2) + eps), in float32.
  float sum_sq = 0.f;
  for (int c = lane * kVec; c < cols; c += kWarpSize * kVec) {
    float v[kVec];
    LoadInput<TX, TY, kVec>(x_row + c,
                            delta_row != nullptr ? delta_row + c : nullptr, v);
    if (delta_row != nullptr) detail::Store<TX, kVec>(h + row * cols + c, v);
#pragma unroll
    for (int i = 0; i < kVec; ++i) sum_sq += v[i] * v[i];
  }
  sum_sq = detail::WarpSum(sum_sq);
  const float r = rsqrtf(sum_sq / float(cols) + eps);
  if (lane == 0) rstd[row] = r;

  // 2. y = (h * rstd) * weight; the second reads of the rows hit L1.
  for (int c = lane * kVec; c < cols; c += kWarpSize * kVec) {
    float v[kVec], w[kVec], out[kVec];
    LoadInput<TX, TY, kVec>(x_row + c,
                            delta_row != nullptr ? delta_row + c : nullptr, v);
    detail::Load<float, kVec>(weight + c, w);
#pragma unroll
    for (int i = 0; i < kVec; ++i) out[i] = (v[i] * r) * w[i];
    detail::Store<TY, kVec>(y_row + c, out);
  }
}

// Rows are dealt to warps in a fixed pattern (grid-stride). Each warp adds
// its rows' dy * xhat into its own shared-memory row of dweight sums; lanes
// own disjoint columns, so no two threads touch one address. dy has y's
// type TY, dx x's type TX. x is the row that was normalized (h with a
// delta); dh, when given, is the gradient h receives from elsewhere, added
// to dx; ddelta, when given, receives dx again in delta's type TY.
template <typename TX, typename TY, int kVec>
__global__ void __launch_bounds__(kMaxBackwardWarps* kWarpSize)
    RmsNormBackwardKernel(const TY* __restrict__ dy, const TX* __restrict__ x,
                          const float* __restrict__ weight,
                          const float* __restrict__ rstd,
                          const TX* __restrict__ dh, int64_t rows, int cols,
                          TX* __restrict__ dx, TY* __restrict__ ddelta,
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
      if (dh != nullptr) {
        float other[kVec];
        detail::Load<TX, kVec>(dh + row * cols + c, other);
#pragma unroll
        for (int i = 0; i < kVec; ++i) out[i] += other[i];
      }
      detail::Store<TX, kVec>(dx + row * cols + c, out);
      if (ddelta != nullptr) {
        detail::Store<TY, kVec>(ddelta + row * cols + c, out);
      }
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
cudaError_t LaunchForward(const RmsNormForwardArgs& a, float eps, int64_t rows,
                          int cols, cudaStream_t stream) {
  RmsNormForwardKernel<TX, TY, kVec>
      <<<detail::CeilDiv(rows, kForwardWarps), kForwardWarps * kWarpSize, 0,
         stream>>>(static_cast<const TX*>(a.x), static_cast<const TY*>(a.delta),
                   a.weight, eps, rows, cols, static_cast<TX*>(a.h),
                   static_cast<TY*>(a.y), a.rstd);
  return cudaGetLastError();
}

template <typename TX, typename TY, int kVec>
cudaError_t LaunchBackward(const RmsNormBackwardArgs& a, int64_t rows,
                           int cols, cudaStream_t stream) {
  const int warps = BackwardWarps(cols);
  const int blocks = BackwardBlocks(rows, cols);
  float* partials = static_cast<float*>(a.workspace);  // [blocks, cols]
  RmsNormBackwardKernel<TX, TY, kVec>
      <<<blocks, warps * kWarpSize, warps * cols * sizeof(float), stream>>>(
          static_cast<const TY*>(a.dy), static_cast<const TX*>(a.x), a.weight,
          a.rstd, static_cast<const TX*>(a.dh), rows, cols,
          static_cast<TX*>(a.dx), static_cast<TY*>(a.ddelta), partials);
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) return status;
  return detail::SumColumns(partials, blocks, cols, a.dweight, stream);
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
    if (!detail::IsAligned(p, 16)) return false;  // null is aligned
  }
  return true;
}

template <typename TX, typename TY>
cudaError_t Forward(const RmsNormForwardArgs& a, float eps, int64_t rows,
                    int cols, cudaStream_t stream) {
  return CanVectorize<TX, TY>(cols, {a.x, a.delta, a.weight, a.h, a.y})
             ? LaunchForward<TX, TY, VecWidth<TX, TY>()>(a, eps, rows, cols,
                                                         stream)
             : LaunchForward<TX, TY, 1>(a, eps, rows, cols, stream);
}

template <typename TX, typename TY>
cudaError_t Backward(const RmsNormBackwardArgs& a, int64_t rows, int cols,
                     cudaStream_t stream) {
  return CanVectorize<TX, TY>(cols, {a.dy, a.x, a.weight, a.dh, a.dx, a.ddelta})
             ? LaunchBackward<TX, TY, VecWidth<TX, TY>()>(a, rows, cols, stream)
             : LaunchBackward<TX, TY, 1>(a, rows, cols, stream);
}

}  // namespace

cudaError_t RmsNormForward(DType x_dtype, DType y_dtype,
                           const RmsNormForwardArgs& args, float eps,
                           int64_t rows, int cols, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  if (cols <= 0 || (args.delta == nullptr) != (args.h == nullptr)) {
    return cudaErrorInvalidValue;
  }
  if (x_dtype == DType::kBFloat16 && y_dtype == DType::kBFloat16) {
    return Forward<bf16, bf16>(args, eps, rows, cols, stream);
  }
  if (x_dtype == DType::kFloat32 && y_dtype == DType::kFloat32) {
    return Forward<float, float>(args, eps, rows, cols, stream);
  }
  if (x_dtype == DType::kFloat32 && y_dtype == DType::kBFloat16) {
    return Forward<float, bf16>(args, eps, rows, cols, stream);
  }
  return cudaErrorInvalidValue;
}

size_t RmsNormBackwardWorkspaceBytes(int64_t rows, int cols) {
  if (rows == 0 || cols <= 0 || cols > kRmsNormMaxCols) return 0;
  return size_t(BackwardBlocks(rows, cols)) * cols * sizeof(float);
}

cudaError_t RmsNormBackward(DType x_dtype, DType y_dtype,
                            const RmsNormBackwardArgs& args, int64_t rows,
                            int cols, cudaStream_t stream) {
  if (cols <= 0 || cols > kRmsNormMaxCols) return cudaErrorInvalidValue;
  if (rows == 0) {
    return cudaMemsetAsync(args.dweight, 0, cols * sizeof(float), stream);
  }
  if (x_dtype == DType::kBFloat16 && y_dtype == DType::kBFloat16) {
    return Backward<bf16, bf16>(args, rows, cols, stream);
  }
  if (x_dtype == DType::kFloat32 && y_dtype == DType::kFloat32) {
    return Backward<float, float>(args, rows, cols, stream);
  }
  if (x_dtype == DType::kFloat32 && y_dtype == DType::kBFloat16) {
    return Backward<float, bf16>(args, rows, cols, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace tinylm::kernels
