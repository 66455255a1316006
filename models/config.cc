#include "models/config.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace tinylm {
namespace {

struct VariantFlags {
  const char* name;
  bool qkv_bias, qkv_activation, separate_qkv, score_fcn;
};

// Each variant contains the previous one's change (SPEC §2).
constexpr VariantFlags kVariants[] = {
    {"base", false, false, false, false},
    {"qkv_gelu", true, true, false, false},
    {"separate_qkv", true, true, true, false},
    {"score_fcn", true, true, true, true},
};

// LLaMA-2's own block, as Hugging Face checkpoints hold it: separate q, k, v
// linears without bias or activation. A name for what is served, not a
// preset of the study.
constexpr VariantFlags kLlama = {"llama", false, false, true, false};

ModelConfig TinyConfig() {
  ModelConfig c;
  c.vocab_size = 64;
  c.n_embd = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_query_groups = 1;
  c.intermediate_size = 32;
  c.block_size = 32;
  return c;
}

// The shipped size: n_head = 1 and n_layer = 10 as in the article; width
// chosen so that the four checkpoints together stay under 32 MB in bf16.
ModelConfig SmallConfig() { return ModelConfig(); }

// The article's ~100M model (108M with a 32000-token vocabulary): one head,
// ten layers, GPT-2-small width.
ModelConfig ArticleConfig() {
  ModelConfig c;
  c.vocab_size = 32000;
  c.n_embd = 768;
  c.n_layer = 10;
  c.n_head = 1;
  c.n_query_groups = 1;
  c.intermediate_size = 1536;
  c.block_size = 1024;
  return c;
}

}  // namespace

int64_t ModelConfig::ParameterCount() const {
  const int64_t C = n_embd, hs = head_size();
  const int64_t qkv_out = (n_head + 2 * n_query_groups) * hs;
  int64_t per_layer = 2 * C;                    // norm_1, norm_2
  per_layer += C * qkv_out;                     // q, k, v weights
  if (qkv_bias) per_layer += qkv_out;           // their biases
  per_layer += n_head * hs * C;                 // attention output proj
  per_layer += 3 * C * intermediate_size;       // SwiGLU fc_1, fc_2, proj
  if (score_fcn) per_layer += (C + 1) * n_head * block_size;
  return vocab_size * C                         // token embedding
         + n_layer * per_layer + C              // blocks, final norm
         + C * vocab_size;                      // lm_head
}

std::string ModelConfig::VariantName() const {
  auto matches = [this](const VariantFlags& v) {
    return v.qkv_bias == qkv_bias && v.qkv_activation == qkv_activation &&
           v.separate_qkv == separate_qkv && v.score_fcn == score_fcn;
  };
  for (const VariantFlags& v : kVariants) {
    if (matches(v)) return v.name;
  }
  return matches(kLlama) ? kLlama.name : "custom";
}

absl::Status ModelConfig::Validate() const {
  auto positive = [](const char* name, int64_t value) -> absl::Status {
    if (value > 0) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be positive, got ", value));
  };
  for (const auto& [name, value] :
       {std::pair<const char*, int64_t>{"vocab_size", vocab_size},
        {"n_embd", n_embd},
        {"n_layer", n_layer},
        {"n_head", n_head},
        {"n_query_groups", n_query_groups},
        {"intermediate_size", intermediate_size},
        {"block_size", block_size}}) {
    absl::Status s = positive(name, value);
    if (!s.ok()) return s;
  }
  if (n_embd % n_head != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "n_embd (", n_embd, ") must be a multiple of n_head (", n_head, ")"));
  }
  if (head_size() % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "head size n_embd/n_head = ", head_size(), " must be even for RoPE"));
  }
  if (n_head % n_query_groups != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("n_head (", n_head, ") must be a multiple of ",
                     "n_query_groups (", n_query_groups, ")"));
  }
  if (!(norm_eps > 0.0) || !(rope_base > 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "norm_eps must be > 0 and rope_base > 1, got ", norm_eps, " and ",
        rope_base));
  }
  return absl::OkStatus();
}

const std::vector<std::string>& VariantNames() {
  static const auto* names = new std::vector<std::string>{
      kVariants[0].name, kVariants[1].name, kVariants[2].name,
      kVariants[3].name};
  return *names;
}

