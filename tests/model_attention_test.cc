// Attention maps (SPEC §2: obtainable from any forward pass, with and
// without the KV cache, and equal to what the model actually used), and
// score_fcn's additive term indexing key positions.
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include "models/config.h"
#include "models/kv_cache.h"
#include "models/model.h"
#include "tests/model_test_util.h"

namespace tinylm {
namespace {

using testutil::MakeRandomModel;
using testutil::MaxAbsDiff;
using testutil::Param;
using testutil::RandomTokens;
using testutil::TinyConfig;

// Checks that maps [B, H, T, L] are distributions over keys 0..positions[b,
// t] with exactly zero weight on every later key.
void ExpectCausalDistributions(const at::Tensor& maps,
                               const at::Tensor& positions) {
  ASSERT_EQ(maps.dim(), 4);
  const int64_t L = maps.size(3);
  // later[b, h, t, j]: key j lies after query t.
  const at::Tensor later =
      (at::arange(L, at::kLong).view({1, 1, 1, L}) >
       positions.reshape({positions.size(0), 1, positions.size(1), 1}))
          .expand_as(maps);
  EXPECT_EQ(maps.masked_select(later).abs().sum().item<double>(), 0.0);
  EXPECT_GE(maps.min().item<double>(), 0.0);
  const at::Tensor sums = maps.sum(-1);
  EXPECT_LE(MaxAbsDiff(sums, at::ones_like(sums)), 1e-5);
}

// Recomputes the logits [T, V] of one sequence `tokens` [T] from the
// parameters and per-layer attention weights maps[l] [H, T, T], in float64.
// Everything but q, k and the softmax is redone here, and the given weights
// are what multiplies v: equal logits mean the maps are the weights the
// model used.
at::Tensor LogitsFromMaps(Transformer& model, const at::Tensor& tokens,
                          const std::vector<at::Tensor>& maps) {
  const ModelConfig& c = model->config();
  const int64_t H = c.n_head, G = c.n_query_groups, hs = c.head_size();
  auto param = [&](const std::string& name) {
    return Param(model, name).to(at::kDouble);
  };
  auto norm = [&](const at::Tensor& x, const std::string& weight) {
    return x * at::rsqrt(x.pow(2).mean(-1, true) + c.norm_eps) * param(weight);
  };
  auto linear = [&](const at::Tensor& x, const std::string& name, bool bias) {
    const at::Tensor y = at::matmul(x, param(name + ".weight").t());
    return bias ? y + param(name + ".bias") : y;
  };
  at::Tensor x = param("wte.weight").index_select(0, tokens);  // [T, C]
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    const at::Tensor a = norm(x, p + "norm_1.weight");
    at::Tensor v;  // [T, G·hs]
    if (c.separate_qkv) {
      v = linear(a, p + "attn.v", c.qkv_bias);
    } else {
      v = linear(a, p + "attn.qkv", c.qkv_bias)
              .narrow(-1, (H + G) * hs, G * hs);
    }
    if (c.qkv_activation) v = at::gelu(v);
    std::vector<at::Tensor> heads;  // H of [T, hs]
    for (int64_t h = 0; h < H; ++h) {
      const int64_t group = h / (H / G);
      heads.push_back(at::matmul(maps[l][h].to(at::kDouble),
                                 v.narrow(-1, group * hs, hs)));
    }
    x = x + linear(at::cat(heads, -1), p + "attn.proj", false);
    const at::Tensor m = norm(x, p + "norm_2.weight");
    x = x + linear(at::silu(linear(m, p + "mlp.fc_1", false)) *
                       linear(m, p + "mlp.fc_2", false),
                   p + "mlp.proj", false);
  }
  return linear(norm(x, "ln_f.weight"), "lm_head", false);
}

// Row b of every layer's maps [B, H, T, L] as [H, T, L].
std::vector<at::Tensor> Row(const std::vector<at::Tensor>& maps, int64_t b) {
  std::vector<at::Tensor> row;
  for (const at::Tensor& m : maps) row.push_back(m[b]);
  return row;
}

TEST(ModelAttentionTest, MapsAreCausalDistributions) {
  torch::NoGradGuard no_grad;
  for (const std::string& variant : VariantNames()) {
    SCOPED_TRACE(variant);
    const ModelConfig config = TinyConfig(variant);
    Transformer model = MakeRandomModel(config, 2);
    ForwardInput input;
    input.tokens = RandomTokens(3, 9, config.vocab_size);
    input.return_attention = true;
    const ForwardOutput out = model->Forward(input);
    ASSERT_EQ(int64_t(out.attention.size()), config.n_layer);
    const at::Tensor positions =
        at::arange(9, at::kLong).unsqueeze(0).expand({3, 9});
    for (const at::Tensor& maps : out.attention) {
      EXPECT_EQ(maps.sizes().vec(),
                (std::vector<int64_t>{3, config.n_head, 9, 9}));
      EXPECT_EQ(maps.scalar_type(), at::kFloat);
      ExpectCausalDistributions(maps, positions);
    }
    // Asking for the maps does not change the logits.
    EXPECT_LE(MaxAbsDiff(out.logits, model->Forward(ForwardInput(input.tokens)).logits), 1e-6);
  }
}

TEST(ModelAttentionTest, MapsAreTheWeightsTheModelUsed) {
  torch::NoGradGuard no_grad;
  for (const std::string& variant : VariantNames()) {
    SCOPED_TRACE(variant);
    const ModelConfig config = TinyConfig(variant);  // 2 layers, GQA
    Transformer model = MakeRandomModel(config, 3);
    ForwardInput input;
    input.tokens = RandomTokens(2, 10, config.vocab_size);
    input.return_attention = true;
    const ForwardOutput out = model->Forward(input);
    for (int64_t b = 0; b < 2; ++b) {
      const std::vector<at::Tensor> maps = Row(out.attention, b);
      EXPECT_LE(MaxAbsDiff(LogitsFromMaps(model, input.tokens[b], maps),
                           out.logits[b]),
                1e-5);
      // The check is sensitive to the maps: flat causal rows differ.
      std::vector<at::Tensor> flat;
      for (const at::Tensor& m : maps) {
        const at::Tensor tri = at::ones_like(m).tril();
        flat.push_back(tri / tri.sum(-1, true));
      }
      EXPECT_GT(MaxAbsDiff(LogitsFromMaps(model, input.tokens[b], flat),
                           out.logits[b]),
                1e-2);
    }
  }
}

TEST(ModelAttentionTest, CachedMapsAreTheWeightsTheModelUsed) {
  torch::NoGradGuard no_grad;
  for (const std::string& variant : VariantNames()) {
    SCOPED_TRACE(variant);
    const ModelConfig config = TinyConfig(variant);
    Transformer model = MakeRandomModel(config, 4);
    const int64_t T = 8, prefix = 5;
    const at::Tensor tokens = RandomTokens(1, T, config.vocab_size);
    ForwardInput full_input;
    full_input.tokens = tokens;
    full_input.return_attention = true;
    const ForwardOutput full = model->Forward(full_input);

    KvCache cache(config, 2, T, at::kCPU, at::kFloat);
    ForwardInput input;
    input.cache = &cache;
    input.slots = {1};
    input.return_attention = true;
    input.tokens = tokens.narrow(1, 0, prefix);
    input.positions = at::arange(prefix, at::kLong).unsqueeze(0);
    input.kv_length = prefix;
    const ForwardOutput prefill = model->Forward(input);
    for (const at::Tensor& maps : prefill.attention) {
      ExpectCausalDistributions(maps, input.positions);
    }
    // Rows 0..prefix-1 from the prefill; later rows do not influence them.
    std::vector<at::Tensor> maps = Row(full.attention, 0);
    for (int64_t l = 0; l < config.n_layer; ++l) {
      maps[l] = maps[l].clone();
      maps[l].narrow(1, 0, prefix).narrow(2, 0, prefix).copy_(
          prefill.attention[l][0]);
    }
    EXPECT_LE(MaxAbsDiff(LogitsFromMaps(model, tokens[0], maps)
                             .narrow(0, 0, prefix),
                         prefill.logits[0]),
              1e-5);

    for (int64_t p = prefix; p < T; ++p) {
      input.tokens = tokens.narrow(1, p, 1);
      input.positions = at::full({1, 1}, p, at::kLong);
      input.kv_length = T;  // reads later, masked keys too
      const ForwardOutput step = model->Forward(input);
      std::vector<at::Tensor> step_maps = Row(full.attention, 0);
      for (int64_t l = 0; l < config.n_layer; ++l) {
        ExpectCausalDistributions(step.attention[l], input.positions);
        step_maps[l] = step_maps[l].clone();
        step_maps[l].select(1, p).copy_(step.attention[l][0].select(1, 0));
      }
      EXPECT_LE(MaxAbsDiff(LogitsFromMaps(model, tokens[0], step_maps)[p],
                           step.logits[0][0]),
                1e-5)
          << "position " << p;
    }
  }
}

// Checks maps [H, Tq, L] of query positions `queries` when every score is
// zero except key `target[h]` (+20 for head h): rows that see the target
// put all weight on it, earlier rows are flat over keys 0..query.
void ExpectFocused(const at::Tensor& maps, const std::vector<int64_t>& queries,
                   const std::vector<int64_t>& target) {
  for (int64_t h = 0; h < maps.size(0); ++h) {
    for (size_t r = 0; r < queries.size(); ++r) {
      const at::Tensor row = maps[h][r].to(at::kDouble);
      const int64_t q = queries[r];
      SCOPED_TRACE("head " + std::to_string(h) + " query " +
                   std::to_string(q));
      at::Tensor expected = at::zeros_like(row);
      if (q >= target[h]) {
        expected[target[h]].fill_(1.0);
      } else {
        expected.narrow(0, 0, q + 1).fill_(1.0 / double(q + 1));
      }
      EXPECT_LE(MaxAbsDiff(row, expected), 1e-6);
    }
  }
}

// A one-layer score_fcn model whose q and k are zero, so that the scores
// are g alone; g's weight is zero and its bias puts +20 on one key
// position per head: 2 for head 0, 4 for head 1.
Transformer FocusedScoreModel(const ModelConfig& config) {
  Transformer model = MakeRandomModel(config, 5);
  torch::NoGradGuard no_grad;
  for (const char* name :
       {"h.0.attn.q.weight", "h.0.attn.q.bias", "h.0.attn.k.weight",
        "h.0.attn.k.bias", "h.0.attn.score.weight", "h.0.attn.score.bias"}) {
    Param(model, name).zero_();
  }
  at::Tensor bias = Param(model, "h.0.attn.score.bias");  // [H·block_size]
  bias[0 * config.block_size + 2].fill_(20.0);
  bias[1 * config.block_size + 4].fill_(20.0);
  return model;
}

TEST(ModelScoreFcnTest, ExtraScoreIndexesKeyPositions) {
  torch::NoGradGuard no_grad;
  ModelConfig config = TinyConfig("score_fcn");
  config.n_layer = 1;
  ASSERT_EQ(config.n_head, 2);
  Transformer model = FocusedScoreModel(config);
  const int64_t T = 8;
  const at::Tensor tokens = RandomTokens(1, T, config.vocab_size);
  const std::vector<int64_t> targets = {2, 4};

  ForwardInput input;
  input.tokens = tokens;
  input.return_attention = true;
  const ForwardOutput full = model->Forward(input);
  ExpectFocused(full.attention[0][0], {0, 1, 2, 3, 4, 5, 6, 7}, targets);

  // Through the cache: prefill three tokens, then one at a time.
  KvCache cache(config, 3, 12, at::kCPU, at::kFloat);
  input.cache = &cache;
  input.slots = {2};
  input.tokens = tokens.narrow(1, 0, 3);
  input.positions = at::arange(3, at::kLong).unsqueeze(0);
  input.kv_length = 3;
  ExpectFocused(model->Forward(input).attention[0][0], {0, 1, 2}, targets);
  for (int64_t p = 3; p < T; ++p) {
    input.tokens = tokens.narrow(1, p, 1);
    input.positions = at::full({1, 1}, p, at::kLong);
    input.kv_length = 12;
    ExpectFocused(model->Forward(input).attention[0][0], {p}, targets);
  }
}

TEST(ModelScoreFcnTest, ExplicitPositionsIndexTheScoreByPosition) {
  // Without a cache, explicit positions choose g's columns: a row whose
  // tokens sit at positions 10..17 has its key at index 2 at position 12.
  torch::NoGradGuard no_grad;
  ModelConfig config = TinyConfig("score_fcn");
  config.n_layer = 1;
  Transformer model = FocusedScoreModel(config);
  at::Tensor bias = Param(model, "h.0.attn.score.bias");
  bias.zero_();
  bias[0 * config.block_size + 12].fill_(20.0);
  bias[1 * config.block_size + 14].fill_(20.0);
  ForwardInput input;
  input.tokens = RandomTokens(1, 8, config.vocab_size);
  input.positions = at::arange(10, 18, at::kLong).unsqueeze(0);
  input.return_attention = true;
  ExpectFocused(model->Forward(input).attention[0][0],
                {0, 1, 2, 3, 4, 5, 6, 7}, {2, 4});
}

}  // namespace
}  // namespace tinylm
