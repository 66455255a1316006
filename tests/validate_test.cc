// Request validation (server/rpc/validate.h): what a valid request becomes
// for the engine, defaults included. The refusals of bad fields are checked
// through the real service in server_errors_test.cc and fuzzed by
// tests/fuzz/validate_fuzz.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "server/rpc/validate.h"
#include "tests/scratch_dir.h"
#include "tests/test_checkpoints.h"

namespace tinylm {
namespace {

constexpr char kPrompt[] = "吾輩は猫である。";

class ValidateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const absl::StatusOr<std::string> dir =
        TestCheckpointsDir(ScratchDir() + "/checkpoints");
    ASSERT_TRUE(dir.ok()) << dir.status();
    RegistryOptions options;
    options.checkpoints_dir = *dir;
    options.device = "cpu";
    options.scheduler.max_batch = 1;
    auto loaded = ModelRegistry::Load(options);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    registry_ = loaded->release();
  }
  static void TearDownTestSuite() { delete registry_; }

  static const ModelRegistry& registry() { return *registry_; }
  static const ServedModel& base() { return **registry_->Find("base"); }

  const ServiceLimits limits_;
  const absl::Time deadline_ = absl::Now() + absl::Minutes(1);

 private:
  static ModelRegistry* registry_;
};

ModelRegistry* ValidateTest::registry_ = nullptr;

TEST_F(ValidateTest, GenerateFillsTheDefaults) {
  v1::GenerateRequest in;
  in.set_model("base");
  in.set_text(kPrompt);
  auto valid = ValidateGenerate(in, registry(), limits_, deadline_);
  ASSERT_TRUE(valid.ok()) << valid.status();
  EXPECT_EQ(valid->model, &base());
  const GenerationRequest& r = valid->request;
  EXPECT_EQ(r.prompt, *base().tokenizer->Encode(kPrompt));
  const int64_t room = base().config.block_size - int64_t(r.prompt.size());
  EXPECT_EQ(r.max_new_tokens, std::min<int64_t>(64, room));
  EXPECT_EQ(r.sampling.temperature, 1.0);
  EXPECT_EQ(r.sampling.top_p, 1.0);
  EXPECT_EQ(r.sampling.repetition_penalty, 1.0);
  EXPECT_TRUE(r.stream_tokens);
  EXPECT_EQ(r.max_tokens_per_message, 1);  // 0: a message per token
  EXPECT_FALSE(r.analysis.has_value());
  EXPECT_EQ(r.deadline, deadline_);
}

TEST_F(ValidateTest, GivenValuesAreKept) {
  v1::GenerateRequest in;
  in.set_model("base");
  in.mutable_token_ids()->add_ids(5);
  in.mutable_token_ids()->add_ids(9);
  in.set_max_new_tokens(3);
  in.set_top_n(2);
  in.set_max_tokens_per_message(8);
  in.add_stop("。");
  v1::SamplingParams* s = in.mutable_sampling();
  s->set_temperature(0.5f);
  s->set_top_k(7);
  s->set_top_p(0.9f);
  s->set_seed(uint64_t{1} << 63);
  auto valid = ValidateGenerate(in, registry(), limits_, deadline_);
  ASSERT_TRUE(valid.ok()) << valid.status();
  const GenerationRequest& r = valid->request;
  EXPECT_EQ(r.prompt, (std::vector<int64_t>{5, 9}));
  EXPECT_EQ(r.max_new_tokens, 3);
  EXPECT_EQ(r.top_n, 2);
  EXPECT_EQ(r.max_tokens_per_message, 8);
  EXPECT_EQ(r.stop, std::vector<std::string>{"。"});
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.5);
  EXPECT_EQ(r.sampling.top_k, 7);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9);
  EXPECT_EQ(r.sampling.seed, uint64_t{1} << 63);
}

TEST_F(ValidateTest, TinyTemperaturesAreGreedy) {
  v1::GenerateRequest in;
  in.set_model("base");
  in.set_text(kPrompt);
  in.mutable_sampling()->set_temperature(1e-6f);
  EXPECT_EQ(ValidateGenerate(in, registry(), limits_, deadline_)
                ->request.sampling.temperature,
            0.0);
}

TEST_F(ValidateTest, TopKAnalysesThePromptOnly) {
  v1::TopKRequest in;
  in.set_model("base");
  in.set_text(kPrompt);
  in.set_k(5);
  auto valid = ValidateTopK(in, registry(), limits_, deadline_);
  ASSERT_TRUE(valid.ok()) << valid.status();
  EXPECT_EQ(valid->request.max_new_tokens, 0);
  EXPECT_FALSE(valid->request.stream_tokens);
  ASSERT_TRUE(valid->request.analysis.has_value());
  EXPECT_EQ(valid->request.analysis->top_k, 5);
}

TEST_F(ValidateTest, AttentionMapsAreGreedyAndCoverEverythingByDefault) {
  v1::AttentionMapsRequest in;
  in.set_model("base");
  in.set_text(kPrompt);
  in.set_continuation_tokens(2);
  auto valid = ValidateAttentionMaps(in, registry(), limits_, deadline_);
  ASSERT_TRUE(valid.ok()) << valid.status();
  const GenerationRequest& r = valid->request;
  EXPECT_EQ(r.max_new_tokens, 2);
  EXPECT_EQ(r.sampling.temperature, 0.0);
  const AnalysisOptions& a = *r.analysis;
  EXPECT_TRUE(a.attention);
  EXPECT_EQ(int64_t(a.layers.size()), base().config.n_layer);
  EXPECT_EQ(int64_t(a.heads.size()), base().config.n_head);
  EXPECT_FALSE(a.half);

  in.mutable_sampling()->set_seed(3);  // sampling given: its temperature
  EXPECT_EQ(ValidateAttentionMaps(in, registry(), limits_, deadline_)
                ->request.sampling.temperature,
            1.0);
}

