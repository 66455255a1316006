#include "models/attention_context.h"

#include <limits>

#include <ATen/ATen.h>
#include <torch/version.h>

#include "models/rope.h"

namespace tinylm {
namespace {

// The cache rows of the input: one upload of the slots per forward, shared
// by every layer's cache write.
CacheRows RowsOf(const ForwardInput& input, const at::Tensor& positions) {
  const int64_t B = input.tokens.size(0);
  CacheRows rows;
  rows.slots = input.slot_rows.defined()
                   ? input.slot_rows.view({B, 1})
                   : at::tensor(input.slots, at::kLong)
                         .to(input.tokens.device())
                         .view({B, 1});
  rows.positions = positions;
  rows.kv_length = input.kv_length;
  bool consecutive = !input.slots.empty();
  for (size_t i = 1; i < input.slots.size(); ++i) {
    consecutive &= input.slots[i] == input.slots[0] + int64_t(i);
  }
  rows.slot_begin = consecutive ? input.slots[0] : -1;
  return rows;
}

}  // namespace

AttentionContext MakeAttentionContext(const ForwardInput& input,
                                      const at::Tensor& rope_cos,
                                      const at::Tensor& rope_sin,
                                      c10::ScalarType dtype) {
  AttentionContext ctx;
  ctx.hooks = input.hooks;
#ifdef TINYLM_KERNEL_OPS
  // The kernels mask by position and rotate from the whole tables: none of
  // the per-token tensors below is needed. Inspection hooks read and change
  // the reference path's tensors.
  ctx.kernels = input.kernels && !input.return_attention &&
                input.cache == nullptr && !input.positions.defined() &&
                input.hooks == nullptr && input.tokens.is_cuda();
  if (ctx.kernels) {
    ctx.fused = true;
    ctx.rope_cos_table = rope_cos;
    ctx.rope_sin_table = rope_sin;
    ctx.weight_copies = input.weight_copies;
    return ctx;
  }
#endif
  const int64_t B = input.tokens.size(0), T = input.tokens.size(1);
  const auto long_options =
      at::TensorOptions().dtype(at::kLong).device(input.tokens.device());
  const at::Tensor positions =
      input.positions.defined()
          ? input.positions
          : at::arange(T, long_options).unsqueeze(0).expand({B, T});

  ctx.cos = rope_cos.index_select(0, positions.reshape({-1}))
                .view({B, 1, T, -1});
  ctx.signed_sin = SignedSin(rope_sin.index_select(0, positions.reshape({-1}))
                                 .view({B, 1, T, -1}));
  if (input.cache != nullptr) {
    // Cached keys sit at positions 0..L-1 of every slot.
    ctx.cache = input.cache;
    ctx.cache_rows = RowsOf(input, positions);
    ctx.key_positions = at::arange(input.kv_length, long_options)
                            .unsqueeze(0)
                            .expand({B, input.kv_length});
    ctx.keys_are_prefix = true;
  } else {
    ctx.key_positions = positions;
    ctx.keys_are_prefix = !input.positions.defined();
  }
  // visible[b, 0, t, j]: key j is at or before query t.
  ctx.visible = (ctx.key_positions.unsqueeze(1) <= positions.unsqueeze(2))
                    .unsqueeze(1);
#if TORCH_VERSION_MAJOR >= 2
  ctx.fused = input.fused_attention;
  const bool plain_causal =
      input.cache == nullptr && !input.positions.defined();
  if (ctx.fused && !plain_causal) {
    ctx.bias = at::zeros(ctx.visible.sizes(),
                         input.tokens.options().dtype(dtype))
                   .masked_fill_(ctx.visible.logical_not(),
                                 -std::numeric_limits<float>::infinity());
  }
#endif
  return ctx;
}

}  // namespace tinylm
