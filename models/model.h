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
#include <functional>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "models/config.h"
#include "models/forward.h"
#include "models/rms_norm.h"

namespace tinylm {

// Called on each submodule of a model being built (see TransformerImpl).
using ModulePlacer = std::function<void(torch::nn::Module&)>;

struct AttentionContext;

class TransformerImpl : public torch::nn::Module {
 public:
  // A model with freshly drawn weights (ResetParameters).
  explicit TransformerImpl(const ModelConfig& config);
  // Builds the model module by module and hands each one (the embedding,
  // every block, the final norm, the head) to `place` as soon as it exists,
  // e.g. to move it to the device in the serving dtype, so that a loader
  // never holds more than one block on the host. The weights are left as
  // the modules' constructors made them: the loader overwrites every one.
  TransformerImpl(const ModelConfig& config, const ModulePlacer& place);

  const ModelConfig& config() const { return config_; }

  // One forward pass (forward.h): tokens [B, T] -> logits [B, T, V], with
  // a KV cache, positions and attention maps as the input asks.
  ForwardOutput Forward(const ForwardInput& input);

  // The final norm and the LM head: x [..., C] -> logits [..., V]. Forward
  // ends with it; the logit lens applies it to earlier residual streams.
  at::Tensor Unembed(const at::Tensor& x);

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
  // Forward's kernel pass on bfloat16 weight copies (ctx.weight_copies),
  // with every residual add fused into the next norm; defined where the
  // kernels are built (TINYLM_KERNEL_OPS).
  ForwardOutput ForwardOnWeightCopies(const at::Tensor& tokens,
                                      const AttentionContext& ctx);

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
