// Forward hooks and interventions (models/intervention.h), each checked
// against a computation that does not use them: a zero ablation equals the
// model with the matching projection weights zeroed, a residual patch of
// every position equals the source's own output, a patched pattern is the
// map the forward reports, and hooks that act nowhere change nothing.
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include "models/intervention.h"
#include "models/model.h"
#include "tests/model_test_util.h"

namespace tinylm {
namespace {

using testutil::MakeRandomModel;
using testutil::MaxAbsDiff;
using testutil::Param;
using testutil::RandomTokens;
using testutil::TinyConfig;

using Action = InterventionSpec::Action;

constexpr uint64_t kSeed = 31;
constexpr int64_t kTokens = 12;

at::Tensor Logits(Transformer& model, const at::Tensor& tokens,
                  ForwardHooks* hooks = nullptr) {
  torch::NoGradGuard no_grad;
  ForwardInput input(tokens);
  input.hooks = hooks;
  return model->Forward(input).logits;
}

at::Tensor Intervened(Transformer& model, const at::Tensor& tokens,
                      InterventionSpec spec, at::Tensor source = {}) {
  InterventionHooks hooks({std::move(spec)}, {std::move(source)});
  return Logits(model, tokens, &hooks);
}

// The same model with `edit` applied to a copy of its weights.
template <typename Edit>
at::Tensor EditedLogits(const ModelConfig& config, const at::Tensor& tokens,
                        Edit edit) {
  Transformer edited = MakeRandomModel(config, kSeed);
  {
    torch::NoGradGuard no_grad;
    edit(edited);
  }
  return Logits(edited, tokens);
}

InterventionSpec Ablation(HookPoint point, int64_t layer) {
  InterventionSpec spec;
  spec.point = point;
  spec.layer = layer;
  spec.action = Action::kZero;
  return spec;
}

class InterventionTest : public ::testing::TestWithParam<std::string> {
 protected:
  ModelConfig config_ = TinyConfig(GetParam());
  Transformer model_ = MakeRandomModel(config_, kSeed);
  at::Tensor tokens_ = RandomTokens(1, kTokens, config_.vocab_size);
};

TEST_P(InterventionTest, HooksThatActNowhereChangeNothing) {
  RecordingHooks recorder;  // records, returns every value as it was
  for (int64_t l = -1; l < config_.n_layer; ++l) {
    recorder.Record(HookPoint::kResidual, l);
  }
  const at::Tensor plain = Logits(model_, tokens_);
  EXPECT_TRUE(at::equal(Logits(model_, tokens_, &recorder), plain));
  InterventionHooks none({}, {});
  EXPECT_TRUE(at::equal(Logits(model_, tokens_, &none), plain));
}

TEST_P(InterventionTest, RecordedLastResidualUnembedsToTheLogits) {
  RecordingHooks recorder;
  recorder.Record(HookPoint::kResidual, config_.n_layer - 1);
  const at::Tensor logits = Logits(model_, tokens_, &recorder);
  torch::NoGradGuard no_grad;
  const at::Tensor last =
      recorder.Recorded(HookPoint::kResidual, config_.n_layer - 1);
  ASSERT_TRUE(last.defined());
  EXPECT_EQ(last.sizes(), (std::vector<int64_t>{1, kTokens, config_.n_embd}));
  EXPECT_TRUE(at::equal(model_->Unembed(last), logits));
  EXPECT_FALSE(recorder.Recorded(HookPoint::kMlpOutput, 0).defined());
}

TEST_P(InterventionTest, ZeroAttentionOutputIsAZeroProjection) {
  for (int64_t layer = 0; layer < config_.n_layer; ++layer) {
    const std::string proj = "h." + std::to_string(layer) + ".attn.proj.weight";
    const at::Tensor expected = EditedLogits(
        config_, tokens_, [&](Transformer& m) { Param(m, proj).zero_(); });
    const at::Tensor got = Intervened(
        model_, tokens_, Ablation(HookPoint::kAttentionOutput, layer));
    EXPECT_LE(MaxAbsDiff(got, expected), 1e-5) << "layer " << layer;
    EXPECT_GT(MaxAbsDiff(got, Logits(model_, tokens_)), 1e-3);
  }
}

TEST_P(InterventionTest, ZeroMlpOutputIsAZeroProjection) {
  const int64_t layer = config_.n_layer - 1;
  const at::Tensor expected =
      EditedLogits(config_, tokens_, [&](Transformer& m) {
        Param(m, "h." + std::to_string(layer) + ".mlp.proj.weight").zero_();
      });
  EXPECT_LE(MaxAbsDiff(Intervened(model_, tokens_,
                                  Ablation(HookPoint::kMlpOutput, layer)),
                       expected),
            1e-5);
}

TEST_P(InterventionTest, ZeroHeadIsItsProjectionColumnsZeroed) {
  const int64_t hs = config_.head_size();
  for (int64_t head = 0; head < config_.n_head; ++head) {
    const at::Tensor expected =
        EditedLogits(config_, tokens_, [&](Transformer& m) {
          Param(m, "h.0.attn.proj.weight").narrow(1, head * hs, hs).zero_();
        });
    InterventionSpec spec = Ablation(HookPoint::kHeadOutputs, 0);
    spec.heads = {head};
    EXPECT_LE(MaxAbsDiff(Intervened(model_, tokens_, spec), expected), 1e-5)
        << "head " << head;
  }
}

TEST_P(InterventionTest, MeanAblationGivesEveryPositionTheMean) {
  // Recorded through a second hook after the ablation: the MLP output of
  // the last layer is the same row at every position, and that row is the
  // mean of the clean output.
  RecordingHooks clean;
  const int64_t layer = config_.n_layer - 1;
  clean.Record(HookPoint::kMlpOutput, layer);
  Logits(model_, tokens_, &clean);
  InterventionSpec spec = Ablation(HookPoint::kMlpOutput, layer);
  spec.action = Action::kMean;
  InterventionHooks hooks({spec}, {});
  torch::NoGradGuard no_grad;
  const at::Tensor before = clean.Recorded(HookPoint::kMlpOutput, layer);
  const at::Tensor after = hooks.At(HookPoint::kMlpOutput, layer, before);
  const at::Tensor mean = before.mean(1, true);  // [1, 1, C]
  EXPECT_LE(MaxAbsDiff(after, mean.expand_as(before)), 1e-6);
}

TEST_P(InterventionTest, ResidualPatchOfEveryPositionGivesTheSourceOutput) {
  const at::Tensor source = RandomTokens(1, kTokens, config_.vocab_size);
  for (int64_t layer = 0; layer < config_.n_layer; ++layer) {
    RecordingHooks recorder;
    recorder.Record(HookPoint::kResidual, layer);
    const at::Tensor source_logits = Logits(model_, source, &recorder);
    InterventionSpec spec;
    spec.point = HookPoint::kResidual;
    spec.layer = layer;
    spec.action = Action::kPatch;
    const at::Tensor got = Intervened(
        model_, tokens_, spec, recorder.Recorded(HookPoint::kResidual, layer));
    EXPECT_LE(MaxAbsDiff(got, source_logits), 1e-5) << "layer " << layer;
  }
}

TEST_P(InterventionTest, ResidualPatchAtOnePositionLeavesEarlierOnes) {
  const at::Tensor source = RandomTokens(1, kTokens, config_.vocab_size);
  RecordingHooks recorder;
  recorder.Record(HookPoint::kResidual, 0);
  const at::Tensor source_logits = Logits(model_, source, &recorder);
  InterventionSpec spec;
  spec.point = HookPoint::kResidual;
  spec.layer = config_.n_layer - 1;  // the last: only that row changes
  spec.action = Action::kPatch;
  spec.positions = {5};
  RecordingHooks last;
  last.Record(HookPoint::kResidual, spec.layer);
  Logits(model_, source, &last);
  const at::Tensor got = Intervened(
      model_, tokens_, spec, last.Recorded(HookPoint::kResidual, spec.layer));
  const at::Tensor clean = Logits(model_, tokens_);
  for (int64_t t = 0; t < kTokens; ++t) {
    const at::Tensor want = t == 5 ? source_logits[0][t] : clean[0][t];
    EXPECT_LE(MaxAbsDiff(got[0][t], want), 1e-5) << "position " << t;
  }
}

TEST_P(InterventionTest, PatchedPatternIsTheMapTheForwardReports) {
  const at::Tensor source = RandomTokens(1, kTokens, config_.vocab_size);
  torch::NoGradGuard no_grad;
  ForwardInput from(source);
  from.return_attention = true;
  const at::Tensor source_map = model_->Forward(from).attention[0];
  InterventionSpec spec;
  spec.point = HookPoint::kAttentionPattern;
  spec.layer = 0;
  spec.action = Action::kPatch;
  spec.heads = {config_.n_head - 1};
  InterventionHooks hooks({spec}, {source_map.to(at::kFloat)});
  ForwardInput input(tokens_);
  input.return_attention = true;
  input.hooks = &hooks;
  const at::Tensor map = model_->Forward(input).attention[0];
  ForwardInput plain(tokens_);
  plain.return_attention = true;
  const at::Tensor clean = model_->Forward(plain).attention[0];
  for (int64_t h = 0; h < config_.n_head; ++h) {
    const at::Tensor want = h == spec.heads[0] ? source_map : clean;
    EXPECT_TRUE(at::equal(map.select(1, h), want.select(1, h))) << h;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, InterventionTest,
                         ::testing::Values("base", "qkv_gelu", "separate_qkv",
                                           "score_fcn"));

}  // namespace
}  // namespace tinylm
