// Helpers shared by the kernels' .cu files, and only by them: storage <->
// float32 conversion, vector loads and stores, warp reductions, and the
// host-side checks that choose a vector width.
//
// Reductions here run in a fixed order (a butterfly across the warp, then
// the warps in index order), so the same inputs always give the same bits.
#ifndef TINYLM_KERNELS_COMMON_CUH_
#define TINYLM_KERNELS_COMMON_CUH_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/dtype.h"

namespace tinylm::kernels::detail {

using bf16 = __nv_bfloat16;

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarpSize = 32;

__device__ __forceinline__ float ToFloat(float x) { return x; }
__device__ __forceinline__ float ToFloat(bf16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T FromFloat(float x);
template <>
__device__ __forceinline__ float FromFloat<float>(float x) {
  return x;
}
// Round to nearest even, as LibTorch's float -> bfloat16 conversion.
template <>
__device__ __forceinline__ bf16 FromFloat<bf16>(float x) {
  return __float2bfloat16_rn(x);
}

// kVec consecutive elements moved in 16-byte accesses (or one narrower
// access when kVec * sizeof(T) < 16). The address must be aligned to
// min(16, kVec * sizeof(T)) bytes; the host checks that before it picks a
// vector width above 1.
template <typename T, int kVec>
struct alignas(kVec * sizeof(T) >= 16 ? 16 : kVec * sizeof(T)) Packed {
  T v[kVec];
};

template <typename T, int kVec>
__device__ __forceinline__ void Load(const T* p, float (&out)[kVec]) {
  const Packed<T, kVec> packed = *reinterpret_cast<const Packed<T, kVec>*>(p);
#pragma unroll
  for (int i = 0; i < kVec; ++i) out[i] = ToFloat(packed.v[i]);
}

template <typename T, int kVec>
__device__ __forceinline__ void Store(T* p, const float (&in)[kVec]) {
  Packed<T, kVec> packed;
#pragma unroll
  for (int i = 0; i < kVec; ++i) packed.v[i] = FromFloat<T>(in[i]);
  *reinterpret_cast<Packed<T, kVec>*>(p) = packed;
}

// Every lane receives the same bits: each butterfly level adds the same two
// partial sums on every lane, only in swapped order, and float addition is
// commutative.
__device__ __forceinline__ float WarpSum(float x) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
    x += __shfl_xor_sync(kFullMask, x, offset);
  }
  return x;
}

__device__ __forceinline__ double WarpSum(double x) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
    x += __shfl_xor_sync(kFullMask, x, offset);
  }
  return x;
}

__device__ __forceinline__ float WarpMax(float x) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
    x = fmaxf(x, __shfl_xor_sync(kFullMask, x, offset));
  }
  return x;
}

// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024);
// every thread receives the result. `scratch` is 32 values of shared
// memory, free again when this returns.
template <typename Acc>
__device__ __forceinline__ Acc BlockSum(Acc x, Acc* scratch) {
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int warps = blockDim.x / kWarpSize;
  x = WarpSum(x);
  if (lane == 0) scratch[warp] = x;
  __syncthreads();
  Acc total = lane < warps ? scratch[lane] : Acc(0);
  total = WarpSum(total);
  __syncthreads();  // scratch may be reused by the caller
  return total;
}

// The running (max, sum of exp(x - max)) of an online softmax, merged with
// another. A side that has seen no element carries max = -inf and sum = 0;
// the guard keeps exp(-inf - (-inf)) from turning the sum into NaN. The
// explicitly rounded products keep the compiler from fusing one of them
// into an FMA, which would make the merge depend on the argument order.
__device__ __forceinline__ void MergeSoftmaxState(float& max, float& sum,
                                                  float other_max,
                                                  float other_sum) {
  const float merged = fmaxf(max, other_max);
  const float scale_self = max == -INFINITY ? 0.f : expf(max - merged);
  const float scale_other =
      other_max == -INFINITY ? 0.f : expf(other_max - merged);
  sum = __fmul_rn(sum, scale_self) + __fmul_rn(other_sum, scale_other);
  max = merged;
}

// Merges the online-softmax state across the warp; every lane receives the
// same result (the merge is commutative).
__device__ __forceinline__ void WarpMergeSoftmaxState(float& max, float& sum) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
    const float other_max = __shfl_xor_sync(kFullMask, max, offset);
    const float other_sum = __shfl_xor_sync(kFullMask, sum, offset);
    MergeSoftmaxState(max, sum, other_max, other_sum);
  }
}

// Host side: whether `p` may be accessed `bytes` at a time.
inline bool IsAligned(const void* p, int bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

// Elements per 16-byte access.
template <typename T>
constexpr int VecWidth() {
  return 16 / sizeof(T);
}

inline int CeilDiv(int64_t a, int64_t b) { return int((a + b - 1) / b); }

}  // namespace tinylm::kernels::detail

#endif  // TINYLM_KERNELS_COMMON_CUH_
