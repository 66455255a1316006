// Hugging Face LlamaForCausalLM directories, served as they are (nothing is
// converted on disk or copied):
//
//   config.json                     LlamaConfig (hf_config.h)
//   model.safetensors, or the shards model-0000N-of-0000M.safetensors that
//   model.safetensors.index.json maps the tensors to
//                                   float32, bfloat16 or float16 (mixed
//                                   too), names as in hf_names.h
//   tokenizer.model                 sentencepiece; tokenizer_config.json
//                                   optional (hf_tokenizer.h)
//
// Each stored tensor is copied to the device and converted to the serving
// dtype there, one at a time and one weight file at a time
// (weight_loader.h). Tied embeddings (no lm_head.weight) share the
// embedding's memory on the device. Pickled weights (pytorch_model.bin,
// Meta's consolidated.*.pth) are never loaded: the error says what to do.
#ifndef TINYLM_MODELS_HF_CHECKPOINT_H_
#define TINYLM_MODELS_HF_CHECKPOINT_H_

#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "absl/status/statusor.h"
#include "models/checkpoint.h"
#include "nlohmann/json.hpp"

namespace tinylm {

// Loads `dir`, whose config.json (already read: `config`) is Hugging
// Face's. Errors name the file and the key or tensor.
absl::StatusOr<LoadedCheckpoint> LoadHfCheckpoint(const std::string& dir,
                                                  const nlohmann::json& config,
                                                  c10::Device device,
                                                  c10::ScalarType dtype);

}  // namespace tinylm

#endif  // TINYLM_MODELS_HF_CHECKPOINT_H_
