#include <initializer_list>

#include "kernels/attention_softmax.h"
#include "kernels/common.cuh"

namespace tinylm::kernels {
namespace {

using detail::bf16;
using detail::kWarpSize;

// One row (one query of one head) per warp. Lane l owns the runs of kVec
// keys starting at l·kVec, l·kVec + 32·kVec, ...; only runs holding a
// visible key are read, so the masked upper triangle costs a store of
// zeros and no load.
constexpr int kWarpsPerBlock = 8;

struct Rows {
  int64_t count;  // B·H·T
  int n_head, queries, keys, g_keys;

  // Row r = (b·H + h)·T + i: query i of head h in batch b.
  __device__ int Query(int64_t r) const { return int(r % queries); }
  __device__ int Head(int64_t r) const { return int(r / queries % n_head); }
  __device__ int64_t Batch(int64_t r) const { return r / queries / n_head; }
  // Keys 0 .. Visible(r) - 1 are visible to row r.
  __device__ int Visible(int64_t r) const {
    return min(Query(r) + keys - queries + 1, keys);
  }
  // Row r's slice of g [B, T, H·g_keys].
  __device__ int64_t GOffset(int64_t r) const {
    return ((Batch(r) * queries + Query(r)) * n_head + Head(r)) *
           int64_t(g_keys);
  }
};

// z = scale · s + g for the run of keys j .. j + kVec - 1.
template <typename T, int kVec>
__device__ __forceinline__ void LoadLogits(const T* s_row, const T* g_row,
                                           int j, float scale,
                                           float (&z)[kVec]) {
  detail::Load<T, kVec>(s_row + j, z);
#pragma unroll
  for (int i = 0; i < kVec; ++i) z[i] *= scale;
  if (g_row != nullptr) {
    float extra[kVec];
    detail::Load<T, kVec>(g_row + j, extra);
#pragma unroll
    for (int i = 0; i < kVec; ++i) z[i] += extra[i];
  }
}

// scores and probs may alias: every run is loaded and stored by one lane.
template <typename T, int kVec>
__global__ void __launch_bounds__(kWarpsPerBlock* kWarpSize)
    CausalSoftmaxForwardKernel(const T* scores, const T* __restrict__ g,
                               T* probs, Rows rows, float scale) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t r =
      int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize;
  if (r >= rows.count) return;
  const int visible = rows.Visible(r);
  const T* s_row = scores + r * rows.keys;
  const T* g_row = g ? g + rows.GOffset(r) : nullptr;
  T* p_row = probs + r * rows.keys;

  // 1. Online max and sum of exp(z - max) over the visible keys.
  float max = -INFINITY, sum = 0.f;
  for (int j = lane * kVec; j < visible; j += kWarpSize * kVec) {
    float z[kVec];
    LoadLogits<T, kVec>(s_row, g_row, j, scale, z);
    float run_max = -INFINITY;
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      if (j + i < visible) run_max = fmaxf(run_max, z[i]);
    }
    float run_sum = 0.f;
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      if (j + i < visible) run_sum += expf(z[i] - run_max);
    }
    detail::MergeSoftmaxState(max, sum, run_max, run_sum);
  }
  detail::WarpMergeSoftmaxState(max, sum);

  // 2. p = exp(z - max) / sum where visible, 0 elsewhere.
  for (int j = lane * kVec; j < rows.keys; j += kWarpSize * kVec) {
    float p[kVec];
    if (j < visible) {
      LoadLogits<T, kVec>(s_row, g_row, j, scale, p);
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        p[i] = j + i < visible ? expf(p[i] - max) / sum : 0.f;
      }
    } else {
#pragma unroll
      for (int i = 0; i < kVec; ++i) p[i] = 0.f;
    }
    detail::Store<T, kVec>(p_row + j, p);
  }
}

// dprobs and dscores may alias, as scores and probs above.
template <typename T, int kVec>
__global__ void __launch_bounds__(kWarpsPerBlock* kWarpSize)
    CausalSoftmaxBackwardKernel(const T* __restrict__ probs, const T* dprobs,
                                T* dscores, T* __restrict__ dg, Rows rows,
                                float scale) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t r =
      int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize;
  if (r >= rows.count) return;
  const int visible = rows.Visible(r);
  const T* p_row = probs + r * rows.keys;
  const T* dp_row = dprobs + r * rows.keys;
  T* ds_row = dscores + r * rows.keys;
  T* dg_row = dg ? dg + rows.GOffset(r) : nullptr;

  // 1. dot = Σ_j p · dp over the visible keys (p is 0 elsewhere).
  float dot = 0.f;
  for (int j = lane * kVec; j < visible; j += kWarpSize * kVec) {
    float p[kVec], dp[kVec];
    detail::Load<T, kVec>(p_row + j, p);
    detail::Load<T, kVec>(dp_row + j, dp);
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      if (j + i < visible) dot += p[i] * dp[i];
    }
  }
  dot = detail::WarpSum(dot);

  // 2. ds = p · (dp - dot); dscores = scale · ds, dg = ds; 0 where masked.
  for (int j = lane * kVec; j < rows.keys; j += kWarpSize * kVec) {
    float ds[kVec];
    if (j < visible) {
      float p[kVec];
      detail::Load<T, kVec>(p_row + j, p);
      detail::Load<T, kVec>(dp_row + j, ds);
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        ds[i] = j + i < visible ? p[i] * (ds[i] - dot) : 0.f;
      }
    } else {
#pragma unroll
      for (int i = 0; i < kVec; ++i) ds[i] = 0.f;
    }
    if (dg_row != nullptr) detail::Store<T, kVec>(dg_row + j, ds);
