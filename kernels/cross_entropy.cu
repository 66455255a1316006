#include "kernels/common.cuh"
#include "kernels/cross_entropy.h"

namespace tinylm::kernels {
namespace {

using detail::bf16;
using detail::kWarpSize;

// One block per row; thread t owns the runs of kVec logits starting at
// t·kVec, t·kVec + blockDim·kVec, ...
constexpr int kRowThreads = 256;
constexpr int kMeanThreads = 1024;

template <typename T, int kVec>
__global__ void __launch_bounds__(kRowThreads)
    CrossEntropyRowKernel(const T* __restrict__ logits,
                          const int64_t* __restrict__ targets,
                          CrossEntropyLayout l, float* __restrict__ row_loss,
                          float* __restrict__ lse) {
  __shared__ float warp_max[kWarpSize], warp_sum[kWarpSize];
  const int64_t row = blockIdx.x;
  const T* x = logits + row * l.vocab;

  // 1. This thread's online max and sum of exp(x - max).
  float max = -INFINITY, sum = 0.f;
  for (int j = threadIdx.x * kVec; j < l.vocab; j += blockDim.x * kVec) {
    float v[kVec];
    detail::Load<T, kVec>(x + j, v);
    float run_max = v[0];
#pragma unroll
    for (int i = 1; i < kVec; ++i) run_max = fmaxf(run_max, v[i]);
    float run_sum = 0.f;
#pragma unroll
    for (int i = 0; i < kVec; ++i) run_sum += expf(v[i] - run_max);
    detail::MergeSoftmaxState(max, sum, run_max, run_sum);
  }

  // 2. Merged across the warp, then across the warps in index order.
  detail::WarpMergeSoftmaxState(max, sum);
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  if (lane == 0) {
    warp_max[warp] = max;
    warp_sum[warp] = sum;
  }
  __syncthreads();
  if (warp != 0) return;
  const int warps = blockDim.x / kWarpSize;
  max = lane < warps ? warp_max[lane] : -INFINITY;
  sum = lane < warps ? warp_sum[lane] : 0.f;
  detail::WarpMergeSoftmaxState(max, sum);

  // 3. loss = lse - x[target].
  if (lane == 0) {
    const float row_lse = max + logf(sum);
    lse[row] = row_lse;
    const int64_t target = targets[row];
    float loss = 0.f;
    if (target != l.ignore_index) {
      loss = target >= 0 && target < l.vocab
                 ? row_lse - detail::ToFloat(x[target])
                 : NAN;
    }
    row_loss[row] = loss;
  }
}

// The mean over counted rows in one block, in a fixed order (double
// partial sums, so the order barely matters for the value either).
__global__ void __launch_bounds__(kMeanThreads)
    CrossEntropyMeanKernel(const float* __restrict__ row_loss,
                           const int64_t* __restrict__ targets,
                           CrossEntropyLayout l, float* __restrict__ loss,
                           float* __restrict__ count) {
  __shared__ double scratch[kWarpSize];
  double sum = 0.0, counted = 0.0;
  for (int64_t r = threadIdx.x; r < l.rows; r += blockDim.x) {
    if (targets[r] != l.ignore_index) {
      sum += row_loss[r];
      counted += 1.0;
    }
  }
  sum = detail::BlockSum(sum, scratch);
  counted = detail::BlockSum(counted, scratch);
  if (threadIdx.x == 0) {
    *loss = float(sum / counted);  // 0 / 0 = NaN when every row is ignored
    *count = float(counted);
  }
}

template <typename T, int kVec>
__global__ void __launch_bounds__(kRowThreads)
    CrossEntropyBackwardKernel(const T* __restrict__ logits,
                               const int64_t* __restrict__ targets,
                               CrossEntropyLayout l,
                               const float* __restrict__ lse,
                               const float* __restrict__ count,
                               const float* __restrict__ grad_loss,
                               T* __restrict__ dlogits) {
  const int64_t row = blockIdx.x;
  const T* x = logits + row * l.vocab;
  T* dx = dlogits + row * l.vocab;
  const int64_t target = targets[row];
  const bool ignored = target == l.ignore_index;
  const float scale = *grad_loss / *count;
  const float row_lse = lse[row];
  for (int j = threadIdx.x * kVec; j < l.vocab; j += blockDim.x * kVec) {
    float v[kVec];
    if (ignored) {
#pragma unroll
      for (int i = 0; i < kVec; ++i) v[i] = 0.f;
    } else {
      detail::Load<T, kVec>(x + j, v);
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        const float onehot = j + i == target ? 1.f : 0.f;
        v[i] = (expf(v[i] - row_lse) - onehot) * scale;
      }
    }
    detail::Store<T, kVec>(dx + j, v);
  }
}

template <typename T>
bool CanVectorize(int vocab, const void* logits, const void* dlogits) {
  return vocab % detail::VecWidth<T>() == 0 && detail::IsAligned(logits, 16) &&
         (dlogits == nullptr || detail::IsAligned(dlogits, 16));
}

template <typename T>
cudaError_t Forward(const CrossEntropyLayout& l, const void* logits,
                    const int64_t* targets, float* row_loss, float* lse,
                    float* loss, float* count, cudaStream_t stream) {
  const T* x = static_cast<const T*>(logits);
  if (CanVectorize<T>(l.vocab, logits, nullptr)) {
    CrossEntropyRowKernel<T, detail::VecWidth<T>()>
        <<<l.rows, kRowThreads, 0, stream>>>(x, targets, l, row_loss, lse);
  } else {
    CrossEntropyRowKernel<T, 1>
        <<<l.rows, kRowThreads, 0, stream>>>(x, targets, l, row_loss, lse);
  }
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) return status;
  CrossEntropyMeanKernel<<<1, kMeanThreads, 0, stream>>>(row_loss, targets, l,
                                                         loss, count);
  return cudaGetLastError();
}

