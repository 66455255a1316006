// Checkpoint directories (SPEC §2):
//   config.json        model config (config.h fields) + "training" summary
//   model.safetensors  weights, float32 or bfloat16, names as in model.h
//   tokenizer.model    the sentencepiece model
// Loading validates everything and names the file and the problem. It also
// reads Hugging Face LlamaForCausalLM directories as they are
// (hf_checkpoint.h): a config.json of theirs decides.
#ifndef TINYLM_MODELS_CHECKPOINT_H_
#define TINYLM_MODELS_CHECKPOINT_H_

#include <cstdint>
#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "absl/status/statusor.h"
#include "models/config.h"
#include "models/model.h"
#include "models/tokenizer.h"
#include "nlohmann/json.hpp"

namespace tinylm {

struct SaveOptions {
  c10::ScalarType dtype = c10::kFloat;  // kFloat or kBFloat16
  nlohmann::json training;              // free-form summary, may be null
  std::string tokenizer_path;           // copied to tokenizer.model if set
};

// Writes `dir` (created if needed). Files are written to temporary names and
// renamed, so a crash never leaves a half-written checkpoint behind.
absl::Status SaveCheckpoint(const std::string& dir, Transformer& model,
                            const SaveOptions& options);

struct LoadedCheckpoint {
  ModelConfig config;
  Transformer model{nullptr};  // on the requested device and dtype, eval()
  nlohmann::json training;     // the "training" object, or null
  // Hex digest of model.safetensors (of a sharded model: of its shards'
  // bytes in file-name order, as `cat model-*.safetensors | sha256sum`).
  std::string weights_sha256;
  std::string tokenizer_path;  // dir/tokenizer.model (existence checked)
  c10::ScalarType stored_dtype = c10::kFloat;  // of the token embedding
  std::string format = "tinylm";               // or "huggingface"
  // What the model expects of its tokenizer: prompts that start with BOS
  // (Hugging Face's add_bos_token), and the BOS and EOS ids config.json
  // names (-1: none named).
  bool add_bos = false;
  int64_t bos_id = -1, eos_id = -1;
};

// Loads and validates `dir`, of either format. `dtype` is the parameter
// dtype after loading (kFloat or kBFloat16), independent of the stored one.
absl::StatusOr<LoadedCheckpoint> LoadCheckpoint(const std::string& dir,
                                                c10::Device device,
                                                c10::ScalarType dtype);

// FailedPrecondition, naming the files, unless `tokenizer` (loaded from
// checkpoint.tokenizer_path) fits the model: as many pieces as vocab_size,
// and the BOS and EOS ids the config names.
absl::Status CheckTokenizerFits(const LoadedCheckpoint& checkpoint,
                                const std::string& dir,
                                const Tokenizer& tokenizer);

}  // namespace tinylm

#endif  // TINYLM_MODELS_CHECKPOINT_H_
