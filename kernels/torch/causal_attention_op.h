// Causal self-attention as "matrix product, fused softmax, matrix product"
// (models/attention.cc, steps 4-6), a differentiable LibTorch op:
//   1. s = q·kᵀ                      (cuBLAS through at::matmul)
//   2. p = softmax(s/√hs + g), causal (kernels/attention_softmax.h), in
//      float32, stored in q's dtype
//   3. y = p·v                       (cuBLAS)
// and the backward through the same three steps (dp = dy·vᵀ, the softmax
// backward kernel, dq = ds·k, dk = dsᵀ·q, dv = pᵀ·dy). Grouped-query
// attention costs no copy: the H/G query heads of a group are consecutive,
// so q is viewed as [B, G, (H/G)·T, hs] against k, v [B, G, L, hs].
//
// Autocast does not apply inside: everything runs in q's dtype (bfloat16
// under training's autocast). CUDA tensors run the kernels; other devices
// run CausalAttentionReference. Not here: dropout, non-causal masks, the
// projections around attention, KV-cache writes.
#ifndef TINYLM_KERNELS_TORCH_CAUSAL_ATTENTION_OP_H_
#define TINYLM_KERNELS_TORCH_CAUSAL_ATTENTION_OP_H_

#include <ATen/core/Tensor.h>

namespace tinylm::ops {

// q: [B, H, T, hs]; k, v: [B, G, L, hs] with L >= T (query i sits at key
// position i + L - T and sees keys 0 .. i + L - T); one dtype, float32 or
// bfloat16. g: the score_fcn term [B, T, H·block_size] (block_size >= L;
// head h, query i, key j is column h·block_size + j), any float dtype, or
// undefined. Returns y [B, H, T, hs] in q's dtype, differentiable in q, k,
// v and g. When `probs` is not null it receives the weights that multiplied
// v, [B, H, T, L] in q's dtype (exactly 0 where masked).
at::Tensor CausalAttention(const at::Tensor& q, const at::Tensor& k,
                           const at::Tensor& v, const at::Tensor& g,
                           at::Tensor* probs = nullptr);

// The same math in LibTorch ops, scores and softmax in float32 (float64 for
// float64 inputs), weights cast to v's dtype before p·v.
at::Tensor CausalAttentionReference(const at::Tensor& q, const at::Tensor& k,
                                    const at::Tensor& v, const at::Tensor& g,
                                    at::Tensor* probs = nullptr);

// The softmax kernels alone on caller-owned outputs, no autograd.
// scores, probs, dprobs, dscores: [B, H, T, L] contiguous, one dtype;
// g, dg: [B, T, H·block_size] in that dtype or undefined. probs may be
// scores and dscores may be dprobs (in place).
void CausalSoftmaxForwardOut(const at::Tensor& scores, const at::Tensor& g,
                             double scale, at::Tensor& probs);
void CausalSoftmaxBackwardOut(const at::Tensor& probs, const at::Tensor& dprobs,
                              double scale, at::Tensor& dscores,
                              at::Tensor& dg);

}  // namespace tinylm::ops

#endif  // TINYLM_KERNELS_TORCH_CAUSAL_ATTENTION_OP_H_