template <typename T>
cudaError_t Backward(const CrossEntropyLayout& l, const void* logits,
                     const int64_t* targets, const float* lse,
                     const float* count, const float* grad_loss, void* dlogits,
                     cudaStream_t stream) {
  const T* x = static_cast<const T*>(logits);
  T* dx = static_cast<T*>(dlogits);
  if (CanVectorize<T>(l.vocab, logits, dlogits)) {
    CrossEntropyBackwardKernel<T, detail::VecWidth<T>()>
        <<<l.rows, kRowThreads, 0, stream>>>(x, targets, l, lse, count,
                                             grad_loss, dx);
  } else {
    CrossEntropyBackwardKernel<T, 1><<<l.rows, kRowThreads, 0, stream>>>(
        x, targets, l, lse, count, grad_loss, dx);
  }
  return cudaGetLastError();
}

bool ValidLayout(const CrossEntropyLayout& l) {
  // The grid has one block per row.
  return l.rows >= 0 && l.rows < (int64_t(1) << 31) && l.vocab > 0;
}

}  // namespace

cudaError_t CrossEntropyForward(DType dtype, const CrossEntropyLayout& layout,
                                const void* logits, const int64_t* targets,
                                float* row_loss, float* lse, float* loss,
                                float* count, cudaStream_t stream) {
  if (!ValidLayout(layout)) return cudaErrorInvalidValue;
  if (layout.rows == 0) {
    CrossEntropyMeanKernel<<<1, kMeanThreads, 0, stream>>>(row_loss, targets,
                                                           layout, loss, count);
    return cudaGetLastError();
  }
  return dtype == DType::kBFloat16
             ? Forward<bf16>(layout, logits, targets, row_loss, lse, loss,
                             count, stream)
             : Forward<float>(layout, logits, targets, row_loss, lse, loss,
                              count, stream);
}

cudaError_t CrossEntropyBackward(DType dtype, const CrossEntropyLayout& layout,
                                 const void* logits, const int64_t* targets,
                                 const float* lse, const float* count,
                                 const float* grad_loss, void* dlogits,
                                 cudaStream_t stream) {
  if (!ValidLayout(layout)) return cudaErrorInvalidValue;
  if (layout.rows == 0) return cudaSuccess;
  return dtype == DType::kBFloat16
             ? Backward<bf16>(layout, logits, targets, lse, count, grad_loss,
                              dlogits, stream)
             : Backward<float>(layout, logits, targets, lse, count, grad_loss,
                               dlogits, stream);
}

}  // namespace tinylm::kernels
