// Model hyper-parameters: dimensions, the four attention-variant flags, and
// the named presets (sizes x variants). Plain data; no torch here.
//
// The attention variants of the study are independent flags so that any
// combination can be trained; the four names of the study are presets:
//   base          no flag set
//   qkv_gelu      qkv_bias + qkv_activation
//   separate_qkv  qkv_bias + qkv_activation + separate_qkv
//   score_fcn     all four flags
#ifndef TINYLM_MODELS_CONFIG_H_
#define TINYLM_MODELS_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json_fwd.hpp"

namespace tinylm {

struct ModelConfig {
  int64_t vocab_size = 8000;
  int64_t n_embd = 128;             // C
  int64_t n_layer = 10;
  int64_t n_head = 1;               // query heads
  int64_t n_query_groups = 1;       // key/value heads (GQA); divides n_head
  int64_t intermediate_size = 304;  // SwiGLU hidden width
  int64_t block_size = 256;         // context length (RoPE table, score_fcn)
  double norm_eps = 1e-5;
  double rope_base = 10000.0;

  // Attention variant flags (SPEC names).
  bool qkv_bias = false;        // q/k/v projections carry a bias
  bool qkv_activation = false;  // GELU on the q/k/v projection output
  bool separate_qkv = false;    // three linears instead of one fused
  bool score_fcn = false;       // learned additive score over key positions

  int64_t head_size() const { return n_embd / n_head; }

  // Number of trainable parameters implied by the dimensions and flags.
  int64_t ParameterCount() const;

  // The preset name of the flag combination ("base", ...), "llama" for
  // LLaMA-2's separate q, k, v without bias or activation, else "custom".
  std::string VariantName() const;

  // Checks every dimension; the message names the offending field.
  absl::Status Validate() const;
};

// The four study variants, in the article's order.
const std::vector<std::string>& VariantNames();

// Sets the four flags from a variant name; InvalidArgument if unknown.
absl::Status ApplyVariant(absl::string_view variant, ModelConfig& config);

// Size presets: "tiny" (tests), "small" (the shipped checkpoints),
// "article" (the article's ~100M model).
const std::vector<std::string>& SizeNames();
absl::StatusOr<ModelConfig> SizePreset(absl::string_view size);

// A size preset with a variant applied, e.g. ("small", "score_fcn").
absl::StatusOr<ModelConfig> MakeConfig(absl::string_view size,
                                       absl::string_view variant);

// JSON form used in config.json (all fields, plus "variant" for readers).
void ToJson(const ModelConfig& config, nlohmann::json& out);
// Parses and validates; `source` names the file in error messages.
absl::StatusOr<ModelConfig> ConfigFromJson(const nlohmann::json& in,
                                           absl::string_view source);

}  // namespace tinylm

#endif  // TINYLM_MODELS_CONFIG_H_
