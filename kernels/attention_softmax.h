// The softmax between attention's two matrix products (models/attention.cc,
// steps 5-6), for "GEMM, this kernel, GEMM" attention:
//   z[i, j] = scale · s[i, j] + g[i, j]     (g: the optional score_fcn term)
//   p[i, j] = softmax_j(z[i, j]) over the visible keys j <= i + (L - T),
//             0 for the others
// in float32 from scores s = q·kᵀ of the storage type, writing p in that
// type (bfloat16 under autocast, as the reference casts the weights to v's
// dtype before p·v). And its backward:
//   ds[i, j] = p[i, j] · (dp[i, j] - Σ_j' p[i, j'] · dp[i, j'])
//   dscores  = scale · ds   (for dq = dscores·k and dk = dscoresᵀ·q)
//   dg       = ds           (0 where masked and for key columns >= L)
//
// Rows of length L up to a few thousand; one warp per row. Not here: the
// matrix products, dropout, masks other than causal-with-offset.
#ifndef TINYLM_KERNELS_ATTENTION_SOFTMAX_H_
#define TINYLM_KERNELS_ATTENTION_SOFTMAX_H_

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/dtype.h"

namespace tinylm::kernels {

struct CausalSoftmaxLayout {
  int64_t batch = 0;  // B
  int n_head = 0;     // H
  int queries = 0;    // T: query positions, the last T of the L keys
  int keys = 0;       // L >= T
  // Columns per head in the score_fcn term g [B, T, H · g_keys]: query i of
  // head h, key j is column h · g_keys + j (g_keys = block_size >= L).
  int g_keys = 0;
};

// scores, probs: [B, H, T, L] of `dtype`, contiguous; probs may be scores
// itself (in place). g: [B, T, H · g_keys] of `dtype`, or null.
cudaError_t CausalSoftmaxForward(DType dtype, const CausalSoftmaxLayout& layout,
                                 float scale, const void* scores, const void* g,
                                 void* probs, cudaStream_t stream);

// probs: the forward's output; dprobs: its gradient (both [B, H, T, L]).
// Writes dscores [B, H, T, L] (may be dprobs itself, in place) and, when
// not null, dg [B, T, H · g_keys], every element of it.
cudaError_t CausalSoftmaxBackward(DType dtype,
                                  const CausalSoftmaxLayout& layout,
                                  float scale, const void* probs,
                                  const void* dprobs, void* dscores, void* dg,
                                  cudaStream_t stream);

}  // namespace tinylm::kernels

#endif  // TINYLM_KERNELS_ATTENTION_SOFTMAX_H_