#pragma unroll
    for (int i = 0; i < kVec; ++i) ds[i] *= scale;
    detail::Store<T, kVec>(ds_row + j, ds);
  }

  // 3. g's key columns L .. g_keys - 1 get no gradient.
  if (dg_row != nullptr) {
    float zeros[kVec];
#pragma unroll
    for (int i = 0; i < kVec; ++i) zeros[i] = 0.f;
    for (int j = rows.keys + lane * kVec; j < rows.g_keys;
         j += kWarpSize * kVec) {
      detail::Store<T, kVec>(dg_row + j, zeros);
    }
  }
}

Rows MakeRows(const CausalSoftmaxLayout& l) {
  return Rows{l.batch * l.n_head * l.queries, l.n_head, l.queries, l.keys,
              l.g_keys};
}

bool ValidLayout(const CausalSoftmaxLayout& l, bool with_g) {
  return l.batch >= 0 && l.n_head > 0 && l.queries >= 0 &&
         l.keys >= l.queries && (!with_g || l.g_keys >= l.keys);
}

// 16-byte runs need rows (of L and of g_keys elements) that start aligned.
template <typename T>
bool CanVectorize(const CausalSoftmaxLayout& l, bool with_g,
                  std::initializer_list<const void*> pointers) {
  constexpr int kVec = detail::VecWidth<T>();
  if (l.keys % kVec != 0 || (with_g && l.g_keys % kVec != 0)) return false;
  for (const void* p : pointers) {
    if (p != nullptr && !detail::IsAligned(p, 16)) return false;
  }
  return true;
}

int Blocks(const Rows& rows) {
  return detail::CeilDiv(rows.count, kWarpsPerBlock);
}

template <typename T>
cudaError_t Forward(const CausalSoftmaxLayout& l, float scale,
                    const void* scores, const void* g, void* probs,
                    cudaStream_t stream) {
  const Rows rows = MakeRows(l);
  const T* s = static_cast<const T*>(scores);
  const T* gt = static_cast<const T*>(g);
  T* p = static_cast<T*>(probs);
  constexpr int kThreads = kWarpsPerBlock * kWarpSize;
  if (CanVectorize<T>(l, g != nullptr, {scores, g, probs})) {
    CausalSoftmaxForwardKernel<T, detail::VecWidth<T>()>
        <<<Blocks(rows), kThreads, 0, stream>>>(s, gt, p, rows, scale);
  } else {
    CausalSoftmaxForwardKernel<T, 1>
        <<<Blocks(rows), kThreads, 0, stream>>>(s, gt, p, rows, scale);
  }
  return cudaGetLastError();
}

template <typename T>
cudaError_t Backward(const CausalSoftmaxLayout& l, float scale,
                     const void* probs, const void* dprobs, void* dscores,
                     void* dg, cudaStream_t stream) {
  const Rows rows = MakeRows(l);
  const T* p = static_cast<const T*>(probs);
  const T* dp = static_cast<const T*>(dprobs);
  T* ds = static_cast<T*>(dscores);
  T* dgt = static_cast<T*>(dg);
  constexpr int kThreads = kWarpsPerBlock * kWarpSize;
  if (CanVectorize<T>(l, dg != nullptr, {probs, dprobs, dscores, dg})) {
    CausalSoftmaxBackwardKernel<T, detail::VecWidth<T>()>
        <<<Blocks(rows), kThreads, 0, stream>>>(p, dp, ds, dgt, rows, scale);
  } else {
    CausalSoftmaxBackwardKernel<T, 1>
        <<<Blocks(rows), kThreads, 0, stream>>>(p, dp, ds, dgt, rows, scale);
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t CausalSoftmaxForward(DType dtype, const CausalSoftmaxLayout& layout,
                                 float scale, const void* scores, const void* g,
                                 void* probs, cudaStream_t stream) {
  if (!ValidLayout(layout, g != nullptr)) return cudaErrorInvalidValue;
  if (layout.batch * layout.queries == 0) return cudaSuccess;
  return dtype == DType::kBFloat16
             ? Forward<bf16>(layout, scale, scores, g, probs, stream)
             : Forward<float>(layout, scale, scores, g, probs, stream);
}

cudaError_t CausalSoftmaxBackward(DType dtype,
                                  const CausalSoftmaxLayout& layout,
                                  float scale, const void* probs,
                                  const void* dprobs, void* dscores, void* dg,
                                  cudaStream_t stream) {
  if (!ValidLayout(layout, dg != nullptr)) return cudaErrorInvalidValue;
  if (layout.batch * layout.queries == 0) return cudaSuccess;
  return dtype == DType::kBFloat16
             ? Backward<bf16>(layout, scale, probs, dprobs, dscores, dg, stream)
             : Backward<float>(layout, scale, probs, dprobs, dscores, dg,
                               stream);
}

}  // namespace tinylm::kernels
