#include <algorithm>
#include <initializer_list>

#include "kernels/column_sums.h"
#include "kernels/common.cuh"
#include "kernels/qkv_post.h"

namespace tinylm::kernels {
namespace {

using detail::bf16;

constexpr int kForwardThreads = 256;
constexpr int kMaxForwardBlocks = 1 << 16;
// Fixed (not derived from the device) so that dbias's bits depend only on
// the shape.
constexpr int kMaxBackwardBlocks = 1024;
constexpr int kMaxBackwardThreads = 256;

// A work item is one (token row, head, run of kVec rotation pairs): the
// elements d .. d + kVec - 1 of the head's first half and their partners
// d + hs/2 .. in the second half, which RoPE mixes.
struct Geometry {
  int64_t rows;    // B·T
  int64_t tokens;  // T
  int n_head, n_query_groups, head_size, half;
  int heads;      // H + 2G
  int pair_vecs;  // half / kVec
  int64_t width;  // (H + 2G)·hs
};

// Exact (erf) GELU and its derivative, as at::gelu(approximate="none").
__device__ __forceinline__ float Gelu(float x) {
  return 0.5f * x * (1.f + erff(x * float(M_SQRT1_2)));
}
__device__ __forceinline__ float GeluGrad(float x) {
  const float cdf = 0.5f * (1.f + erff(x * float(M_SQRT1_2)));
  const float pdf = expf(-0.5f * x * x) * float(M_2_SQRTPI * M_SQRT1_2 * 0.5);
  return cdf + x * pdf;
}

// Where head `head` of token row `row` lives in q [B, H, T, hs],
// k [B, G, T, hs] or v [B, G, T, hs]: returns the tensor and the offset.
template <typename Ptr>
__device__ __forceinline__ Ptr HeadRow(const Geometry& g, int64_t row, int head,
                                       Ptr q, Ptr k, Ptr v) {
  const int64_t b = row / g.tokens, t = row % g.tokens;
  const int G = g.n_query_groups;
  if (head < g.n_head) {
    return q + ((b * g.n_head + head) * g.tokens + t) * g.head_size;
  }
  if (head < g.n_head + G) {
    return k + ((b * G + head - g.n_head) * g.tokens + t) * g.head_size;
  }
  return v + ((b * G + head - g.n_head - G) * g.tokens + t) * g.head_size;
}

// The position of token row `row` (b·T + t). A position outside the tables
// comes from the caller's data, not from us: the kernels then write NaN
// rather than read past the tables.
__device__ __forceinline__ int64_t TokenPosition(const QkvPostParams& p,
                                                 const Geometry& g,
                                                 int64_t row) {
  return p.positions ? p.positions[row] : row % g.tokens;
}

// The RoPE table entries of `row`'s position for the columns d.. of both
// halves of a head; false (the tables left unset) when the position is
// outside the tables.
template <int kVec>
__device__ __forceinline__ bool LoadRope(const QkvPostParams& p,
                                         const Geometry& g, int64_t row, int d,
                                         float (&c_lo)[kVec],
                                         float (&c_hi)[kVec],
                                         float (&s_lo)[kVec],
                                         float (&s_hi)[kVec]) {
  const int64_t pos = TokenPosition(p, g, row);
  if (pos < 0 || pos >= p.table_rows) return false;
  const float* cos_row = p.cos + pos * g.head_size + d;
  const float* sin_row = p.sin + pos * g.head_size + d;
  detail::Load<float, kVec>(cos_row, c_lo);
  detail::Load<float, kVec>(cos_row + g.half, c_hi);
  detail::Load<float, kVec>(sin_row, s_lo);
  detail::Load<float, kVec>(sin_row + g.half, s_hi);
  return true;
}

template <int kVec>
__device__ __forceinline__ void LoadBiasedInput(const QkvPostParams& p,
                                                int64_t col, float (&lo)[kVec],
                                                float (&hi)[kVec], int half) {
  if (p.bias == nullptr) return;
  float b_lo[kVec], b_hi[kVec];
  detail::Load<float, kVec>(p.bias + col, b_lo);
  detail::Load<float, kVec>(p.bias + col + half, b_hi);
#pragma unroll
  for (int i = 0; i < kVec; ++i) {
    lo[i] += b_lo[i];
    hi[i] += b_hi[i];
  }
}

template <typename T, int kVec>
__global__ void __launch_bounds__(kForwardThreads)
    QkvPostForwardKernel(const T* __restrict__ proj, QkvPostParams p,
                         Geometry g, T* __restrict__ q, T* __restrict__ k,
                         T* __restrict__ v) {
  const int64_t items = g.rows * g.heads * g.pair_vecs;
  for (int64_t item = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
       item < items; item += int64_t(gridDim.x) * blockDim.x) {
    const int d = int(item % g.pair_vecs) * kVec;
    const int64_t head_row = item / g.pair_vecs;
    const int head = int(head_row % g.heads);
    const int64_t row = head_row / g.heads;
    const int64_t col = int64_t(head) * g.head_size + d;

    // 1. u = proj + bias; a = gelu(u).
    float lo[kVec], hi[kVec];
    detail::Load<T, kVec>(proj + row * g.width + col, lo);
    detail::Load<T, kVec>(proj + row * g.width + col + g.half, hi);
    LoadBiasedInput<kVec>(p, col, lo, hi, g.half);
    if (p.gelu) {
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        lo[i] = Gelu(lo[i]);
        hi[i] = Gelu(hi[i]);
      }
    }

    // 2. q and k heads: [lo, hi] -> [lo·cos - hi·sin, hi·cos + lo·sin].
    if (head < g.n_head + g.n_query_groups) {
      float c_lo[kVec], c_hi[kVec], s_lo[kVec], s_hi[kVec];
      if (!LoadRope<kVec>(p, g, row, d, c_lo, c_hi, s_lo, s_hi)) {
#pragma unroll
        for (int i = 0; i < kVec; ++i) lo[i] = hi[i] = NAN;
      } else {
#pragma unroll
        for (int i = 0; i < kVec; ++i) {
          const float a_lo = lo[i], a_hi = hi[i];
          lo[i] = a_lo * c_lo[i] - a_hi * s_lo[i];
          hi[i] = a_hi * c_hi[i] + a_lo * s_hi[i];
        }
      }
    }

    // 3. Into the head's row of q, k or v.
    T* out = HeadRow(g, row, head, q, k, v) + d;
    detail::Store<T, kVec>(out, lo);
    detail::Store<T, kVec>(out + g.half, hi);
  }
}

// One token row at a time per block (grid-stride over rows); within a row,
// thread j always takes items j, j + blockDim.x, ..., so each thread owns
// the same dbias columns in every row and sums them in shared memory
// without races.
template <typename T, int kVec>
__global__ void __launch_bounds__(kMaxBackwardThreads)
    QkvPostBackwardKernel(const T* __restrict__ dq, const T* __restrict__ dk,
                          const T* __restrict__ dv, const T* __restrict__ proj,
                          QkvPostParams p, Geometry g, T* __restrict__ dproj,
                          float* __restrict__ partials) {
  extern __shared__ float block_dbias[];  // [width] when partials
  if (partials != nullptr) {
    for (int64_t c = threadIdx.x; c < g.width; c += blockDim.x) {
      block_dbias[c] = 0.f;
    }
    __syncthreads();
  }
  const int items_per_row = g.heads * g.pair_vecs;
  for (int64_t row = blockIdx.x; row < g.rows; row += gridDim.x) {
    for (int item = threadIdx.x; item < items_per_row; item += blockDim.x) {
      const int d = (item % g.pair_vecs) * kVec;
      const int head = item / g.pair_vecs;
      const int64_t col = int64_t(head) * g.head_size + d;
      const T* grad = HeadRow(g, row, head, dq, dk, dv) + d;
      float lo[kVec], hi[kVec];
      detail::Load<T, kVec>(grad, lo);
      detail::Load<T, kVec>(grad + g.half, hi);

      // 1. Through RoPE (its transpose): da_lo = g_lo·cos_lo + g_hi·sin_hi,
      //    da_hi = g_hi·cos_hi - g_lo·sin_lo.
      if (head < g.n_head + g.n_query_groups) {
        float c_lo[kVec], c_hi[kVec], s_lo[kVec], s_hi[kVec];
        if (!LoadRope<kVec>(p, g, row, d, c_lo, c_hi, s_lo, s_hi)) {
#pragma unroll
          for (int i = 0; i < kVec; ++i) lo[i] = hi[i] = NAN;
        } else {
#pragma unroll
          for (int i = 0; i < kVec; ++i) {
            const float g_lo = lo[i], g_hi = hi[i];
            lo[i] = g_lo * c_lo[i] + g_hi * s_hi[i];
            hi[i] = g_hi * c_hi[i] - g_lo * s_lo[i];
          }
        }
      }

      // 2. Through GELU at u = proj + bias, recomputed.
      if (p.gelu) {
        float u_lo[kVec], u_hi[kVec];
        detail::Load<T, kVec>(proj + row * g.width + col, u_lo);
        detail::Load<T, kVec>(proj + row * g.width + col + g.half, u_hi);
        LoadBiasedInput<kVec>(p, col, u_lo, u_hi, g.half);
#pragma unroll
        for (int i = 0; i < kVec; ++i) {
          lo[i] *= GeluGrad(u_lo[i]);
          hi[i] *= GeluGrad(u_hi[i]);
        }
      }

      // 3. dproj, and this block's share of dbias.
      detail::Store<T, kVec>(dproj + row * g.width + col, lo);
      detail::Store<T, kVec>(dproj + row * g.width + col + g.half, hi);
      if (partials != nullptr) {
        float acc_lo[kVec], acc_hi[kVec];
        detail::Load<float, kVec>(block_dbias + col, acc_lo);
        detail::Load<float, kVec>(block_dbias + col + g.half, acc_hi);
#pragma unroll
        for (int i = 0; i < kVec; ++i) {
          acc_lo[i] += lo[i];
          acc_hi[i] += hi[i];
        }
        detail::Store<float, kVec>(block_dbias + col, acc_lo);
        detail::Store<float, kVec>(block_dbias + col + g.half, acc_hi);
      }
    }
  }
  if (partials != nullptr) {
    __syncthreads();
    for (int64_t c = threadIdx.x; c < g.width; c += blockDim.x) {
      partials[blockIdx.x * g.width + c] = block_dbias[c];
    }
  }
}

Geometry MakeGeometry(const QkvLayout& l, int vec) {
  Geometry g;
  g.rows = l.batch * l.tokens;
  g.tokens = l.tokens;
  g.n_head = l.n_head;
  g.n_query_groups = l.n_query_groups;
  g.head_size = l.head_size;
  g.half = l.head_size / 2;
  g.heads = l.n_head + 2 * l.n_query_groups;
  g.pair_vecs = g.half / vec;
  g.width = l.width();
  return g;
}

int BackwardBlocks(const QkvLayout& l) {
  return int(std::min<int64_t>(kMaxBackwardBlocks, l.batch * l.tokens));
}

bool ValidLayout(const QkvLayout& l) {
  return l.batch >= 0 && l.tokens >= 0 && l.n_head > 0 &&
         l.n_query_groups > 0 && l.head_size > 0 && l.head_size % 2 == 0;
}

template <typename T>
bool CanVectorize(const QkvLayout& l, const QkvPostParams& p,
                  std::initializer_list<const void*> pointers) {
  if ((l.head_size / 2) % detail::VecWidth<T>() != 0) return false;
  for (const void* ptr : pointers) {
    if (ptr != nullptr && !detail::IsAligned(ptr, 16)) return false;
  }
  return detail::IsAligned(p.cos, 16) && detail::IsAligned(p.sin, 16) &&
         (p.bias == nullptr || detail::IsAligned(p.bias, 16));
}

template <typename T, int kVec>
cudaError_t LaunchForward(const QkvLayout& l, const QkvPostParams& p,
                          const void* proj, void* q, void* k, void* v,
                          cudaStream_t stream) {
  const Geometry g = MakeGeometry(l, kVec);
  const int64_t items = g.rows * g.heads * g.pair_vecs;
  const int blocks = int(std::min<int64_t>(
      kMaxForwardBlocks, detail::CeilDiv(items, kForwardThreads)));
  QkvPostForwardKernel<T, kVec><<<blocks, kForwardThreads, 0, stream>>>(
      static_cast<const T*>(proj), p, g, static_cast<T*>(q), static_cast<T*>(k),
      static_cast<T*>(v));
  return cudaGetLastError();
}

template <typename T, int kVec>
cudaError_t LaunchBackward(const QkvLayout& l, const QkvPostParams& p,
                           const void* dq, const void* dk, const void* dv,
                           const void* proj, void* dproj, float* dbias,
                           void* workspace, cudaStream_t stream) {
  const Geometry g = MakeGeometry(l, kVec);
  const int items_per_row = g.heads * g.pair_vecs;
  const int threads =
      std::min(kMaxBackwardThreads, (items_per_row + detail::kWarpSize - 1) /
                                        detail::kWarpSize * detail::kWarpSize);
  const int blocks = BackwardBlocks(l);
  float* partials = dbias ? static_cast<float*>(workspace) : nullptr;
  const size_t shared = dbias ? g.width * sizeof(float) : 0;
  QkvPostBackwardKernel<T, kVec><<<blocks, threads, shared, stream>>>(
      static_cast<const T*>(dq), static_cast<const T*>(dk),
      static_cast<const T*>(dv), static_cast<const T*>(proj), p, g,
      static_cast<T*>(dproj), partials);
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess || dbias == nullptr) return status;
  return detail::SumColumns(partials, blocks, int(g.width), dbias, stream);
}

