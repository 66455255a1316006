// What follows the fused q/k/v projection (models/attention.cc, steps 1-2),
// after the matrix product itself (cuBLAS, without bias):
//   u = proj + bias             (optional: qkv_bias)
//   a = gelu(u)                 (optional: qkv_activation; exact erf GELU)
//   q, k = rope(a) per head     (LLaMA rotate-half over the whole head)
//   v = a
// and the split into per-head layouts. Everything between the load of proj
// and the store of q, k, v is float32; RoPE is a * cos + rotate_half(a) *
// sin with the tables of models/rope.h.
//
// Not here: the projection's matrix product, KV-cache writes, RoPE over
// part of a head (rope_n_elem < hs).
#ifndef TINYLM_KERNELS_QKV_POST_H_
#define TINYLM_KERNELS_QKV_POST_H_

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/dtype.h"

namespace tinylm::kernels {

// Largest projection width (H + 2G)·hs whose dbias the backward computes
// (one block's partial sums live in 48 KB of shared memory).
constexpr int64_t kQkvPostMaxBiasWidth = 12288;

struct QkvLayout {
  int64_t batch = 0;       // B
  int64_t tokens = 0;      // T
  int n_head = 0;          // H
  int n_query_groups = 0;  // G (k and v heads)
  int head_size = 0;       // hs, even

  // Width of one projection row: [q (H·hs) | k (G·hs) | v (G·hs)].
  int64_t width() const {
    return int64_t(n_head + 2 * n_query_groups) * head_size;
  }
};

// What the forward applies; the backward needs the same.
struct QkvPostParams {
  const float* bias = nullptr;  // [(H + 2G)·hs] float32, or null: no bias
  bool gelu = false;
  const float* cos = nullptr;  // [block_size, hs] float32 (models/rope.h)
  const float* sin = nullptr;  // [block_size, hs] float32
  int64_t table_rows = 0;      // block_size
  // [B, T] int64 position of each token (each < block_size), or null for
  // 0..T-1 in every row.
  const int64_t* positions = nullptr;
};

// proj: [B, T, (H + 2G)·hs] of `dtype`, contiguous. Writes q: [B, H, T, hs],
// k: [B, G, T, hs], v: [B, G, T, hs], contiguous, of `dtype`.
cudaError_t QkvPostForward(DType dtype, const QkvLayout& layout,
                           const QkvPostParams& params, const void* proj,
                           void* q, void* k, void* v, cudaStream_t stream);

// Bytes of scratch memory QkvPostBackward needs (0 without dbias).
size_t QkvPostBackwardWorkspaceBytes(const QkvLayout& layout, bool dbias);

// dq, dk, dv: gradients of q, k, v (shapes as above, contiguous); proj: the
// forward's input (read only when params.gelu). Writes dproj: [B, T,
// (H + 2G)·hs] and, when not null, dbias: [(H + 2G)·hs] float32 = dproj
// summed over B and T in a fixed order (deterministic).
cudaError_t QkvPostBackward(DType dtype, const QkvLayout& layout,
                            const QkvPostParams& params, const void* dq,
                            const void* dk, const void* dv, const void* proj,
                            void* dproj, float* dbias, void* workspace,
                            cudaStream_t stream);

}  // namespace tinylm::kernels

#endif  // TINYLM_KERNELS_QKV_POST_H_
