#include "models/block.h"

#include <ATen/ATen.h>

#ifdef TINYLM_KERNEL_OPS
#include "kernels/torch/swiglu_op.h"
#include "models/kernel_linear.h"
#endif

namespace tinylm {
namespace {

torch::nn::Linear NoBias(int64_t in, int64_t out) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
}

}  // namespace

SwiGluMlpImpl::SwiGluMlpImpl(const ModelConfig& config)
    : fc_1_(register_module(
          "fc_1", NoBias(config.n_embd, config.intermediate_size))),
      fc_2_(register_module(
          "fc_2", NoBias(config.n_embd, config.intermediate_size))),
      proj_(register_module(
          "proj", NoBias(config.intermediate_size, config.n_embd))) {}

torch::Tensor SwiGluMlpImpl::forward(const torch::Tensor& x, bool kernels,
                                     const WeightCopies* copies) {
#ifdef TINYLM_KERNEL_OPS
  if (kernels) {
    // [B, T, 2I]: fc_1's outputs, then fc_2's.
    const at::Tensor both = KernelLinear(x, {fc_1_->weight, fc_2_->weight},
                                         at::Tensor(), copies);
    return KernelLinear(ops::SwiGluPacked(both), {proj_->weight}, at::Tensor(),
                        copies);
  }
#endif
  return proj_->forward(at::silu(fc_1_->forward(x)) * fc_2_->forward(x));
}

BlockImpl::BlockImpl(const ModelConfig& config)
    : norm_1_(register_module("norm_1",
                              RMSNorm(config.n_embd, config.norm_eps))),
      norm_2_(register_module("norm_2",
                              RMSNorm(config.n_embd, config.norm_eps))),
      attn_(register_module("attn", CausalSelfAttention(config))),
      mlp_(register_module("mlp", SwiGluMlp(config))) {}

torch::Tensor BlockImpl::forward(const torch::Tensor& x,
                                 const AttentionContext& ctx, int64_t layer,
                                 torch::Tensor* probs) {
  // Hook points (forward_hooks.h): the attention and MLP outputs.
  const torch::Tensor h =
      x + Hook(ctx.hooks, HookPoint::kAttentionOutput, layer,
               attn_->forward(norm_1_->forward(x), ctx, layer, probs));
  return h + Hook(ctx.hooks, HookPoint::kMlpOutput, layer,
                  mlp_->forward(norm_2_->forward(h), ctx.kernels));
}

std::vector<torch::Tensor> BlockImpl::ForwardOnWeightCopies(
    const torch::Tensor& x, const torch::Tensor& delta,
    const AttentionContext& ctx, int64_t layer) {
  // The products read bfloat16: the norms write it, and each residual add
  // runs inside the norm that follows it.
  const std::vector<torch::Tensor> in =
      norm_1_->ForwardAfterAdd(x, delta, at::kBFloat16);  // {x + delta, a}
  const torch::Tensor attention = attn_->forward(in[1], ctx, layer, nullptr);
  const std::vector<torch::Tensor> mid =
      norm_2_->ForwardAfterAdd(in[0], attention, at::kBFloat16);
  return {mid[0], mlp_->forward(mid[1], /*kernels=*/true, ctx.weight_copies)};
}

}  // namespace tinylm