TEST_F(ValidateTest, CompareRunsEveryModelWithOneSeed) {
  v1::CompareRequest in;
  in.set_prompt(kPrompt);
  auto valid = ValidateCompare(in, registry(), limits_, deadline_);
  ASSERT_TRUE(valid.ok()) << valid.status();
  ASSERT_EQ(valid->size(), registry().models().size());
  for (size_t i = 0; i < valid->size(); ++i) {
    const ValidRequest& v = (*valid)[i];
    EXPECT_EQ(v.model, registry().models()[i].get());  // registry order
    EXPECT_EQ(v.request.sampling.seed, (*valid)[0].request.sampling.seed);
    EXPECT_EQ(v.request.analysis->top_k, 5);
    EXPECT_TRUE(v.request.analysis->entropy);
  }
}

TEST_F(ValidateTest, LogitLensReadsTheLastPositionByDefault) {
  v1::LogitLensRequest in;
  in.set_model("base");
  in.set_text(kPrompt);
  auto valid = ValidateLogitLens(in, registry(), limits_, deadline_);
  ASSERT_TRUE(valid.ok()) << valid.status();
  const GenerationRequest& r = valid->request;
  EXPECT_EQ(r.max_new_tokens, 0);
  ASSERT_TRUE(r.analysis->lens.has_value());
  EXPECT_EQ(r.analysis->lens->k, 5);
  EXPECT_THAT(r.analysis->lens->positions,
              ::testing::ElementsAre(int64_t(r.prompt.size()) - 1));

  in.set_k(2);
  in.add_positions(3);
  in.add_positions(0);  // kept in request order
  valid = ValidateLogitLens(in, registry(), limits_, deadline_);
  ASSERT_TRUE(valid.ok()) << valid.status();
  EXPECT_EQ(valid->request.analysis->lens->k, 2);
  EXPECT_THAT(valid->request.analysis->lens->positions,
              ::testing::ElementsAre(3, 0));
}

TEST_F(ValidateTest, ScoreReadsTheTextUnderEveryModel) {
  v1::ScoreRequest in;
  in.set_text(kPrompt);
  auto valid = ValidateScore(in, registry(), limits_, deadline_);
  ASSERT_TRUE(valid.ok()) << valid.status();
  ASSERT_EQ(valid->size(), registry().models().size());
  for (size_t i = 0; i < valid->size(); ++i) {
    const ValidRequest& v = (*valid)[i];
    EXPECT_EQ(v.model, registry().models()[i].get());  // registry order
    EXPECT_EQ(v.request.prompt, *v.model->tokenizer->Encode(kPrompt));
    EXPECT_EQ(v.request.max_new_tokens, 0);
    EXPECT_TRUE(v.request.analysis->score);
    EXPECT_TRUE(v.request.interventions.empty());
  }
}

TEST_F(ValidateTest, InterventionsBecomeTheModelsSpecs) {
  v1::TopKRequest in;
  in.set_model("base");
  in.set_text(kPrompt);
  in.set_k(1);
  v1::Ablation* ablate = in.add_interventions()->mutable_ablate();
  ablate->set_site(v1::INTERVENTION_SITE_HEAD_OUTPUT);
  ablate->set_layer(1);
  ablate->add_heads(1);
  ablate->set_mode(v1::ABLATION_MODE_MEAN);
  v1::Patch* patch = in.add_interventions()->mutable_patch();
  patch->set_site(v1::INTERVENTION_SITE_RESIDUAL);
  patch->set_layer(0);
  patch->set_source_text(kPrompt);
  patch->add_positions(2);
  auto valid = ValidateTopK(in, registry(), limits_, deadline_);
  ASSERT_TRUE(valid.ok()) << valid.status();
  const std::vector<InterventionSpec>& specs = valid->request.interventions;
  ASSERT_EQ(specs.size(), 2u);  // in request order
  EXPECT_EQ(specs[0].point, HookPoint::kHeadOutputs);
  EXPECT_EQ(specs[0].action, InterventionSpec::Action::kMean);
  EXPECT_EQ(specs[0].layer, 1);
  EXPECT_THAT(specs[0].heads, ::testing::ElementsAre(1));
  EXPECT_EQ(specs[1].point, HookPoint::kResidual);
  EXPECT_EQ(specs[1].action, InterventionSpec::Action::kPatch);
  EXPECT_EQ(specs[1].source, valid->request.prompt);
  EXPECT_THAT(specs[1].positions, ::testing::ElementsAre(2));

  ablate->clear_mode();  // unspecified: zero
  valid = ValidateTopK(in, registry(), limits_, deadline_);
  ASSERT_TRUE(valid.ok()) << valid.status();
  EXPECT_EQ(valid->request.interventions[0].action,
            InterventionSpec::Action::kZero);
}

}  // namespace
}  // namespace tinylm
