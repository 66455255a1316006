#include "models/attention.h"

#include <tuple>

#include <ATen/ATen.h>

#include "models/attend.h"
#include "models/kv_cache.h"
#include "models/rope.h"

namespace tinylm {
namespace {

torch::nn::Linear MakeLinear(int64_t in, int64_t out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

// [B, T, n * hs] -> [B, n, T, hs]
at::Tensor SplitHeads(const at::Tensor& x, int64_t n, int64_t hs) {
  return x.view({x.size(0), x.size(1), n, hs}).transpose(1, 2);
}

}  // namespace

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const ModelConfig& config)
    : config_(config) {
  const int64_t C = config.n_embd, hs = config.head_size();
  const int64_t H = config.n_head, G = config.n_query_groups;
  if (config.separate_qkv) {
    q_ = register_module("q", MakeLinear(C, H * hs, config.qkv_bias));
    k_ = register_module("k", MakeLinear(C, G * hs, config.qkv_bias));
    v_ = register_module("v", MakeLinear(C, G * hs, config.qkv_bias));
  } else {
    qkv_ = register_module("qkv",
                           MakeLinear(C, (H + 2 * G) * hs, config.qkv_bias));
  }
  if (config.score_fcn) {
    score_ = register_module("score",
                             MakeLinear(C, H * config.block_size, true));
  }
  proj_ = register_module("proj", MakeLinear(H * hs, C, false));
}

CausalSelfAttentionImpl::Projections CausalSelfAttentionImpl::Project(
    const at::Tensor& a) {
  const int64_t hs = config_.head_size();
  const int64_t H = config_.n_head, G = config_.n_query_groups;
  auto activate = [&](const at::Tensor& x) {
    return config_.qkv_activation ? at::gelu(x) : x;
  };
  at::Tensor qk_flat, v_flat;  // [B, T, (H + G) * hs], [B, T, G * hs]
  if (config_.separate_qkv) {
    qk_flat = at::cat({activate(q_->forward(a)), activate(k_->forward(a))},
                      -1);
    v_flat = activate(v_->forward(a));
  } else {
    // Layout of the fused output: [q (H·hs) | k (G·hs) | v (G·hs)].
    const at::Tensor qkv = activate(qkv_->forward(a));
    qk_flat = qkv.narrow(-1, 0, (H + G) * hs);
    v_flat = qkv.narrow(-1, (H + G) * hs, G * hs);
  }
  return {SplitHeads(qk_flat, H + G, hs), SplitHeads(v_flat, G, hs)};
}

at::Tensor CausalSelfAttentionImpl::LearnedScore(const at::Tensor& a,
                                                 const AttentionContext& ctx,
                                                 int64_t num_keys) {
  const int64_t B = a.size(0), T = a.size(1), H = config_.n_head;
  // g[b, h, t, j]: additive score of query t for key position j.
  const at::Tensor g = score_->forward(a)
                           .view({B, T, H, config_.block_size})
                           .permute({0, 2, 1, 3});
  if (ctx.keys_are_prefix) return g.narrow(-1, 0, num_keys);
  const at::Tensor index =
      ctx.key_positions.view({B, 1, 1, num_keys}).expand({B, H, T, num_keys});
  return g.gather(-1, index);
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& a,
                                               const AttentionContext& ctx,
                                               int64_t layer,
                                               torch::Tensor* probs) {
#ifdef TINYLM_KERNEL_OPS
  if (ctx.kernels) return ForwardWithKernels(a, ctx);
#endif
  const int64_t B = a.size(0), T = a.size(1);
  const int64_t H = config_.n_head, G = config_.n_query_groups;

  // 1. Project: q and k [B, H + G, T, hs] side by side, v [B, G, T, hs].
  const Projections p = Project(a);
  // 2. Rotate q and k by their absolute positions, in one call over both.
  const at::Tensor qk = ApplyRope(p.qk, ctx.cos, ctx.signed_sin);
  const at::Tensor q = qk.narrow(1, 0, H);
  at::Tensor k = qk.narrow(1, H, G), v = p.v;
  // 3. With a cache, k and v join it and the whole context's come back:
  //    L = kv_length positions; without one, L = T.
  if (ctx.cache != nullptr) {
    std::tie(k, v) = ctx.cache->Update(layer, k, v, ctx.cache_rows);
  }
  const int64_t L = k.size(2);
  // 4. Grouped-query attention: head h reads group h / (H / G).
  if (G != H) {
    k = k.repeat_interleave(H / G, 1);
    v = v.repeat_interleave(H / G, 1);
  }
  // 5. y = softmax(q·kᵀ/√hs + g + mask) · v, y: [B, H, T, hs]. Hook points
  //    (forward_hooks.h): the pattern, then each head's output.
  const at::Tensor g =
      config_.score_fcn ? LearnedScore(a, ctx, L) : at::Tensor();
  const bool hooked_pattern =
      ctx.hooks != nullptr &&
      ctx.hooks->Wants(HookPoint::kAttentionPattern, layer);
  const at::Tensor y =
      Hook(ctx.hooks, HookPoint::kHeadOutputs, layer,
           hooked_pattern ? AttendHooked(q, k, v, g, ctx, layer, probs)
                          : Attend(q, k, v, g, ctx, probs));
  // 6. Merge the heads and project back to C.
  return proj_->forward(y.transpose(1, 2).reshape({B, T, -1}));
}

}  // namespace tinylm
