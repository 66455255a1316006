#include "models/model.h"

#include <cmath>
#include <limits>
#include <string>

#include <ATen/ATen.h>
#include <torch/nn/init.h>
#include <torch/version.h>

#include "models/attention.h"
#include "models/block.h"
#include "models/rope.h"

namespace tinylm {

TransformerImpl::TransformerImpl(const ModelConfig& config) : config_(config) {
  wte_ = register_module(
      "wte", torch::nn::Embedding(config.vocab_size, config.n_embd));
  h_ = register_module("h", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.n_layer; ++i) h_->push_back(Block(config));
  ln_f_ = register_module("ln_f", RMSNorm(config.n_embd, config.norm_eps));
  lm_head_ = register_module(
      "lm_head", torch::nn::Linear(torch::nn::LinearOptions(
                                       config.n_embd, config.vocab_size)
                                       .bias(false)));
  // Buffers are not parameters: they never enter a checkpoint, and they
  // follow the module across devices (but stay float32 across dtypes,
  // since ApplyRope computes in float32 anyway).
  const RopeTable rope = MakeRopeTable(config.block_size, config.head_size(),
                                       config.rope_base);
  rope_cos_ = register_buffer("rope_cos", rope.cos);
  rope_sin_ = register_buffer("rope_sin", rope.sin);
  ResetParameters();
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

torch::Tensor TransformerImpl::forward(const torch::Tensor& tokens,
                                       bool fused) {
  ForwardInput input;
  input.tokens = tokens;
  input.fused_attention = fused;
  return Run(input, nullptr);
}

ForwardOutput TransformerImpl::Forward(const ForwardInput& input) {
  ForwardOutput out;
  out.logits =
      Run(input, input.return_attention ? &out.attention : nullptr)
          .to(at::kFloat);
  return out;
}

torch::Tensor TransformerImpl::Run(const ForwardInput& input,
                                   std::vector<torch::Tensor>* attention) {
  const at::Tensor& tokens = input.tokens;
  const int64_t B = tokens.size(0), T = tokens.size(1);
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(
      tokens.device());

  AttentionContext ctx;
  at::Tensor positions = input.positions;
  ctx.keys_are_prefix = !positions.defined() && input.cache == nullptr;
  if (!positions.defined()) {
    positions = at::arange(T, long_opts).unsqueeze(0).expand({B, T});
  }
  ctx.positions = positions;
  ctx.cos = rope_cos_.index_select(0, positions.reshape({-1}))
                .view({B, 1, T, -1});
  ctx.signed_sin = SignedSin(rope_sin_.index_select(0, positions.reshape({-1}))
                                 .view({B, 1, T, -1}));

  if (input.cache != nullptr) {
    ctx.cache = input.cache;
    // One upload per forward, shared by every layer's cache write.
    ctx.slot_rows =
        input.slot_rows.defined()
            ? input.slot_rows.view({B, 1})
            : at::tensor(input.slots, at::kLong).to(tokens.device()).view({B, 1});
    ctx.kv_length = input.kv_length;
    ctx.keys_are_prefix = true;  // cached keys sit at positions 0..L-1
    ctx.key_positions = at::arange(input.kv_length, long_opts)
                            .unsqueeze(0)
                            .expand({B, input.kv_length});
    bool consecutive = !input.slots.empty();
    for (size_t i = 1; i < input.slots.size(); ++i) {
      consecutive &= input.slots[i] == input.slots[0] + int64_t(i);
    }
    ctx.slot_begin = consecutive ? input.slots[0] : -1;
  } else {
    ctx.key_positions = positions;
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
                         tokens.options().dtype(wte_->weight.scalar_type()))
                   .masked_fill_(ctx.visible.logical_not(),
                                 -std::numeric_limits<float>::infinity());
  }
#endif

  at::Tensor x = wte_->forward(tokens);  // [B, T, C]
  if (attention != nullptr) attention->resize(config_.n_layer);
  for (int64_t layer = 0; layer < config_.n_layer; ++layer) {
    at::Tensor* probs = attention ? &(*attention)[layer] : nullptr;
    x = h_[layer]->as<Block>()->forward(x, ctx, layer, probs);
  }
  if (input.logits_at.defined()) {
    const at::Tensor index =
        input.logits_at.view({B, 1, 1}).expand({B, 1, x.size(-1)});
    x = x.gather(1, index);  // [B, 1, C]
  }
  return lm_head_->forward(ln_f_->forward(x));
}

}  // namespace tinylm
