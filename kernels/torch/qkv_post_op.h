// The step between the fused q/k/v projection and attention
// (models/attention.cc, Project) as a differentiable LibTorch op on the CUDA
// kernels of kernels/qkv_post.h: bias add, exact GELU, RoPE on the q and k
// heads, and the split into per-head layouts, all in float32 between one
// load and one store. CUDA tensors run the kernels; other devices run
// QkvPostReference.
//
// Not here: the projection's matrix product (do it without bias, e.g.
// at::matmul(a, weight.t())), KV-cache writes, grouped-query expansion.
#ifndef TINYLM_KERNELS_TORCH_QKV_POST_OP_H_
#define TINYLM_KERNELS_TORCH_QKV_POST_OP_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace tinylm::ops {

struct QkvPostConfig {
  int64_t n_head = 0;          // H
  int64_t n_query_groups = 0;  // G
  int64_t head_size = 0;       // hs
  bool gelu = false;           // qkv_activation
};

// proj: [B, T, (H + 2G)·hs] float32 or bfloat16, laid out
//   [q (H·hs) | k (G·hs) | v (G·hs)] (the fused linear without its bias);
// bias: [(H + 2G)·hs] (any float dtype) or undefined;
// cos, sin: [block_size, hs] float32, the tables of models/rope.h;
// positions: [B, T] int64 (each < block_size) or undefined for 0..T-1.
// Returns {q [B, H, T, hs], k [B, G, T, hs], v [B, G, T, hs]}, contiguous,
// in proj's dtype; differentiable in proj and bias.
std::vector<at::Tensor> QkvPost(const at::Tensor& proj, const at::Tensor& bias,
                                const at::Tensor& cos, const at::Tensor& sin,
                                const at::Tensor& positions,
                                const QkvPostConfig& config);

// The same math in LibTorch ops (autograd through them), float32 inside
// (float64 for float64 proj), rounded once at the end.
std::vector<at::Tensor> QkvPostReference(const at::Tensor& proj,
                                         const at::Tensor& bias,
                                         const at::Tensor& cos,
                                         const at::Tensor& sin,
                                         const at::Tensor& positions,
                                         const QkvPostConfig& config);

// The kernels on caller-owned outputs, no autograd. Shapes as above, all
// contiguous; bias float32 or undefined; dbias float32 [(H + 2G)·hs] or
// undefined (not computed).
void QkvPostForwardOut(const at::Tensor& proj, const at::Tensor& bias,
                       const at::Tensor& cos, const at::Tensor& sin,
                       const at::Tensor& positions, const QkvPostConfig& config,
                       at::Tensor& q, at::Tensor& k, at::Tensor& v);
void QkvPostBackwardOut(const at::Tensor& dq, const at::Tensor& dk,
                        const at::Tensor& dv, const at::Tensor& proj,
                        const at::Tensor& bias, const at::Tensor& cos,
                        const at::Tensor& sin, const at::Tensor& positions,
                        const QkvPostConfig& config, at::Tensor& dproj,
                        at::Tensor& dbias);

}  // namespace tinylm::ops

#endif  // TINYLM_KERNELS_TORCH_QKV_POST_OP_H_
