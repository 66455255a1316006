// The config.json of a Hugging Face LlamaForCausalLM (transformers'
// LlamaConfig), read into tinylm's ModelConfig and written back for export:
//
//   hidden_size -> n_embd
//   intermediate_size -> intermediate_size
//   num_hidden_layers -> n_layer
//   num_attention_heads -> n_head
//   num_key_value_heads -> n_query_groups (default: num_attention_heads)
//   max_position_embeddings -> block_size
//   rms_norm_eps -> norm_eps
//   rope_theta (transformers 5: rope_parameters.rope_theta) -> rope_base
//   vocab_size -> vocab_size
//   the block -> "llama" (separate q, k, v; no bias, activation or score)
//
// What tinylm's block does not compute is refused with the key and its
// value: another model_type or architecture, hidden_act other than silu,
// attention_bias or mlp_bias, RoPE scaling, a head_dim other than
// hidden_size / num_attention_heads, quantized weights, a BOS or EOS id
// outside the vocabulary. Keys that change nothing at inference (dropout,
// initializer_range, pretraining_tp, use_cache) are ignored. Plain data; no torch here.
#ifndef TINYLM_MODELS_HF_CONFIG_H_
#define TINYLM_MODELS_HF_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "models/config.h"
#include "nlohmann/json.hpp"

namespace tinylm {

struct HfLlamaConfig {
  ModelConfig model;  // the "llama" flags
  // The head shares the embedding's matrix (no lm_head.weight is stored).
  bool tie_word_embeddings = false;
  int64_t bos_token_id = -1;  // -1: config.json names none
  int64_t eos_token_id = -1;
  std::string torch_dtype;  // the dtype config.json names, "" if none
};

// Whether a config.json is Hugging Face's (it names a model_type or
// architectures) rather than tinylm's.
bool IsHfConfig(const nlohmann::json& config);

// Parses and checks a Hugging Face config.json; `path` names it in errors.
absl::StatusOr<HfLlamaConfig> HfConfigFromJson(const nlohmann::json& config,
                                               const std::string& path);

// The config.json transformers writes for `config` (whose flags must be
// the llama block's), so that LlamaForCausalLM.from_pretrained loads it.
nlohmann::json HfConfigToJson(const HfLlamaConfig& config);

}  // namespace tinylm

#endif  // TINYLM_MODELS_HF_CONFIG_H_
