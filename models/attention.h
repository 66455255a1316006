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

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "models/attention_context.h"
#include "models/config.h"

namespace tinylm {

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit CausalSelfAttentionImpl(const ModelConfig& config);

  // a: [B, T, C], the normed block input -> the attention output [B, T, C]
  // (before the residual add). `layer` picks this layer's KV cache. When
  // `probs` is not null it receives the post-softmax weights [B, H, T, L],
  // as float32 values of exactly the tensor multiplied with v.
  torch::Tensor forward(const torch::Tensor& a, const AttentionContext& ctx,
                        int64_t layer, torch::Tensor* probs);

 private:
  // q and k heads side by side, [B, H + G, T, hs], and v [B, G, T, hs]:
  // the projections of a, with the variant's bias and GELU.
  struct Projections {
    at::Tensor qk, v;
  };
  Projections Project(const at::Tensor& a);
  // score_fcn's term g [B, H, T, L] for the context's L keys.
  at::Tensor LearnedScore(const at::Tensor& a, const AttentionContext& ctx,
                          int64_t num_keys);
  // The same attention on the fused CUDA kernels (attention_kernels.cc,
  // built with a CUDA LibTorch), for contexts with ctx.kernels.
  at::Tensor ForwardWithKernels(const at::Tensor& a,
                                const AttentionContext& ctx);

  ModelConfig config_;
  torch::nn::Linear qkv_{nullptr};    // fused (separate_qkv = false)
  torch::nn::Linear q_{nullptr}, k_{nullptr}, v_{nullptr};  // separate
  torch::nn::Linear score_{nullptr};  // score_fcn
  torch::nn::Linear proj_{nullptr};
};
TORCH_MODULE(CausalSelfAttention);

}  // namespace tinylm

#endif  // TINYLM_MODELS_ATTENTION_H_
