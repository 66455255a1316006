// CausalSelfAttentionImpl::forward on the fused CUDA kernels of kernels/
// (their LibTorch ops), for training passes (AttentionContext::kernels):
// the same math as attention.cc's steps 1-6, in fewer, larger kernels.
// Compiled only with a CUDA LibTorch (models/CMakeLists.txt).
#include <ATen/ATen.h>

#include "kernels/torch/causal_attention_op.h"
#include "kernels/torch/qkv_post_op.h"
#include "models/attention.h"
#include "models/kernel_linear.h"

namespace tinylm {

at::Tensor CausalSelfAttentionImpl::ForwardWithKernels(
    const at::Tensor& a, const AttentionContext& ctx) {
  const int64_t B = a.size(0), T = a.size(1);
  // 1. One product for q, k and v: [B, T, (H + 2G)·hs]. Three separate
  //    linears are the same function as their stacked weights.
  const std::vector<at::Tensor> weights =
      config_.separate_qkv
          ? std::vector<at::Tensor>{q_->weight, k_->weight, v_->weight}
          : std::vector<at::Tensor>{qkv_->weight};
  const at::Tensor bias =
      !config_.qkv_bias ? at::Tensor()
      : config_.separate_qkv ? at::cat({q_->bias, k_->bias, v_->bias})
                             : qkv_->bias;
  const at::Tensor projected =
      KernelLinear(a, weights, at::Tensor(), ctx.weight_copies);
  // 2. Bias, GELU and RoPE in one kernel: q [B, H, T, hs], k, v
  //    [B, G, T, hs].
  const std::vector<at::Tensor> qkv = ops::QkvPost(
      projected, bias, ctx.rope_cos_table, ctx.rope_sin_table, {},
      {config_.n_head, config_.n_query_groups, config_.head_size(),
       config_.qkv_activation});
  // 3. y = softmax(q·kᵀ/√hs + g + causal mask) · v, y: [B, H, T, hs]; the
  //    op reads score_fcn's g [B, T, H·block_size] as it comes.
  const at::Tensor g =
      config_.score_fcn
          ? KernelLinear(a, {score_->weight}, score_->bias, ctx.weight_copies)
          : at::Tensor();
  const at::Tensor y = ops::CausalAttention(qkv[0], qkv[1], qkv[2], g);
  // 4. Merge the heads and project back to C.
  return KernelLinear(y.transpose(1, 2).reshape({B, T, -1}), {proj_->weight},
                      at::Tensor(), ctx.weight_copies);
}

}  // namespace tinylm
