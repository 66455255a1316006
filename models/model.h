// The decoder-only LLaMA-style model shared by training and serving:
//   x = wte(tokens)                      (no absolute positions)
//   x = Block_i(x) for i in 0..n_layer-1
//   logits = lm_head(ln_f(x))
//
// Parameter names (also the safetensors tensor names):
//   wte.weight [V, C], ln_f.weight [C], lm_head.weight [V, C], and per layer
//   h.<i>.norm_1.weight, h.<i>.norm_2.weight                      [C]
//   h.<i>.attn.qkv.{weight,bias}  fused: [(H + 2G)·hs, C]  (or q, k, v)
//   h.<i>.attn.score.{weight,bias}                 [H·block_size, C]
//   h.<i>.attn.proj.weight                                    [C, H·hs]
//   h.<i>.mlp.fc_1.weight, h.<i>.mlp.fc_2.weight              [I, C]
//   h.<i>.mlp.proj.weight                                     [C, I]
#ifndef TINYLM_MODELS_MODEL_H_
#define TINYLM_MODELS_MODEL_H_

#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "models/config.h"
#include "models/rms_norm.h"

namespace tinylm {

class KvCache;

// One forward pass over B rows of T tokens.
//
// Without a cache every row attends to its own tokens causally; `positions`
// (default 0..T-1) only sets RoPE and score_fcn positions. Right-padding a
// row is harmless: its real tokens never see later positions.
//
// With a cache, row b is sequence `slots[b]`: its new tokens sit at
// positions[b, t], their keys/values are written there, and each token
// attends to cached positions 0..positions[b, t]. `kv_length` must exceed
// every position in the batch; it bounds how many cached keys are read.
struct ForwardInput {
  torch::Tensor tokens;     // [B, T] int64
  torch::Tensor positions;  // [B, T] int64, optional without a cache
  KvCache* cache = nullptr;
  std::vector<int64_t> slots;  // B slots of `cache`
  // The slots as a [B] int64 tensor on the model's device, when the caller
  // keeps them there (a captured CUDA graph may not upload). Without
  // `slots`, the rows are read through an index rather than a slice.
  torch::Tensor slot_rows;
  int64_t kv_length = 0;
  bool return_attention = false;
  // LibTorch 2.x: fused attention kernels where no maps are requested
  // (training, the server's static steps); ignored on 1.x.
  bool fused_attention = false;
  // [B] int64 on the device, optional: the one position t of each row whose
  // logits are wanted (e.g. a padded prompt's last token); the output is
  // then [B, 1, V] and the vocabulary projection skips the other positions.
  torch::Tensor logits_at;
};

struct ForwardOutput {
  torch::Tensor logits;  // [B, T, V] (or [B, 1, V], see logits_at), float32
  // When requested: n_layer tensors [B, H, T, L] of post-softmax weights,
  // L = T without a cache, kv_length with one; exactly zero where masked.
  std::vector<torch::Tensor> attention;
};

class TransformerImpl : public torch::nn::Module {
 public:
  explicit TransformerImpl(const ModelConfig& config);

  const ModelConfig& config() const { return config_; }

  // Training form: tokens [B, T] -> logits [B, T, V] (model dtype).
  torch::Tensor forward(const torch::Tensor& tokens, bool fused = false);

  // General form (caches, positions, attention maps).
  ForwardOutput Forward(const ForwardInput& input);

  // Re-draws every weight: N(0, 0.02), residual projections scaled by
  // 1/sqrt(2·n_layer), zero biases, unit norms. Uses the global torch seed.
  void ResetParameters();

  // Casting the model (e.g. to bfloat16) casts parameters only: the RoPE
  // tables stay float32, which the base class would cast too.
  using torch::nn::Module::to;
  void to(torch::Device device, torch::Dtype dtype,
          bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;

 private:
  // Rebuilds the RoPE tables in float32 on their current device.
  void RestoreFloatRope();

  torch::Tensor Run(const ForwardInput& input,
                    std::vector<torch::Tensor>* attention);

  ModelConfig config_;
  torch::nn::Embedding wte_{nullptr};
  torch::nn::ModuleList h_{nullptr};
  RMSNorm ln_f_{nullptr};
  torch::nn::Linear lm_head_{nullptr};
  torch::Tensor rope_cos_, rope_sin_;  // [block_size, hs] buffers
};
TORCH_MODULE(Transformer);

}  // namespace tinylm

#endif  // TINYLM_MODELS_MODEL_H_
