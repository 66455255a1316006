// The tokenizer of a Hugging Face model directory, and the files that make
// an exported one loadable by transformers.
//
// tinylm reads sentencepiece models only: tokenizer.model must be there (a
// tokenizer.json alone, as Llama 3 and GPT-2-style models ship, is refused).
// tokenizer_config.json, when present, says whether prompts start with BOS
// (add_bos_token, true when absent, as in LlamaTokenizer); its
// tokenizer_class must be a Llama one, and add_eos_token = true (every prompt
// would end in EOS) is refused. Text is encoded as sentencepiece encodes it:
// what LlamaTokenizer does with legacy = true.
#ifndef TINYLM_MODELS_HF_TOKENIZER_H_
#define TINYLM_MODELS_HF_TOKENIZER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "models/tokenizer.h"
#include "nlohmann/json.hpp"

namespace tinylm {

struct HfTokenizer {
  std::string model_path;  // dir/tokenizer.model
  bool add_bos = true;     // prompts start with the BOS id
};

// Finds and checks the tokenizer files of `dir`; errors name the file, the
// key and its value.
absl::StatusOr<HfTokenizer> FindHfTokenizer(const std::string& dir);

// tokenizer_config.json for transformers' LlamaTokenizer (the sentencepiece
// one) over `tokenizer`: its special pieces, `add_bos`, legacy encoding and
// no invented prefix space (tinylm's tokenizers add none), `context` as
// model_max_length.
nlohmann::json HfTokenizerConfigJson(const Tokenizer& tokenizer, bool add_bos,
                                     int64_t context);

}  // namespace tinylm

#endif  // TINYLM_MODELS_HF_TOKENIZER_H_
