#include "models/attention.h"

#include <cmath>
#include <limits>

#include <ATen/ATen.h>
#include <torch/version.h>

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

// Writes k or v of the new tokens ([B, G, T, hs]) into the cache rows and
// returns keys 0..L-1 of those rows as [B, G, L, hs].
at::Tensor WriteAndReadCache(at::Tensor& storage, const at::Tensor& fresh,
                             const AttentionContext& ctx) {
  const int64_t B = fresh.size(0), T = fresh.size(2);
  storage.index_put_({ctx.slot_rows.expand({B, T}), ctx.positions},
                     fresh.transpose(1, 2));
  at::Tensor rows = ctx.slot_begin >= 0
                        ? storage.narrow(0, ctx.slot_begin, B)
                        : storage.index_select(0, ctx.slot_rows.view({B}));
  return rows.narrow(1, 0, ctx.kv_length).transpose(1, 2);
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

void CausalSelfAttentionImpl::Project(const torch::Tensor& a,
                                      const AttentionContext& ctx,
                                      torch::Tensor& q, torch::Tensor& k,
                                      torch::Tensor& v) {
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
  // q and k heads side by side, rotated together: [B, H + G, T, hs].
  const at::Tensor qk =
      ApplyRope(SplitHeads(qk_flat, H + G, hs), ctx.cos, ctx.signed_sin);
  q = qk.narrow(1, 0, H);
  k = qk.narrow(1, H, G);
  v = SplitHeads(v_flat, G, hs);
}

torch::Tensor CausalSelfAttentionImpl::ExtraScore(
    const torch::Tensor& a, const AttentionContext& ctx, int64_t num_keys) {
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
                                               const torch::Tensor& residual,
                                               const AttentionContext& ctx,
                                               int64_t layer,
                                               torch::Tensor* probs) {
  const int64_t B = a.size(0), T = a.size(1);
  const int64_t H = config_.n_head, G = config_.n_query_groups;
  const int64_t hs = config_.head_size();

  // 1, 2. Project to q [B, H, T, hs] and k, v [B, G, T, hs]; rotate q and k
  //       by their absolute positions.
  at::Tensor q, k, v;
  Project(a, ctx, q, k, v);

  // 3. With a cache, keys and values come from it: L = kv_length positions.
  if (ctx.cache != nullptr) {
    k = WriteAndReadCache(ctx.cache->keys(layer), k, ctx);
    v = WriteAndReadCache(ctx.cache->values(layer), v, ctx);
  }
  const int64_t L = k.size(2);

  // 4. Grouped-query attention: head h reads group h / (H / G).
  if (G != H) {
    k = k.repeat_interleave(H / G, 1);
    v = v.repeat_interleave(H / G, 1);
  }

  at::Tensor extra;  // [B, H, T, L] score_fcn term
  if (config_.score_fcn) extra = ExtraScore(a, ctx, L);

  at::Tensor y;  // [B, H, T, hs]
#if TORCH_VERSION_MAJOR >= 2
  if (ctx.fused && probs == nullptr) {
    // One fused kernel; the mask and score_fcn's term ride in as a bias.
    at::Tensor bias = ctx.bias;
    if (extra.defined()) {
      bias = bias.defined()
                 ? extra.to(q.scalar_type()) + bias
                 : extra.to(q.scalar_type())
                       .masked_fill(ctx.visible.logical_not(),
                                    -std::numeric_limits<float>::infinity());
    }
    y = bias.defined()
            ? at::scaled_dot_product_attention(q, k, v, bias)
            : at::scaled_dot_product_attention(q, k, v, {}, 0.0,
                                               /*is_causal=*/true);
  }
#endif
  if (!y.defined()) {
    // 5. Scores in float32: q·kᵀ/√hs (+ g), masked, softmax over keys.
    at::Tensor scores =
        at::matmul(q.to(at::kFloat), k.to(at::kFloat).transpose(-2, -1)) /
        std::sqrt(double(hs));
    if (extra.defined()) scores = scores + extra.to(at::kFloat);
    scores = scores.masked_fill(ctx.visible.logical_not(),
                                -std::numeric_limits<float>::infinity());
    // 6. The weights are cast to v's dtype once; that tensor is both what
    //    multiplies v and what the caller sees.
    const at::Tensor weights = at::softmax(scores, -1).to(v.scalar_type());
    if (probs != nullptr) *probs = weights.to(at::kFloat);
    y = at::matmul(weights, v);
  }

  // 7. Merge heads, project back to C and add the residual, in one product.
  const int64_t C = residual.size(-1);
  const at::Tensor merged = y.transpose(1, 2).reshape({B * T, H * hs});
  return at::addmm(residual.reshape({B * T, C}), merged,
                   proj_->weight.t())
      .view({B, T, C});
}

}  // namespace tinylm
