// Export of a tinylm checkpoint whose block is LLaMA-2's to a Hugging Face
// directory that transformers loads (LlamaForCausalLM.from_pretrained and
// LlamaTokenizer.from_pretrained):
//
//   config.json             LlamaConfig (hf_config.h)
//   model.safetensors       the stored dtype, names as in hf_names.h; base's
//                           fused attn.qkv rows [q (H·hs) | k (G·hs) |
//                           v (G·hs)] become q_proj, k_proj and v_proj
//   tokenizer.model         the checkpoint's, copied
//   tokenizer_config.json   for LlamaTokenizer (hf_tokenizer.h); no BOS
//                           before prompts, as tinylm's models are trained
//
// The blocks that export are base and llama: a bias or GELU on q, k, v or
// the learned score has no place in a Llama, and is refused naming the flag.
#ifndef TINYLM_MODELS_HF_EXPORT_H_
#define TINYLM_MODELS_HF_EXPORT_H_

#include <string>

#include "absl/status/status.h"

namespace tinylm {

// Reads the tinylm checkpoint `checkpoint_dir` and writes `out_dir`, which
// must not exist or be empty. `tokenizer_module` as in Tokenizer::Load.
absl::Status ExportHfCheckpoint(const std::string& checkpoint_dir,
                                const std::string& out_dir,
                                const std::string& tokenizer_module = "");

}  // namespace tinylm

#endif  // TINYLM_MODELS_HF_EXPORT_H_
