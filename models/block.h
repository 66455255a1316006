// One transformer block, pre-norm (SPEC §2):
//   x = x + Attention(RMSNorm(x))
//   x = x + MLP(RMSNorm(x)),  MLP(x) = proj(silu(fc_1 x) * fc_2 x), no bias
#ifndef TINYLM_MODELS_BLOCK_H_
#define TINYLM_MODELS_BLOCK_H_

#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "models/attention.h"
#include "models/config.h"
#include "models/rms_norm.h"
#include "models/weight_copies.h"

namespace tinylm {

class SwiGluMlpImpl : public torch::nn::Module {
 public:
  explicit SwiGluMlpImpl(const ModelConfig& config);
  // x: [B, T, C] (normed) -> [B, T, C]. With `kernels` (a CUDA LibTorch
  // build, x on CUDA) fc_1 and fc_2 run as one product and SwiGLU as one
  // fused kernel, on the weights' bfloat16 `copies` where given
  // (weight_copies.h).
  torch::Tensor forward(const torch::Tensor& x, bool kernels = false,
                        const WeightCopies* copies = nullptr);

 private:
  torch::nn::Linear fc_1_{nullptr}, fc_2_{nullptr};  // C -> intermediate
  torch::nn::Linear proj_{nullptr};                  // intermediate -> C
};
TORCH_MODULE(SwiGluMlp);

class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const ModelConfig& config);
  // x: [B, T, C] -> [B, T, C]; `layer` and `probs` as in
  // CausalSelfAttentionImpl::forward.
  torch::Tensor forward(const torch::Tensor& x, const AttentionContext& ctx,
                        int64_t layer, torch::Tensor* probs);
  // The kernel pass on weight copies (ctx.weight_copies): the residual
  // stream arrives as x + delta, delta the previous block's MLP output not
  // yet added (undefined for the first block), and leaves the same way:
  // returns {h, MLP(RMSNorm(h))}, h = x + delta + Attention(...), so that
  // every residual add runs inside the next norm's kernels.
  std::vector<torch::Tensor> ForwardOnWeightCopies(const torch::Tensor& x,
                                                   const torch::Tensor& delta,
                                                   const AttentionContext& ctx,
                                                   int64_t layer);

 private:
  RMSNorm norm_1_{nullptr}, norm_2_{nullptr};
  CausalSelfAttention attn_{nullptr};
  SwiGluMlp mlp_{nullptr};
};
TORCH_MODULE(Block);

}  // namespace tinylm

#endif  // TINYLM_MODELS_BLOCK_H_
