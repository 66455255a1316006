// AttentionContext: what every layer's attention shares within one forward
// pass, built once from the ForwardInput (forward.h): the RoPE rows of the
// tokens' positions, which keys each query sees, and where the KV cache
// rows are.
#ifndef TINYLM_MODELS_ATTENTION_CONTEXT_H_
#define TINYLM_MODELS_ATTENTION_CONTEXT_H_

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include "models/forward.h"
#include "models/forward_hooks.h"
#include "models/kv_cache.h"

namespace tinylm {

struct AttentionContext {
  at::Tensor cos, signed_sin;  // [B, 1, T, hs] RoPE rows (rope.h)
  at::Tensor visible;          // [B, 1, T, L] bool: key j visible to query t
  at::Tensor key_positions;    // [B, L] absolute key positions (score_fcn)
  bool keys_are_prefix = true;  // key positions are 0..L-1 for every row

  // With a cache, keys and values of the new tokens are written there and
  // attention reads keys 0..L-1 of the rows' slots.
  KvCache* cache = nullptr;
  CacheRows cache_rows;

  // LibTorch 2.x: fused scaled_dot_product_attention when no weights are
  // requested. `bias` [B, 1, T, L] in the compute dtype is 0 where visible
  // and -inf elsewhere; undefined when plain causal masking (T == L, no
  // cache) is all that is needed.
  bool fused = false;
  at::Tensor bias;

  // The fused CUDA kernels of kernels/ run this pass (ForwardInput::kernels
  // where they can serve it). They take the model's whole RoPE tables
  // [block_size, hs], not the rows above, which stay undefined.
  bool kernels = false;
  at::Tensor rope_cos_table, rope_sin_table;
  // ForwardInput::weight_copies of a kernel pass, or null.
  const WeightCopies* weight_copies = nullptr;
  // The forward's inspection hooks (ForwardInput::hooks), or null.
  ForwardHooks* hooks = nullptr;
};

// rope_cos, rope_sin: the model's tables [block_size, hs] (rope.h);
// `dtype` is the compute dtype of the attention bias.
AttentionContext MakeAttentionContext(const ForwardInput& input,
                                      const at::Tensor& rope_cos,
                                      const at::Tensor& rope_sin,
                                      c10::ScalarType dtype);

}  // namespace tinylm

#endif  // TINYLM_MODELS_ATTENTION_CONTEXT_H_