absl::Status ApplyVariant(absl::string_view variant, ModelConfig& config) {
  for (const VariantFlags& v : kVariants) {
    if (variant == v.name) {
      config.qkv_bias = v.qkv_bias;
      config.qkv_activation = v.qkv_activation;
      config.separate_qkv = v.separate_qkv;
      config.score_fcn = v.score_fcn;
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown variant '", variant,
                   "'; expected one of: ", absl::StrJoin(VariantNames(), ", ")));
}

const std::vector<std::string>& SizeNames() {
  static const auto* names =
      new std::vector<std::string>{"tiny", "small", "article"};
  return *names;
}

absl::StatusOr<ModelConfig> SizePreset(absl::string_view size) {
  if (size == "tiny") return TinyConfig();
  if (size == "small") return SmallConfig();
  if (size == "article") return ArticleConfig();
  return absl::InvalidArgumentError(
      absl::StrCat("unknown size preset '", size,
                   "'; expected one of: ", absl::StrJoin(SizeNames(), ", ")));
}

absl::StatusOr<ModelConfig> MakeConfig(absl::string_view size,
                                       absl::string_view variant) {
  absl::StatusOr<ModelConfig> config = SizePreset(size);
  if (!config.ok()) return config.status();
  absl::Status s = ApplyVariant(variant, *config);
  if (!s.ok()) return s;
  return config;
}

void ToJson(const ModelConfig& c, nlohmann::json& out) {
  out["variant"] = c.VariantName();
  out["vocab_size"] = c.vocab_size;
  out["n_embd"] = c.n_embd;
  out["n_layer"] = c.n_layer;
  out["n_head"] = c.n_head;
  out["n_query_groups"] = c.n_query_groups;
  out["intermediate_size"] = c.intermediate_size;
  out["block_size"] = c.block_size;
  out["norm_eps"] = c.norm_eps;
  out["rope_base"] = c.rope_base;
  out["qkv_bias"] = c.qkv_bias;
  out["qkv_activation"] = c.qkv_activation;
  out["separate_qkv"] = c.separate_qkv;
  out["score_fcn"] = c.score_fcn;
}

absl::StatusOr<ModelConfig> ConfigFromJson(const nlohmann::json& in,
                                           absl::string_view source) {
  if (!in.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the model config must be a JSON object"));
  }
  ModelConfig c;
  absl::Status status;
  auto read_int = [&](const char* key, int64_t& field) {
    if (!status.ok()) return;
    auto it = in.find(key);
    if (it == in.end() || !it->is_number_integer()) {
      status = absl::InvalidArgumentError(absl::StrCat(
          source, ": field '", key, "' is missing or not an integer"));
      return;
    }
    field = it->get<int64_t>();
  };
  auto read_double = [&](const char* key, double& field) {
    if (!status.ok()) return;
    auto it = in.find(key);
    if (it == in.end() || !it->is_number()) {
      status = absl::InvalidArgumentError(absl::StrCat(
          source, ": field '", key, "' is missing or not a number"));
      return;
    }
    field = it->get<double>();
  };
  auto read_bool = [&](const char* key, bool& field) {
    if (!status.ok()) return;
    auto it = in.find(key);
    if (it == in.end() || !it->is_boolean()) {
      status = absl::InvalidArgumentError(absl::StrCat(
          source, ": field '", key, "' is missing or not a boolean"));
      return;
    }
    field = it->get<bool>();
  };
  read_int("vocab_size", c.vocab_size);
  read_int("n_embd", c.n_embd);
  read_int("n_layer", c.n_layer);
  read_int("n_head", c.n_head);
  read_int("n_query_groups", c.n_query_groups);
  read_int("intermediate_size", c.intermediate_size);
  read_int("block_size", c.block_size);
  read_double("norm_eps", c.norm_eps);
  read_double("rope_base", c.rope_base);
  read_bool("qkv_bias", c.qkv_bias);
  read_bool("qkv_activation", c.qkv_activation);
  read_bool("separate_qkv", c.separate_qkv);
  read_bool("score_fcn", c.score_fcn);
  if (!status.ok()) return status;
  absl::Status valid = c.Validate();
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", valid.message()));
  }
  return c;
}

}  // namespace tinylm
