#include "models/hf_config.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "util/json_file.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

using nlohmann::json;

// LlamaConfig's defaults, for keys a config.json leaves out.
constexpr int64_t kDefaultContext = 2048;
constexpr double kDefaultNormEps = 1e-6;
constexpr double kDefaultRopeTheta = 10000.0;

// The value of `key`, or null when it is absent (both mean "the default").
const json& Get(const json& config, const char* key) {
  static const json* null = new json();
  auto it = config.find(key);
  return it == config.end() ? *null : *it;
}

absl::Status Refuse(const std::string& path, const char* key, const json& value,
                    absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": ", key, " = ", QuoteJson(value), ": ", why));
}

absl::StatusOr<int64_t> ReadPositive(const json& config,
                                     const std::string& path, const char* key,
                                     std::optional<int64_t> fallback) {
  const json& value = Get(config, key);
  if (value.is_null() && fallback.has_value()) return *fallback;
  if (value.is_null()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", key, " is missing"));
  }
  if (!value.is_number_integer() || value.get<int64_t>() <= 0) {
    return Refuse(path, key, value, "must be a positive integer");
  }
  return value.get<int64_t>();
}

absl::StatusOr<double> ReadNumber(const json& config, const std::string& path,
                                  const char* key, double fallback) {
  const json& value = Get(config, key);
  if (value.is_null()) return fallback;
  if (!value.is_number()) return Refuse(path, key, value, "must be a number");
  return value.get<double>();
}

absl::StatusOr<bool> ReadBool(const json& config, const std::string& path,
                              const char* key, bool fallback) {
  const json& value = Get(config, key);
  if (value.is_null()) return fallback;
  if (!value.is_boolean()) return Refuse(path, key, value, "must be a boolean");
  return value.get<bool>();
}

// A token id: an integer, null, or (eos_token_id) a list of one integer.
absl::StatusOr<int64_t> ReadTokenId(const json& config, const std::string& path,
                                    const char* key) {
  json value = Get(config, key);
  if (value.is_array() && value.size() == 1) value = value[0];
  if (value.is_null()) return -1;
  if (!value.is_number_integer() || value.get<int64_t>() < 0) {
    return Refuse(path, key, value,
                  "must be one non-negative integer (tinylm stops on one "
                  "end-of-sequence id)");
  }
  return value.get<int64_t>();
}

// The model family and head: only LlamaForCausalLM is tinylm's model.
absl::Status CheckArchitecture(const json& config, const std::string& path) {
  const json& type = Get(config, "model_type");
  if (type != "llama") {
    return Refuse(path, "model_type", type,
                  "only Llama checkpoints (model_type \"llama\") load");
  }
  const json& architectures = Get(config, "architectures");
  if (architectures.is_null()) return absl::OkStatus();
  if (architectures.is_array()) {
    for (const json& a : architectures) {
      if (a == "LlamaForCausalLM") return absl::OkStatus();
    }
  }
  return Refuse(path, "architectures", architectures,
                "the weights must be a LlamaForCausalLM (a language-model "
                "head over the vocabulary)");
}

// What the block computes: SiLU MLP without biases, unscaled RoPE.
absl::Status CheckBlock(const json& config, const std::string& path) {
  const json& act = Get(config, "hidden_act");
  if (!act.is_null() && act != "silu" && act != "swish") {
    return Refuse(path, "hidden_act", act,
                  "tinylm's MLP is SwiGLU (hidden_act \"silu\")");
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    TINYLM_ASSIGN_OR_RETURN(const bool bias,
                            ReadBool(config, path, key, false));
    if (bias) {
      return Refuse(path, key, true,
                    "tinylm's Llama block has no biases on its projections");
    }
  }
  // transformers 4 writes rope_scaling (null when unscaled); 5 writes
  // rope_parameters with rope_type "default" when unscaled.
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    const json& rope = Get(config, key);
    if (rope.is_null()) continue;
    const json& type =
        rope.is_object()
            ? Get(rope, rope.contains("rope_type") ? "rope_type" : "type")
            : rope;
    if (type != "default") {
      return Refuse(path, key, rope,
                    "RoPE scaling is not supported (tinylm's RoPE is the "
                    "unscaled rotate-half of LLaMA-2)");
    }
  }
  if (config.contains("quantization_config")) {
    return Refuse(path, "quantization_config",
                  Get(config, "quantization_config"),
                  "quantized weights are not supported (float32, bfloat16 "
                  "or float16 only)");
  }
  return absl::OkStatus();
}

absl::StatusOr<double> ReadRopeTheta(const json& config,
                                     const std::string& path) {
  const json& parameters = Get(config, "rope_parameters");
  if (parameters.is_object() && parameters.contains("rope_theta")) {
    return ReadNumber(parameters, path + ": rope_parameters", "rope_theta",
                      kDefaultRopeTheta);
  }
  return ReadNumber(config, path, "rope_theta", kDefaultRopeTheta);
}

