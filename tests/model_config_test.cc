// ModelConfig: presets, variant flags, JSON round trip, and every
// validation error naming the field at fault.
#include "models/config.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

bool SameConfig(const ModelConfig& a, const ModelConfig& b) {
  return a.vocab_size == b.vocab_size && a.n_embd == b.n_embd &&
         a.n_layer == b.n_layer && a.n_head == b.n_head &&
         a.n_query_groups == b.n_query_groups &&
         a.intermediate_size == b.intermediate_size &&
         a.block_size == b.block_size && a.norm_eps == b.norm_eps &&
         a.rope_base == b.rope_base && a.qkv_bias == b.qkv_bias &&
         a.qkv_activation == b.qkv_activation &&
         a.separate_qkv == b.separate_qkv && a.score_fcn == b.score_fcn;
}

TEST(ModelConfigTest, VariantPresetsSetTheSpecFlags) {
  EXPECT_EQ(VariantNames(), (std::vector<std::string>{
                                "base", "qkv_gelu", "separate_qkv",
                                "score_fcn"}));
  struct Flags {
    bool bias, activation, separate, score;
  };
  const Flags expected[] = {{false, false, false, false},
                            {true, true, false, false},
                            {true, true, true, false},
                            {true, true, true, true}};
  for (size_t i = 0; i < VariantNames().size(); ++i) {
    const std::string& name = VariantNames()[i];
    ModelConfig c;
    ASSERT_TRUE(ApplyVariant(name, c).ok()) << name;
    EXPECT_EQ(c.qkv_bias, expected[i].bias) << name;
    EXPECT_EQ(c.qkv_activation, expected[i].activation) << name;
    EXPECT_EQ(c.separate_qkv, expected[i].separate) << name;
    EXPECT_EQ(c.score_fcn, expected[i].score) << name;
    EXPECT_EQ(c.VariantName(), name);
  }
  ModelConfig custom;
  custom.score_fcn = true;  // score term on the fused base projection
  EXPECT_EQ(custom.VariantName(), "custom");
  EXPECT_TRUE(custom.Validate().ok());
  // LLaMA-2's own block: separate q, k, v without bias or activation.
  ModelConfig llama;
  llama.separate_qkv = true;
  EXPECT_EQ(llama.VariantName(), "llama");
  EXPECT_FALSE(ApplyVariant("llama", llama).ok());  // not a study preset
}

TEST(ModelConfigTest, SizePresetsAreValidAndMatchTheArticle) {
  EXPECT_EQ(SizeNames(),
            (std::vector<std::string>{"tiny", "small", "article"}));
  for (const std::string& size : SizeNames()) {
    for (const std::string& variant : VariantNames()) {
      absl::StatusOr<ModelConfig> c = MakeConfig(size, variant);
      ASSERT_TRUE(c.ok()) << size << " " << variant << ": " << c.status();
      EXPECT_TRUE(c->Validate().ok()) << size << " " << variant;
      EXPECT_EQ(c->VariantName(), variant);
      EXPECT_EQ(c->norm_eps, 1e-5);
      EXPECT_EQ(c->rope_base, 10000.0);
    }
  }
  // The article's models (and the shipped ones) have one head, ten layers.
  for (const char* size : {"small", "article"}) {
    absl::StatusOr<ModelConfig> c = SizePreset(size);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->n_head, 1) << size;
    EXPECT_EQ(c->n_query_groups, 1) << size;
    EXPECT_EQ(c->n_layer, 10) << size;
  }
  // "tiny" exercises multi-head and grouped-query attention in tests.
  absl::StatusOr<ModelConfig> tiny = SizePreset("tiny");
  ASSERT_TRUE(tiny.ok());
  EXPECT_GT(tiny->n_head, tiny->n_query_groups);
}

TEST(ModelConfigTest, UnknownPresetNamesAreRejectedByName) {
  absl::StatusOr<ModelConfig> c = MakeConfig("huge", "base");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("huge"));
  c = MakeConfig("tiny", "linformer");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("linformer"));
  ModelConfig untouched;
  EXPECT_FALSE(ApplyVariant("", untouched).ok());
  EXPECT_TRUE(SameConfig(untouched, ModelConfig()));
}

