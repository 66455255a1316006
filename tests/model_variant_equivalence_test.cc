// separate_qkv (three linears with bias, each followed by GELU) and
// qkv_gelu (one linear with bias, GELU, then split) compute the same
// function family: GELU is element-wise, so the fused weight is the three
// stacked. Weights moved either way give the same logits; the two variants
// differ only in how they are initialized.
#include <cstdint>
#include <string>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "models/config.h"
#include "models/model.h"
#include "tests/model_test_util.h"

namespace tinylm {
namespace {

using testutil::MakeRandomModel;
using testutil::MaxAbsDiff;
using testutil::Param;
using testutil::RandomTokens;
using testutil::TinyConfig;

// Rows of the fused q|k|v output that belong to `part` ("q", "k", "v").
at::Tensor FusedRows(const at::Tensor& fused, const std::string& part,
                     const ModelConfig& c) {
  const int64_t hs = c.head_size(), H = c.n_head, G = c.n_query_groups;
  if (part == "q") return fused.narrow(0, 0, H * hs);
  if (part == "k") return fused.narrow(0, H * hs, G * hs);
  return fused.narrow(0, (H + G) * hs, G * hs);
}

// Copies every parameter of `from` into `to`, mapping each layer's
// attn.qkv to attn.q / attn.k / attn.v (or back).
void MoveWeights(Transformer& from, Transformer& to) {
  torch::NoGradGuard no_grad;
  const ModelConfig& c = to->config();
  for (auto& item : to->named_parameters()) {
    const std::string& name = item.key();
    at::Tensor source;
    if (!c.separate_qkv && absl::StrContains(name, ".attn.qkv.")) {
      const std::string prefix = name.substr(0, name.find(".qkv."));
      const std::string suffix = name.substr(name.find(".qkv.") + 5);
      source = at::cat({Param(from, prefix + ".q." + suffix),
                        Param(from, prefix + ".k." + suffix),
                        Param(from, prefix + ".v." + suffix)});
    } else if (c.separate_qkv && (absl::StrContains(name, ".attn.q.") ||
                                  absl::StrContains(name, ".attn.k.") ||
                                  absl::StrContains(name, ".attn.v."))) {
      const size_t at = name.find(".attn.") + 6;
      const std::string part = name.substr(at, 1);
      const std::string fused =
          absl::StrCat(name.substr(0, at), "qkv", name.substr(at + 1));
      source = FusedRows(Param(from, fused), part, c);
    } else {
      source = Param(from, name);
    }
    ASSERT_EQ(source.sizes(), item.value().sizes()) << name;
    item.value().copy_(source);
  }
}

at::Tensor Logits(Transformer& model, const at::Tensor& tokens) {
  torch::NoGradGuard no_grad;
  return model->Forward(ForwardInput(tokens)).logits;
}

class VariantEquivalenceTest : public ::testing::TestWithParam<bool> {};

// GetParam(): start from qkv_gelu (true) or from separate_qkv (false).
TEST_P(VariantEquivalenceTest, MovedWeightsGiveTheSameLogits) {
  const bool from_fused = GetParam();
  // The tiny size has 2 query heads sharing 1 key/value group.
  const ModelConfig from_config =
      TinyConfig(from_fused ? "qkv_gelu" : "separate_qkv");
  const ModelConfig to_config = TinyConfig(from_fused ? "separate_qkv" : "qkv_gelu");
  Transformer from = MakeRandomModel(from_config, 7);
  Transformer to = MakeRandomModel(to_config, 8);
  from->to(at::kDouble);
  to->to(at::kDouble);
  MoveWeights(from, to);

  const at::Tensor tokens = RandomTokens(2, 24, from_config.vocab_size);
  const at::Tensor want = Logits(from, tokens);
  ASSERT_GT(want.abs().max().item<double>(), 1.0);  // not a flat model
  EXPECT_LE(MaxAbsDiff(Logits(to, tokens), want), 1e-9);
  // Before the move the two models disagree: the check can fail.
  Transformer fresh = MakeRandomModel(to_config, 8);
  fresh->to(at::kDouble);
  EXPECT_GT(MaxAbsDiff(Logits(fresh, tokens), want), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(BothDirections, VariantEquivalenceTest,
                         ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "FromQkvGelu"
                                             : "FromSeparateQkv";
                         });

}  // namespace
}  // namespace tinylm
