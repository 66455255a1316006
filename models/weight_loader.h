// The one way weights enter a model, for both checkpoint formats
// (checkpoint.h, hf_checkpoint.h): the model is built on its device in its
// serving dtype, module by module, and each stored tensor is copied into its
// parameter and converted there, one at a time. So the host holds at most
// one block of the model and the weight file being read, never a float32
// copy of the whole model.
#ifndef TINYLM_MODELS_WEIGHT_LOADER_H_
#define TINYLM_MODELS_WEIGHT_LOADER_H_

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "models/config.h"
#include "models/model.h"
#include "models/safetensors.h"

namespace tinylm {

// The model of `config` on `device`, parameters in `dtype` (RoPE tables in
// float32), in eval mode; its weights are placeholders until loaded.
// Internal (naming the device) when it does not fit there.
absl::StatusOr<Transformer> AllocateModel(const ModelConfig& config,
                                          c10::Device device,
                                          c10::ScalarType dtype);

// For messages about tensors: up to `limit` names, then how many more.
std::string ListNames(const std::vector<std::string>& names, size_t limit = 8);

// InvalidArgument naming the file and tensor unless `shape` is `want`
// (what `implied_by`, e.g. "config.json", implies).
absl::Status CheckShape(const std::string& path, const std::string& name,
                        const std::vector<int64_t>& shape,
                        const std::vector<int64_t>& want,
                        const std::string& implied_by);

// Copies `entry` of `file` into `target` (a parameter or a slice of one),
// converting its F32, BF16 or F16 values to target's dtype on target's
// device. InvalidArgument naming the file and tensor for another dtype,
// another shape than target's, or a value that is not finite after the
// conversion.
absl::Status LoadWeight(const SafetensorsFile& file,
                        const SafetensorsEntry& entry, at::Tensor target,
                        const std::string& implied_by);

// A config whose RoPE table (context x head size) would be absurdly large
// is refused before anything is allocated; `config_path` names the file and
// `context_key` its field for the context length.
absl::Status CheckRopeTableSize(const ModelConfig& config,
                                const std::string& config_path,
                                absl::string_view context_key);

}  // namespace tinylm

#endif  // TINYLM_MODELS_WEIGHT_LOADER_H_