TEST(ModelConfigTest, JsonRoundTrip) {
  std::vector<ModelConfig> configs;
  for (const std::string& variant : VariantNames()) {
    configs.push_back(*MakeConfig("small", variant));
  }
  ModelConfig odd;  // every field away from its default
  odd.vocab_size = 123;
  odd.n_embd = 48;
  odd.n_layer = 3;
  odd.n_head = 6;
  odd.n_query_groups = 3;
  odd.intermediate_size = 77;
  odd.block_size = 19;
  odd.norm_eps = 1.25e-6;
  odd.rope_base = 500000.5;
  odd.qkv_bias = true;
  odd.separate_qkv = true;
  configs.push_back(odd);
  for (const ModelConfig& c : configs) {
    nlohmann::json j;
    ToJson(c, j);
    EXPECT_EQ(j["variant"], c.VariantName());
    // Through text, as config.json is written and read.
    const nlohmann::json reread = nlohmann::json::parse(j.dump(2));
    absl::StatusOr<ModelConfig> back = ConfigFromJson(reread, "config.json");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(SameConfig(*back, c)) << j.dump();
  }
}

nlohmann::json ValidJson() {
  nlohmann::json j;
  ToJson(*MakeConfig("tiny", "score_fcn"), j);
  return j;
}

TEST(ModelConfigTest, JsonErrorsNameTheFileAndField) {
  absl::StatusOr<ModelConfig> c =
      ConfigFromJson(nlohmann::json::array(), "ckpt/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("ckpt/config.json"));

  for (const char* field :
       {"vocab_size", "n_embd", "n_layer", "n_head", "n_query_groups",
        "intermediate_size", "block_size", "norm_eps", "rope_base",
        "qkv_bias", "qkv_activation", "separate_qkv", "score_fcn"}) {
    nlohmann::json missing = ValidJson();
    missing.erase(field);
    c = ConfigFromJson(missing, "ckpt/config.json");
    ASSERT_FALSE(c.ok()) << field;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(field));
    EXPECT_THAT(std::string(c.status().message()),
                HasSubstr("ckpt/config.json"));

    nlohmann::json wrong = ValidJson();
    wrong[field] = "12";  // a string is never an accepted type
    c = ConfigFromJson(wrong, "ckpt/config.json");
    ASSERT_FALSE(c.ok()) << field;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(field));
  }
  nlohmann::json fractional = ValidJson();
  fractional["n_embd"] = 16.5;
  EXPECT_FALSE(ConfigFromJson(fractional, "x").ok());
  nlohmann::json int_flag = ValidJson();
  int_flag["score_fcn"] = 1;
  EXPECT_FALSE(ConfigFromJson(int_flag, "x").ok());

  // Values that parse but do not validate: the file and the field.
  nlohmann::json bad_heads = ValidJson();
  bad_heads["n_query_groups"] = 3;
  c = ConfigFromJson(bad_heads, "ckpt/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("ckpt/config.json"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("n_query_groups"));
}

struct BadField {
  const char* field;  // must appear in the message
  std::function<void(ModelConfig&)> mutate;
};

TEST(ModelConfigTest, EveryValidationErrorNamesTheField) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<BadField> cases = {
      {"vocab_size", [](ModelConfig& c) { c.vocab_size = 0; }},
      {"n_embd", [](ModelConfig& c) { c.n_embd = -16; }},
      {"n_layer", [](ModelConfig& c) { c.n_layer = 0; }},
      {"n_head", [](ModelConfig& c) { c.n_head = 0; }},
      {"n_query_groups", [](ModelConfig& c) { c.n_query_groups = 0; }},
      {"intermediate_size", [](ModelConfig& c) { c.intermediate_size = -1; }},
      {"block_size", [](ModelConfig& c) { c.block_size = 0; }},
      // 18 is not a multiple of 4 heads.
      {"n_head", [](ModelConfig& c) { c.n_embd = 18, c.n_head = 4; }},
      // Head size 3 cannot be split into rotated halves.
      {"head size", [](ModelConfig& c) { c.n_embd = 6, c.n_head = 2; }},
      {"n_query_groups",
       [](ModelConfig& c) { c.n_head = 4, c.n_query_groups = 3; }},
      {"norm_eps", [](ModelConfig& c) { c.norm_eps = 0.0; }},
      {"norm_eps", [nan](ModelConfig& c) { c.norm_eps = nan; }},
      {"rope_base", [](ModelConfig& c) { c.rope_base = 1.0; }},
      {"rope_base", [nan](ModelConfig& c) { c.rope_base = nan; }},
  };
  for (const BadField& bad : cases) {
    ModelConfig c = *MakeConfig("tiny", "base");
    ASSERT_TRUE(c.Validate().ok());
    bad.mutate(c);
    const absl::Status status = c.Validate();
    ASSERT_FALSE(status.ok()) << bad.field;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr(bad.field));
  }
}

}  // namespace
}  // namespace tinylm