template <typename T>
cudaError_t Forward(const QkvLayout& l, const QkvPostParams& p,
                    const void* proj, void* q, void* k, void* v,
                    cudaStream_t stream) {
  return CanVectorize<T>(l, p, {proj, q, k, v})
             ? LaunchForward<T, detail::VecWidth<T>()>(l, p, proj, q, k, v,
                                                       stream)
             : LaunchForward<T, 1>(l, p, proj, q, k, v, stream);
}

template <typename T>
cudaError_t Backward(const QkvLayout& l, const QkvPostParams& p, const void* dq,
                     const void* dk, const void* dv, const void* proj,
                     void* dproj, float* dbias, void* workspace,
                     cudaStream_t stream) {
  return CanVectorize<T>(l, p, {dq, dk, dv, p.gelu ? proj : nullptr, dproj})
             ? LaunchBackward<T, detail::VecWidth<T>()>(
                   l, p, dq, dk, dv, proj, dproj, dbias, workspace, stream)
             : LaunchBackward<T, 1>(l, p, dq, dk, dv, proj, dproj, dbias,
                                    workspace, stream);
}

}  // namespace

cudaError_t QkvPostForward(DType dtype, const QkvLayout& layout,
                           const QkvPostParams& params, const void* proj,
                           void* q, void* k, void* v, cudaStream_t stream) {
  if (!ValidLayout(layout)) return cudaErrorInvalidValue;
  if (layout.batch * layout.tokens == 0) return cudaSuccess;
  return dtype == DType::kBFloat16
             ? Forward<bf16>(layout, params, proj, q, k, v, stream)
             : Forward<float>(layout, params, proj, q, k, v, stream);
}

size_t QkvPostBackwardWorkspaceBytes(const QkvLayout& layout, bool dbias) {
  if (!dbias || !ValidLayout(layout)) return 0;
  return size_t(BackwardBlocks(layout)) * layout.width() * sizeof(float);
}

cudaError_t QkvPostBackward(DType dtype, const QkvLayout& layout,
                            const QkvPostParams& params, const void* dq,
                            const void* dk, const void* dv, const void* proj,
                            void* dproj, float* dbias, void* workspace,
                            cudaStream_t stream) {
  if (!ValidLayout(layout)) return cudaErrorInvalidValue;
  if (dbias != nullptr && layout.width() > kQkvPostMaxBiasWidth) {
    return cudaErrorInvalidValue;
  }
  if (layout.batch * layout.tokens == 0) {
    return dbias ? cudaMemsetAsync(dbias, 0, layout.width() * sizeof(float),
                                   stream)
                 : cudaSuccess;
  }
  return dtype == DType::kBFloat16
             ? Backward<bf16>(layout, params, dq, dk, dv, proj, dproj, dbias,
                              workspace, stream)
             : Backward<float>(layout, params, dq, dk, dv, proj, dproj, dbias,
                               workspace, stream);
}

}  // namespace tinylm::kernels
