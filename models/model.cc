#include "models/model.h"

#include <cmath>
#include <string>

#include <ATen/ATen.h>

#include "models/attention_context.h"
#include "models/block.h"
#include "models/rope.h"

#ifdef TINYLM_KERNEL_OPS
#include "models/kernel_linear.h"
#endif

namespace tinylm {

TransformerImpl::TransformerImpl(const ModelConfig& config)
    : TransformerImpl(config, ModulePlacer()) {
  ResetParameters();
}

TransformerImpl::TransformerImpl(const ModelConfig& config,
                                 const ModulePlacer& place)
    : config_(config) {
  auto placed = [&place](auto module) {
    if (place) place(*module);
    return module;
  };
  wte_ = register_module(
      "wte", placed(torch::nn::Embedding(config.vocab_size, config.n_embd)));
  h_ = register_module("h", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.n_layer; ++i) {
    h_->push_back(placed(Block(config)));
  }
  ln_f_ =
      register_module("ln_f", placed(RMSNorm(config.n_embd, config.norm_eps)));
  lm_head_ = register_module(
      "lm_head", placed(torch::nn::Linear(
                     torch::nn::LinearOptions(config.n_embd, config.vocab_size)
                         .bias(false))));
  // Buffers are not parameters: they never enter a checkpoint, and they
  // follow the module across devices (but stay float32 across dtypes,
  // since ApplyRope computes in float32 anyway).
  const RopeTable rope = MakeRopeTable(config.block_size, config.head_size(),
                                       config.rope_base);
  rope_cos_ = register_buffer("rope_cos", rope.cos);
  rope_sin_ = register_buffer("rope_sin", rope.sin);
}

void TransformerImpl::ResetParameters() {
  torch::NoGradGuard no_grad;
  const double residual_std = 0.02 / std::sqrt(2.0 * config_.n_layer);
  for (auto& item : named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    auto ends_with = [&](const std::string& suffix) {
      return name.size() >= suffix.size() &&
             name.compare(name.size() - suffix.size(), suffix.size(),
                          suffix) == 0;
    };
    if (ends_with("norm_1.weight") || ends_with("norm_2.weight") ||
        name == "ln_f.weight") {
      p.fill_(1.0);
    } else if (ends_with(".bias")) {
      p.zero_();
    } else if (ends_with("attn.proj.weight") || ends_with("mlp.proj.weight")) {
      p.normal_(0.0, residual_std);
    } else {
      p.normal_(0.0, 0.02);
    }
  }
}

void TransformerImpl::to(torch::Device device, torch::Dtype dtype,
                         bool non_blocking) {
  torch::nn::Module::to(device, dtype, non_blocking);
  RestoreFloatRope();
}

void TransformerImpl::to(torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(dtype, non_blocking);
  RestoreFloatRope();
}

void TransformerImpl::RestoreFloatRope() {
  const RopeTable rope = MakeRopeTable(config_.block_size, config_.head_size(),
                                       config_.rope_base);
  // set_data keeps the buffer registry and these members on one tensor.
  rope_cos_.set_data(rope.cos.to(rope_cos_.device()));
  rope_sin_.set_data(rope.sin.to(rope_sin_.device()));
}

ForwardOutput TransformerImpl::Forward(const ForwardInput& input) {
  const int64_t B = input.tokens.size(0);
  const AttentionContext ctx = MakeAttentionContext(
      input, rope_cos_, rope_sin_, wte_->weight.scalar_type());
#ifdef TINYLM_KERNEL_OPS
  if (ctx.weight_copies != nullptr && !input.logits_at.defined()) {
    return ForwardOnWeightCopies(input.tokens, ctx);
  }
#endif
  ForwardOutput out;
  if (input.return_attention) out.attention.resize(config_.n_layer);

  // Hook point (forward_hooks.h): the residual stream, layer -1 = the
  // embeddings.
  at::Tensor x = Hook(input.hooks, HookPoint::kResidual, -1,
                      wte_->forward(input.tokens));  // [B, T, C]
  for (int64_t layer = 0; layer < config_.n_layer; ++layer) {
    at::Tensor* probs =
        input.return_attention ? &out.attention[layer] : nullptr;
    x = h_[layer]->as<Block>()->forward(x, ctx, layer, probs);
    // Hook point: the residual stream after block `layer`.
    x = Hook(input.hooks, HookPoint::kResidual, layer, x);
  }
  if (input.logits_at.defined()) {
    const at::Tensor index =
        input.logits_at.view({B, 1, 1}).expand({B, 1, x.size(-1)});
    x = x.gather(1, index);  // [B, 1, C]
  }
  out.logits = Unembed(x);  // [B, T or 1, V]
  return out;
}

#ifdef TINYLM_KERNEL_OPS
ForwardOutput TransformerImpl::ForwardOnWeightCopies(
    const at::Tensor& tokens, const AttentionContext& ctx) {
  // The residual stream as x + delta: each add runs in the next norm.
  at::Tensor x = wte_->forward(tokens), delta;  // [B, T, C]
  for (int64_t layer = 0; layer < config_.n_layer; ++layer) {
    const std::vector<at::Tensor> next =
        h_[layer]->as<Block>()->ForwardOnWeightCopies(x, delta, ctx, layer);
    x = next[0];
    delta = next[1];
  }
  const at::Tensor normed = ln_f_->ForwardAfterAdd(x, delta, at::kBFloat16)[1];
  ForwardOutput out;
  out.logits = KernelLinear(normed, {lm_head_->weight}, at::Tensor(),
                            ctx.weight_copies);  // [B, T, V]
  return out;
}
#endif

at::Tensor TransformerImpl::Unembed(const at::Tensor& x) {
  return lm_head_->forward(ln_f_->forward(x));
}

}  // namespace tinylm
