// Tensor names of Hugging Face's LlamaForCausalLM and of tinylm's llama
// block (separate q, k, v without bias), one to one:
//
//   model.embed_tokens.weight                    wte.weight
//   model.layers.<i>.input_layernorm.weight      h.<i>.norm_1.weight
//   model.layers.<i>.self_attn.q_proj.weight     h.<i>.attn.q.weight
//                              k_proj, v_proj    h.<i>.attn.k, h.<i>.attn.v
//                              o_proj            h.<i>.attn.proj
//   model.layers.<i>.post_attention_layernorm    h.<i>.norm_2
//   model.layers.<i>.mlp.gate_proj (SiLU input)  h.<i>.mlp.fc_1
//                        up_proj                 h.<i>.mlp.fc_2
//                        down_proj               h.<i>.mlp.proj
//   model.norm.weight                            ln_f.weight
//   lm_head.weight (absent when tied)            lm_head.weight
//
// No weight is permuted: transformers' Llama applies rotate-half RoPE to the
// first and second halves of each q_proj/k_proj head, as tinylm does. (Meta's
// original consolidated.*.pth files interleave the halves; they are not
// read.)
#ifndef TINYLM_MODELS_HF_NAMES_H_
#define TINYLM_MODELS_HF_NAMES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "models/config.h"

namespace tinylm {

struct HfTensorName {
  std::string hf;
  std::string tinylm;
};

// Every stored tensor of a LlamaForCausalLM of `config`'s dimensions;
// without lm_head.weight when `tied`.
std::vector<HfTensorName> HfTensorNames(const ModelConfig& config, bool tied);

// Tensors that older transformers saved but that hold no weight: the
// rotary inverse frequencies (model.layers.<i>.self_attn.rotary_emb.
// inv_freq), which tinylm computes from rope_theta.
bool IsIgnoredHfTensor(absl::string_view name);

}  // namespace tinylm

#endif  // TINYLM_MODELS_HF_NAMES_H_
