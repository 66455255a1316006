// The model's structure: parameter names, shapes and counts for every
// variant, float32 RoPE tables, and causality. Attention maps are tested in
// model_attention_test.cc, KV-cache decoding in model_cache_test.cc,
// hand-computed forwards in model_golden_test.cc, the config in
// model_config_test.cc.
#include "models/model.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>
#include <torch/version.h>

#include "models/config.h"
#include "models/rope.h"
#include "tests/model_test_util.h"

namespace tinylm {
namespace {

using testutil::MakeRandomModel;
using testutil::MaxAbsDiff;
using testutil::Param;
using testutil::RandomTokens;
using testutil::TinyConfig;

// Written from the SPEC table, independently of ModelConfig::ParameterCount.
int64_t ExpectedParameterCount(const ModelConfig& c) {
  const int64_t C = c.n_embd, V = c.vocab_size, I = c.intermediate_size;
  const int64_t hs = C / c.n_head;
  const int64_t q_width = c.n_head * hs, kv_width = c.n_query_groups * hs;
  int64_t attention = C * q_width + 2 * C * kv_width;  // q, k, v weights
  if (c.qkv_bias) attention += q_width + 2 * kv_width;
  attention += q_width * C;  // output projection
  if (c.score_fcn) {
    attention += C * c.n_head * c.block_size + c.n_head * c.block_size;
  }
  const int64_t mlp = 2 * C * I + I * C;  // fc_1, fc_2, proj
  const int64_t block = 2 * C + attention + mlp;
  return V * C + c.n_layer * block + C + C * V;  // wte, blocks, ln_f, head
}

int64_t CountParameters(Transformer& model) {
  int64_t total = 0;
  for (const at::Tensor& p : model->parameters()) total += p.numel();
  return total;
}

// Tiny configs of every variant, with multi-head and grouped-query shapes.
std::vector<ModelConfig> CountedConfigs() {
  std::vector<ModelConfig> configs;
  for (const std::string& variant : VariantNames()) {
    ModelConfig c = TinyConfig(variant);
    configs.push_back(c);
    for (int64_t groups : {1, 2, 4}) {
      c.n_head = 4;
      c.n_query_groups = groups;
      configs.push_back(c);
    }
  }
  return configs;
}

TEST(ModelParametersTest, CountMatchesConfigAndIndependentFormula) {
  for (const ModelConfig& config : CountedConfigs()) {
    SCOPED_TRACE(config.VariantName() + " n_head " +
                 std::to_string(config.n_head) + " groups " +
                 std::to_string(config.n_query_groups));
    Transformer model(config);
    EXPECT_EQ(CountParameters(model), config.ParameterCount());
    EXPECT_EQ(CountParameters(model), ExpectedParameterCount(config));
  }
}

TEST(ModelParametersTest, EachVariantAddsWhatTheSpecSays) {
  for (int64_t groups : {1, 2}) {
    std::map<std::string, int64_t> count;
    ModelConfig c;
    for (const std::string& variant : VariantNames()) {
      c = TinyConfig(variant);
      c.n_head = 2;
      c.n_query_groups = groups;
      Transformer model(c);
      count[variant] = CountParameters(model);
    }
    const int64_t L = c.n_layer, C = c.n_embd, H = c.n_head;
    const int64_t hs = c.head_size();
    // qkv biases.
    EXPECT_EQ(count["qkv_gelu"] - count["base"],
              L * (H + 2 * c.n_query_groups) * hs);
    // Separate linears have the same total size as the fused one.
    EXPECT_EQ(count["separate_qkv"], count["qkv_gelu"]);
    // score_fcn: n_layer·C·n_head·block_size weights plus its biases.
    EXPECT_EQ(count["score_fcn"] - count["separate_qkv"],
              L * C * H * c.block_size + L * H * c.block_size);
  }
}

// The names and shapes documented in model.h: they are the checkpoint's
// tensor names, which other programs (tools/reference_forward.py) read.
std::map<std::string, std::vector<int64_t>> DocumentedShapes(
    const ModelConfig& c) {
  const int64_t C = c.n_embd, V = c.vocab_size, I = c.intermediate_size;
  const int64_t H = c.n_head, G = c.n_query_groups, hs = c.head_size();
  std::map<std::string, std::vector<int64_t>> shapes = {
      {"wte.weight", {V, C}}, {"ln_f.weight", {C}}, {"lm_head.weight", {V, C}}};
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "h." + std::to_string(i) + ".";
    shapes[p + "norm_1.weight"] = {C};
    shapes[p + "norm_2.weight"] = {C};
    if (c.separate_qkv) {
      shapes[p + "attn.q.weight"] = {H * hs, C};
      shapes[p + "attn.k.weight"] = {G * hs, C};
      shapes[p + "attn.v.weight"] = {G * hs, C};
      if (c.qkv_bias) {
        shapes[p + "attn.q.bias"] = {H * hs};
        shapes[p + "attn.k.bias"] = {G * hs};
        shapes[p + "attn.v.bias"] = {G * hs};
      }
    } else {
      shapes[p + "attn.qkv.weight"] = {(H + 2 * G) * hs, C};
      if (c.qkv_bias) shapes[p + "attn.qkv.bias"] = {(H + 2 * G) * hs};
    }
    if (c.score_fcn) {
      shapes[p + "attn.score.weight"] = {H * c.block_size, C};
      shapes[p + "attn.score.bias"] = {H * c.block_size};
    }
    shapes[p + "attn.proj.weight"] = {C, H * hs};
    shapes[p + "mlp.fc_1.weight"] = {I, C};
    shapes[p + "mlp.fc_2.weight"] = {I, C};
    shapes[p + "mlp.proj.weight"] = {C, I};
  }
  return shapes;
}

TEST(ModelParametersTest, NamesAndShapesAreTheDocumentedOnes) {
  for (const ModelConfig& config : CountedConfigs()) {
    SCOPED_TRACE(config.VariantName());
    Transformer model(config);
    std::map<std::string, std::vector<int64_t>> actual;
    for (const auto& item : model->named_parameters()) {
      actual[item.key()] = item.value().sizes().vec();
    }
    EXPECT_EQ(actual, DocumentedShapes(config));
  }
}

TEST(ModelParametersTest, RopeTablesStayFloat32WhenTheModelIsCast) {
  // A bfloat16 model must still rotate with float32 angles: rounding the
  // tables to bfloat16 would move every position by up to ~0.4%.
  const ModelConfig config = TinyConfig("base");
  const RopeTable expected = MakeRopeTable(
      config.block_size, config.head_size(), config.rope_base);
  for (bool with_device : {false, true}) {
    SCOPED_TRACE(with_device ? "to(device, dtype)" : "to(dtype)");
    Transformer model = MakeRandomModel(config, 7);
    if (with_device) {
      model->to(at::kCPU, at::kBFloat16);
    } else {
      model->to(at::kBFloat16);
    }
    for (const at::Tensor& p : model->parameters()) {
      EXPECT_EQ(p.scalar_type(), at::kBFloat16);
    }
    auto buffers = model->named_buffers();
    ASSERT_NE(buffers.find("rope_cos"), nullptr);
    ASSERT_NE(buffers.find("rope_sin"), nullptr);
    EXPECT_TRUE(buffers["rope_cos"].equal(expected.cos));
    EXPECT_TRUE(buffers["rope_sin"].equal(expected.sin));

    // The cast model still runs, close to its float32 self.
    torch::NoGradGuard no_grad;
    const at::Tensor tokens = RandomTokens(1, 6, config.vocab_size);
    ForwardInput input;
    input.tokens = tokens;
    const at::Tensor low = model->Forward(input).logits;  // bfloat16
    model->to(at::kFloat);
    EXPECT_TRUE(model->named_buffers()["rope_cos"].equal(expected.cos));
    EXPECT_LE(MaxAbsDiff(low, model->Forward(ForwardInput(tokens)).logits), 0.25);
  }
}

TEST(ModelCausalityTest, ChangingATokenNeverChangesEarlierLogits) {
  torch::NoGradGuard no_grad;
  for (const std::string& variant : VariantNames()) {
    SCOPED_TRACE(variant);
    const ModelConfig config = TinyConfig(variant);
    Transformer model = MakeRandomModel(config, 1);
    const int64_t T = 12;
    const at::Tensor tokens = RandomTokens(2, T, config.vocab_size);
    const at::Tensor logits = model->Forward(ForwardInput(tokens)).logits;
    for (int64_t t = 0; t < T; ++t) {
      at::Tensor changed = tokens.clone();
      changed[1][t].fill_((tokens[1][t].item<int64_t>() + 1) %
                          config.vocab_size);
      const at::Tensor after = model->Forward(ForwardInput(changed)).logits;
      EXPECT_LE(MaxAbsDiff(after.narrow(1, 0, t), logits.narrow(1, 0, t)),
                1e-6)
          << "position " << t;
      // The change is visible from t on (so the check above can fail)...
      EXPECT_GT(MaxAbsDiff(after[1][t], logits[1][t]), 1e-3) << t;
      // ...and never in the other row of the batch.
      EXPECT_LE(MaxAbsDiff(after[0], logits[0]), 1e-6) << t;
    }
  }
}

#if TORCH_VERSION_MAJOR >= 2
// Training on LibTorch 2.x takes scaled_dot_product_attention (score_fcn's
// term as an additive mask); it must compute what the explicit path does,
// values and gradients.
TEST(ModelFusedTest, FusedTrainingPathEqualsExplicitPath) {
  for (const std::string& variant : VariantNames()) {
    SCOPED_TRACE(variant);
    const ModelConfig config = TinyConfig(variant);
    Transformer model = MakeRandomModel(config, 6);
    model->train();
    const at::Tensor tokens = RandomTokens(2, 11, config.vocab_size);
    auto run = [&](bool fused, std::vector<at::Tensor>& grads) {
      model->zero_grad();
      ForwardInput input(tokens);
      input.fused_attention = fused;
      const at::Tensor logits = model->Forward(input).logits;
      logits.pow(2).mean().backward();
      grads.clear();
      for (const at::Tensor& p : model->parameters()) {
        grads.push_back(p.grad().defined() ? p.grad().clone()
                                           : at::zeros_like(p));
      }
      return logits.detach();
    };
    std::vector<at::Tensor> explicit_grads, fused_grads;
    const at::Tensor explicit_logits = run(false, explicit_grads);
    const at::Tensor fused_logits = run(true, fused_grads);
    EXPECT_LE(MaxAbsDiff(fused_logits, explicit_logits), 1e-5);
    ASSERT_EQ(fused_grads.size(), explicit_grads.size());
    for (size_t i = 0; i < fused_grads.size(); ++i) {
      EXPECT_LE(MaxAbsDiff(fused_grads[i], explicit_grads[i]), 1e-5) << i;
    }
  }
}
#endif  // TORCH_VERSION_MAJOR >= 2

}  // namespace
}  // namespace tinylm
