#include "models/hf_names.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tinylm {

std::vector<HfTensorName> HfTensorNames(const ModelConfig& config, bool tied) {
  std::vector<HfTensorName> names = {
      {"model.embed_tokens.weight", "wte.weight"},
      {"model.norm.weight", "ln_f.weight"}};
  if (!tied) names.push_back({"lm_head.weight", "lm_head.weight"});
  // (Hugging Face suffix, tinylm suffix) within one layer.
  static const char* const kLayer[][2] = {
      {"input_layernorm.weight", "norm_1.weight"},
      {"self_attn.q_proj.weight", "attn.q.weight"},
      {"self_attn.k_proj.weight", "attn.k.weight"},
      {"self_attn.v_proj.weight", "attn.v.weight"},
      {"self_attn.o_proj.weight", "attn.proj.weight"},
      {"post_attention_layernorm.weight", "norm_2.weight"},
      {"mlp.gate_proj.weight", "mlp.fc_1.weight"},
      {"mlp.up_proj.weight", "mlp.fc_2.weight"},
      {"mlp.down_proj.weight", "mlp.proj.weight"},
  };
  for (int64_t i = 0; i < config.n_layer; ++i) {
    for (const auto& [hf, ours] : kLayer) {
      names.push_back({absl::StrCat("model.layers.", i, ".", hf),
                       absl::StrCat("h.", i, ".", ours)});
    }
  }
  return names;
}

bool IsIgnoredHfTensor(absl::string_view name) {
  return absl::StartsWith(name, "model.layers.") &&
         absl::EndsWith(name, ".self_attn.rotary_emb.inv_freq");
}

}  // namespace tinylm
