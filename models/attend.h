// The core of attention, y = softmax(q·kᵀ/√hs + g + mask) · v, in one of two
// ways:
//   reference  scores in float32, masked softmax, the weights cast once to
//              v's dtype and multiplied with v. Exact attention maps come
//              from here: they are the tensor that multiplied v.
//   fused      LibTorch 2.x's scaled_dot_product_attention, the mask and g
//              riding in as an additive bias; when no maps are asked for.
#ifndef TINYLM_MODELS_ATTEND_H_
#define TINYLM_MODELS_ATTEND_H_

#include <ATen/core/Tensor.h>

#include "models/attention_context.h"

namespace tinylm {

// q: [B, H, T, hs]; k, v: [B, H, L, hs] (groups already expanded to heads);
// g: [B, H, T, L] or undefined (score_fcn's learned term).
// Returns y [B, H, T, hs]. When `probs` is not null the reference path runs
// and *probs receives the weights [B, H, T, L] in float32, exactly zero
// where masked.
at::Tensor Attend(const at::Tensor& q, const at::Tensor& k,
                  const at::Tensor& v, const at::Tensor& g,
                  const AttentionContext& ctx, at::Tensor* probs);

// The reference path with the weights of `layer` passed through ctx.hooks'
// kAttentionPattern point (forward_hooks.h) before they multiply v; *probs
// (when not null) receives the weights the hook returned.
at::Tensor AttendHooked(const at::Tensor& q, const at::Tensor& k,
                        const at::Tensor& v, const at::Tensor& g,
                        const AttentionContext& ctx, int64_t layer,
                        at::Tensor* probs);

}  // namespace tinylm

#endif  // TINYLM_MODELS_ATTEND_H_
