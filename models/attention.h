// Causal self-attention with the four study variants (SPEC §2):
//   base          fused Linear(C, (H + 2G)·hs), no bias, split into q, k, v
//   qkv_gelu      the fused linear has a bias and GELU follows it
//   separate_qkv  three linears q, k, v, each with bias and GELU
//   score_fcn     as separate_qkv, plus g = Linear(C, H·block_size)(a):
//                 g[i, h, j] is added to the score of query i, key position j
// Each flag is independent; any combination builds.
#ifndef TINYLM_MODELS_ATTENTION_H_
#define TINYLM_MODELS_ATTENTION_H_

#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "models/config.h"

namespace tinylm {

class KvCache;

// What every layer of one forward pass shares; built once per forward by
// Transformer (see model.h for the meaning of slots and positions).
struct AttentionContext {
  at::Tensor cos, signed_sin;  // [B, 1, T, hs] RoPE rows (rope.h)
  at::Tensor visible;       // [B, 1, T, L] bool: key j visible to query t
  at::Tensor key_positions; // [B, L] absolute key positions (score_fcn)
  bool keys_are_prefix = true;  // key positions are 0..L-1 for every row

  // KV cache: when set, k and v of the new tokens are written at
  // (slots[b], positions[b, t]) and attention reads keys 0..L-1 of the slots.
  KvCache* cache = nullptr;
  at::Tensor positions;          // [B, T] int64
  at::Tensor slot_rows;          // [B, 1] int64: the B cache rows
  int64_t slot_begin = -1;       // >= 0 when slots are consecutive
  int64_t kv_length = 0;         // L when reading from the cache

  // LibTorch 2.x: fused scaled_dot_product_attention when no weights are
  // requested. `bias` [B, 1, T, L] in the model dtype is 0 where visible and
  // -inf elsewhere; undefined when plain causal masking (T == L, no cache)
  // is all that is needed.
  bool fused = false;
  at::Tensor bias;
};

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit CausalSelfAttentionImpl(const ModelConfig& config);

  // a: [B, T, C] (the normed block input), residual: [B, T, C] (the block
  // input). Returns residual + attention output, [B, T, C]; the sum is
  // folded into the output projection's matrix product. When `probs` is not
  // null it receives the post-softmax weights [B, H, T, L], as float32
  // values of exactly the tensor multiplied with v.
  torch::Tensor forward(const torch::Tensor& a, const torch::Tensor& residual,
                        const AttentionContext& ctx, int64_t layer,
                        torch::Tensor* probs);

 private:
  // Steps 1 and 2: q [B, H, T, hs] and k [B, G, T, hs] rotated by RoPE (in
  // one call over both), v [B, G, T, hs].
  void Project(const torch::Tensor& a, const AttentionContext& ctx,
               torch::Tensor& q, torch::Tensor& k, torch::Tensor& v);
  // The additive score_fcn term [B, H, T, L] for the context's keys.
  torch::Tensor ExtraScore(const torch::Tensor& a,
                           const AttentionContext& ctx, int64_t num_keys);

  ModelConfig config_;
  torch::nn::Linear qkv_{nullptr};    // fused (separate_qkv = false)
  torch::nn::Linear q_{nullptr}, k_{nullptr}, v_{nullptr};  // separate
  torch::nn::Linear score_{nullptr};  // score_fcn
  torch::nn::Linear proj_{nullptr};
};
TORCH_MODULE(CausalSelfAttention);

}  // namespace tinylm

#endif  // TINYLM_MODELS_ATTENTION_H_