// The head layout, checked in the file's own terms before ModelConfig's
// checks (which speak of n_embd and n_head) can fail.
absl::Status CheckHeads(const json& config, const std::string& path,
                        const ModelConfig& c) {
  if (c.n_embd % c.n_head != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": hidden_size ", c.n_embd,
                     " is not a multiple of num_attention_heads ", c.n_head));
  }
  if (c.n_head % c.n_query_groups != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": num_attention_heads ", c.n_head,
        " is not a multiple of num_key_value_heads ", c.n_query_groups));
  }
  const json& head_dim = Get(config, "head_dim");
  if (!head_dim.is_null() && head_dim != c.head_size()) {
    return Refuse(path, "head_dim", head_dim,
                  absl::StrCat("tinylm's heads are hidden_size / "
                               "num_attention_heads = ",
                               c.head_size(), " wide"));
  }
  if (c.head_size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the head size ", c.head_size(),
                     " (hidden_size / num_attention_heads) must be even for "
                     "RoPE"));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsHfConfig(const json& config) {
  return config.is_object() &&
         (config.contains("model_type") || config.contains("architectures"));
}

absl::StatusOr<HfLlamaConfig> HfConfigFromJson(const json& config,
                                               const std::string& path) {
  if (!config.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a JSON object"));
  }
  TINYLM_RETURN_IF_ERROR(CheckArchitecture(config, path));
  TINYLM_RETURN_IF_ERROR(CheckBlock(config, path));
  HfLlamaConfig out;
  ModelConfig& c = out.model;
  TINYLM_ASSIGN_OR_RETURN(c.vocab_size,
                          ReadPositive(config, path, "vocab_size", {}));
  TINYLM_ASSIGN_OR_RETURN(c.n_embd,
                          ReadPositive(config, path, "hidden_size", {}));
  TINYLM_ASSIGN_OR_RETURN(c.intermediate_size,
                          ReadPositive(config, path, "intermediate_size", {}));
  TINYLM_ASSIGN_OR_RETURN(c.n_layer,
                          ReadPositive(config, path, "num_hidden_layers", {}));
  TINYLM_ASSIGN_OR_RETURN(
      c.n_head, ReadPositive(config, path, "num_attention_heads", {}));
  TINYLM_ASSIGN_OR_RETURN(
      c.n_query_groups,
      ReadPositive(config, path, "num_key_value_heads", c.n_head));
  TINYLM_ASSIGN_OR_RETURN(
      c.block_size,
      ReadPositive(config, path, "max_position_embeddings", kDefaultContext));
  TINYLM_ASSIGN_OR_RETURN(
      c.norm_eps, ReadNumber(config, path, "rms_norm_eps", kDefaultNormEps));
  TINYLM_ASSIGN_OR_RETURN(c.rope_base, ReadRopeTheta(config, path));
  c.qkv_bias = false;
  c.qkv_activation = false;
  c.separate_qkv = true;
  c.score_fcn = false;
  TINYLM_RETURN_IF_ERROR(CheckHeads(config, path, c));
  const absl::Status valid = c.Validate();
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", valid.message()));
  }
  TINYLM_ASSIGN_OR_RETURN(out.tie_word_embeddings,
                          ReadBool(config, path, "tie_word_embeddings", false));
  TINYLM_ASSIGN_OR_RETURN(out.bos_token_id,
                          ReadTokenId(config, path, "bos_token_id"));
  TINYLM_ASSIGN_OR_RETURN(out.eos_token_id,
                          ReadTokenId(config, path, "eos_token_id"));
  // An id past the vocabulary would index outside the embedding and the
  // head: caught here rather than as a crash in the first forward pass.
  for (const auto& [key, id] :
       {std::pair<const char*, int64_t>{"bos_token_id", out.bos_token_id},
        {"eos_token_id", out.eos_token_id}}) {
    if (id >= c.vocab_size) {
      return Refuse(path, key, id,
                    absl::StrCat("outside the vocabulary (vocab_size ",
                                 c.vocab_size, ")"));
    }
  }
  // transformers 5 names it "dtype".
  for (const char* key : {"torch_dtype", "dtype"}) {
    const json& dtype = Get(config, key);
    if (dtype.is_string()) out.torch_dtype = dtype.get<std::string>();
  }
  return out;
}

json HfConfigToJson(const HfLlamaConfig& config) {
  const ModelConfig& c = config.model;
  json out = {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"attention_bias", false},
      {"attention_dropout", 0.0},
      {"head_dim", c.head_size()},
      {"hidden_act", "silu"},
      {"hidden_size", c.n_embd},
      {"initializer_range", 0.02},
      {"intermediate_size", c.intermediate_size},
      {"max_position_embeddings", c.block_size},
      {"mlp_bias", false},
      {"num_attention_heads", c.n_head},
      {"num_hidden_layers", c.n_layer},
      {"num_key_value_heads", c.n_query_groups},
      {"pretraining_tp", 1},
      {"rms_norm_eps", c.norm_eps},
      {"rope_scaling", nullptr},
      {"rope_theta", c.rope_base},
      {"tie_word_embeddings", config.tie_word_embeddings},
      {"use_cache", true},
      {"vocab_size", c.vocab_size},
  };
  if (config.bos_token_id >= 0) out["bos_token_id"] = config.bos_token_id;
  if (config.eos_token_id >= 0) out["eos_token_id"] = config.eos_token_id;
  if (!config.torch_dtype.empty()) out["torch_dtype"] = config.torch_dtype;
  return out;
}

}  // namespace tinylm
