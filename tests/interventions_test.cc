// The command line's interventions (client/interventions.h): --ablate and
// --patch items as API messages, their refusals, and the effect as text.
#include "client/interventions.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

TEST(InterventionsTest, AblationsAndPatchesBecomeMessages) {
  CliOptions o;
  o.ablate = {"head:2.1", "attn:3:mean", "mlp:0:zero"};
  o.patch = {"residual:4@5", "pattern:1.0"};
  o.patch_prompt = "吾輩は犬である。";
  absl::StatusOr<std::vector<v1::Intervention>> got =
      InterventionsFromFlags(o);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 5u);
  const v1::Ablation& head = (*got)[0].ablate();
  EXPECT_EQ(head.site(), v1::INTERVENTION_SITE_HEAD_OUTPUT);
  EXPECT_EQ(head.layer(), 2u);
  EXPECT_THAT(head.heads(), ::testing::ElementsAre(1u));
  EXPECT_EQ(head.mode(), v1::ABLATION_MODE_UNSPECIFIED);  // zero
  EXPECT_EQ((*got)[1].ablate().site(), v1::INTERVENTION_SITE_ATTENTION_OUTPUT);
  EXPECT_EQ((*got)[1].ablate().mode(), v1::ABLATION_MODE_MEAN);
  EXPECT_EQ((*got)[2].ablate().mode(), v1::ABLATION_MODE_ZERO);
  const v1::Patch& residual = (*got)[3].patch();
  EXPECT_EQ(residual.site(), v1::INTERVENTION_SITE_RESIDUAL);
  EXPECT_EQ(residual.layer(), 4u);
  EXPECT_THAT(residual.positions(), ::testing::ElementsAre(5u));
  EXPECT_EQ(residual.source_text(), o.patch_prompt);
  const v1::Patch& pattern = (*got)[4].patch();
  EXPECT_EQ(pattern.site(), v1::INTERVENTION_SITE_ATTENTION_PATTERN);
  EXPECT_THAT(pattern.heads(), ::testing::ElementsAre(0u));
  EXPECT_TRUE(pattern.positions().empty());
}

TEST(InterventionsTest, MalformedItemsAreRefusedNamingTheFlag) {
  for (const char* item : {"head", "neck:1", "attn:x", "attn:1:median",
                           "mlp:1.2.3", "head:1:mean:extra"}) {
    CliOptions o;
    o.ablate = {item};
    absl::StatusOr<std::vector<v1::Intervention>> got =
        InterventionsFromFlags(o);
    ASSERT_FALSE(got.ok()) << item;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(got.status().message(),
                HasSubstr(std::string("--ablate=") + item));
  }
  CliOptions o;
  o.patch = {"residual:1@x"};
  o.patch_prompt = "x";
  EXPECT_THAT(InterventionsFromFlags(o).status().message(),
              HasSubstr("--patch=residual:1@x"));
  o.patch = {"residual:1"};
  o.patch_prompt.clear();
  EXPECT_THAT(InterventionsFromFlags(o).status().message(),
              HasSubstr("--patch needs --patch_prompt"));
}

TEST(InterventionsTest, TheEffectSaysWhatChangedOrThatNothingDid) {
  v1::InterventionEffect e;
  e.set_mean_kl(0.5f);
  e.set_max_kl(0.5f);
  e.set_positions(1);
  e.set_max_logit_change(2.0f);
  e.mutable_clean_top()->set_piece("町");
  e.mutable_clean_top()->set_probability(0.33f);
  e.mutable_intervened_top()->set_piece("\n");
  e.mutable_intervened_top()->set_probability(0.12f);
  EXPECT_EQ(FormatEffect(e),
            "KL 0.5000 nats (max 0.5000) over 1 position; top token \"町\" "
            "p=0.33 -> \"\\n\" p=0.12");
  e.set_max_logit_change(0.0f);
  EXPECT_THAT(FormatEffect(e), HasSubstr("changed nothing"));
  const nlohmann::json json = EffectJson(e);
  EXPECT_EQ(json["positions"], 1);
  EXPECT_EQ(json["clean_top"]["piece"], "町");
}

}  // namespace
}  // namespace tinylm
