// Fuzz target: the checkpoint loader (models/checkpoint.h), for tinylm's
// directories and Hugging Face's (hf_checkpoint.h), and the model config
// reader (models/config.h).
//
// Input: config.json text, the separator line below, then the bytes of
// model.safetensors (no separator: everything is config.json and the
// weights file is empty). Both are written to a scratch checkpoint
// directory (with an empty tokenizer.model, whose presence is all the
// loader checks) and loaded on the CPU. Properties:
//   - ConfigFromJson on the parsed JSON either fails with InvalidArgument or
//     returns a config that passes Validate().
//   - LoadCheckpoint never crashes or throws; it fails only with
//     InvalidArgument: every problem is one of the files' content.
//   - A loaded model has the config's parameter count and dtype, the file's
//     digest, and runs a forward pass of one token to logits [1, 1, V].
#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/string_view.h"
#include "models/checkpoint.h"
#include "models/config.h"
#include "nlohmann/json.hpp"
#include "tests/fuzz/fuzz_check.h"

namespace tinylm {
namespace {

constexpr absl::string_view kSeparator = "\n#model.safetensors#\n";

// Plain writes: util/file_io's WriteFile syncs to disk, which would cost
// more than the load itself on every input.
void Write(const std::string& path, absl::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), contents.size());
  out.close();
  FUZZ_CHECK(out.good(), path);
}

const std::string& CheckpointDir() {
  static const std::string* dir = [] {
    auto* path = new std::string(fuzz::ScratchDir());
    Write(*path + "/tokenizer.model", "");
    return path;
  }();
  return *dir;
}

void CheckConfig(absl::string_view text) {
  const nlohmann::json json =
      nlohmann::json::parse(text.begin(), text.end(), nullptr,
                            /*allow_exceptions=*/false);
  if (json.is_discarded()) return;
  absl::StatusOr<ModelConfig> config = ConfigFromJson(json, "config.json");
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == absl::StatusCode::kInvalidArgument,
               config.status());
    return;
  }
  FUZZ_CHECK(config->Validate().ok(), config->Validate());
}

void CheckLoaded(LoadedCheckpoint& loaded) {
  int64_t parameters = 0;
  for (const at::Tensor& p : loaded.model->parameters()) {
    FUZZ_CHECK(p.scalar_type() == at::kFloat, "parameter dtype");
    parameters += p.numel();
  }
  FUZZ_CHECK(parameters == loaded.config.ParameterCount(), "parameter count");
  FUZZ_CHECK(loaded.weights_sha256.size() == 64, loaded.weights_sha256);
  // float16 weights load only from Hugging Face directories (a config.json
  // with model_type or architectures).
  FUZZ_CHECK(
      loaded.stored_dtype == at::kFloat ||
          loaded.stored_dtype == at::kBFloat16 ||
          (loaded.stored_dtype == at::kHalf && loaded.format == "huggingface"),
      "stored dtype");
  torch::NoGradGuard no_grad;
  const at::Tensor logits =
      loaded.model->Forward(ForwardInput(at::zeros({1, 1}, at::kLong))).logits;
  FUZZ_CHECK(
      logits.sizes() == at::IntArrayRef({1, 1, loaded.config.vocab_size}),
      "logits shape");
}

}  // namespace
}  // namespace tinylm

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tinylm::fuzz::UseOneThread();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tinylm;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find(kSeparator);
  const absl::string_view config = input.substr(0, split);
  const absl::string_view weights =
      split == absl::string_view::npos
          ? absl::string_view()
          : input.substr(split + kSeparator.size());
  CheckConfig(config);

  const std::string& dir = CheckpointDir();
  Write(dir + "/config.json", config);
  Write(dir + "/model.safetensors", weights);
  absl::StatusOr<LoadedCheckpoint> loaded =
      LoadCheckpoint(dir, at::kCPU, at::kFloat);
  if (std::getenv("TINYLM_FUZZ_VERBOSE") != nullptr) {
    std::fprintf(stderr, "LoadCheckpoint: %s\n",
                 loaded.status().ToString().c_str());
  }
  if (!loaded.ok()) {
    FUZZ_CHECK(loaded.status().code() == absl::StatusCode::kInvalidArgument,
               loaded.status());
    return 0;
  }
  CheckLoaded(*loaded);
  return 0;
}
