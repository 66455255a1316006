#include "models/attend.h"

#include <cmath>
#include <limits>

#include <ATen/ATen.h>
#include <torch/version.h>

namespace tinylm {
namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

// `hooked_layer` >= 0: the pattern hook of that layer sees the weights.
at::Tensor AttendReference(const at::Tensor& q, const at::Tensor& k,
                           const at::Tensor& v, const at::Tensor& g,
                           const AttentionContext& ctx, at::Tensor* probs,
                           int64_t hooked_layer = -1) {
  const double scale = 1.0 / std::sqrt(double(q.size(-1)));
  // 1. Scores [B, H, T, L] in float32: q·kᵀ/√hs + g.
  at::Tensor scores =
      at::matmul(q.to(at::kFloat), k.to(at::kFloat).transpose(-2, -1)) *
      scale;
  if (g.defined()) scores = scores + g.to(at::kFloat);
  // 2. Mask keys a query may not see; softmax over keys.
  scores = scores.masked_fill(ctx.visible.logical_not(), kMinusInfinity);
  // 3. The weights are cast to v's dtype once; that tensor is both what
  //    multiplies v and what the caller sees.
  at::Tensor weights = at::softmax(scores, -1).to(v.scalar_type());
  if (hooked_layer >= 0) {
    weights =
        ctx.hooks->At(HookPoint::kAttentionPattern, hooked_layer, weights);
  }
  if (probs != nullptr) *probs = weights.to(at::kFloat);
  return at::matmul(weights, v);
}

#if TORCH_VERSION_MAJOR >= 2
at::Tensor AttendFused(const at::Tensor& q, const at::Tensor& k,
                       const at::Tensor& v, const at::Tensor& g,
                       const AttentionContext& ctx) {
  if (!g.defined()) {
    return ctx.bias.defined()
               ? at::scaled_dot_product_attention(q, k, v, ctx.bias)
               : at::scaled_dot_product_attention(q, k, v, {}, 0.0,
                                                  /*is_causal=*/true);
  }
  // The mask and g in one additive bias.
  const at::Tensor bias =
      ctx.bias.defined()
          ? g.to(q.scalar_type()) + ctx.bias
          : g.to(q.scalar_type())
                .masked_fill(ctx.visible.logical_not(), kMinusInfinity);
  return at::scaled_dot_product_attention(q, k, v, bias);
}
#endif

}  // namespace

at::Tensor Attend(const at::Tensor& q, const at::Tensor& k,
                  const at::Tensor& v, const at::Tensor& g,
                  const AttentionContext& ctx, at::Tensor* probs) {
#if TORCH_VERSION_MAJOR >= 2
  if (ctx.fused && probs == nullptr) return AttendFused(q, k, v, g, ctx);
#endif
  return AttendReference(q, k, v, g, ctx, probs);
}

at::Tensor AttendHooked(const at::Tensor& q, const at::Tensor& k,
                        const at::Tensor& v, const at::Tensor& g,
                        const AttentionContext& ctx, int64_t layer,
                        at::Tensor* probs) {
  return AttendReference(q, k, v, g, ctx, probs, layer);
}

}  // namespace tinylm
