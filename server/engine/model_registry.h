// ModelRegistry: the served models, loaded from a checkpoints directory
// (one subdirectory per model, each with config.json; the subdirectory name
// is the model name; tinylm checkpoints and Hugging Face Llama directories
// side by side), each on the chosen device with its tokenizer and its
// scheduler thread.
//
// Thread-safety: immutable after Load() except Shutdown(); lookups may run
// on any thread.
#ifndef TINYLM_SERVER_ENGINE_MODEL_REGISTRY_H_
#define TINYLM_SERVER_ENGINE_MODEL_REGISTRY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "models/config.h"
#include "models/tokenizer.h"
#include "server/engine/engine.h"
#include "server/engine/scheduler_options.h"

namespace tinylm {

// A loaded model as the service sees it: plain data, its tokenizer and its
// engine (which owns the weights on the device).
struct ServedModel {
  std::string name;            // the checkpoint's folder name
  std::string dir;             // the checkpoint's folder
  ModelConfig config;
  std::string device;          // where it runs: "cpu", "cuda:0"
  std::string dtype;           // "float32" or "bfloat16"
  std::string weights_sha256;  // hex digest of model.safetensors
  std::string format;          // of the checkpoint: "tinylm", "huggingface"
  std::string training_json;   // config.json's "training" object, or empty
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Engine> engine;
};

struct RegistryOptions {
  std::string checkpoints_dir;
  std::vector<std::string> only;  // model names to load; empty = all
  std::string device = "auto";    // auto | cpu | cuda | cuda:N
  std::string dtype;              // float32 | bfloat16; empty = by device
  std::string tokenizer_module;   // empty = Tokenizer's default search
  SchedulerOptions scheduler;
  // Per-model metrics for the scheduler (SchedulerOptions::metrics); unset
  // or returning null: none.
  std::function<std::shared_ptr<SchedulerMetrics>(const std::string& model)>
      metrics;
};

class ModelRegistry {
 public:
  // Loads, validates, moves to the device and warms up every model, then
  // starts the schedulers. Fails with the checkpoint file and the reason.
  static absl::StatusOr<std::unique_ptr<ModelRegistry>> Load(
      const RegistryOptions& options);

  ~ModelRegistry();

  // NOT_FOUND (listing the loaded names) for an unknown name.
  absl::StatusOr<ServedModel*> Find(absl::string_view name) const;
  // Sorted by name.
  const std::vector<std::unique_ptr<ServedModel>>& models() const {
    return models_;
  }
  std::string Names() const;  // "a, b, c" for messages

  // Stops every scheduler (see Scheduler::Shutdown). Idempotent.
  void Shutdown();

 private:
  ModelRegistry() = default;
  std::vector<std::unique_ptr<ServedModel>> models_;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_MODEL_REGISTRY_H_
