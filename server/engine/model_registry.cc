#include "server/engine/model_registry.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <c10/util/Exception.h>
#include <torch/cuda.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "models/status_macros.h"

namespace tinylm {
namespace fs = std::filesystem;
namespace {

// Subdirectories of `root` holding a config.json, sorted by name.
absl::StatusOr<std::vector<std::string>> ListCheckpointDirs(
    const std::string& root) {
  std::error_code error;
  if (!fs::is_directory(root, error)) {
    return absl::NotFoundError(
        absl::StrCat("checkpoints directory ", root, " does not exist"));
  }
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, error)) {
    if (entry.is_directory() && fs::exists(entry.path() / "config.json")) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no checkpoints (subdirectories with config.json) in ", root));
  }
  return names;
}

absl::StatusOr<std::vector<std::string>> SelectNames(
    std::vector<std::string> available, const std::vector<std::string>& only,
    const std::string& root) {
  if (only.empty()) return available;
  for (const std::string& name : only) {
    if (std::find(available.begin(), available.end(), name) ==
        available.end()) {
      return absl::NotFoundError(absl::StrCat(
          "model ", name, " not found in ", root,
          " (available: ", absl::StrJoin(available, ", "), ")"));
    }
  }
  return only;
}

absl::StatusOr<std::unique_ptr<ServedModel>> LoadOne(
    const std::string& name, const std::string& dir, c10::Device device,
    c10::ScalarType dtype, const RegistryOptions& options) {
  auto model = std::make_unique<ServedModel>();
  model->name = name;
  model->dir = dir;
  model->device = device;
  model->dtype = dtype;
  TINYLM_ASSIGN_OR_RETURN(model->checkpoint,
                          LoadCheckpoint(dir, device, dtype));
  TINYLM_ASSIGN_OR_RETURN(
      model->tokenizer,
      Tokenizer::Load(model->checkpoint.tokenizer_path,
                      options.tokenizer_module));
  if (model->tokenizer->vocab_size() != model->config().vocab_size) {
    return absl::FailedPreconditionError(absl::StrCat(
        model->checkpoint.tokenizer_path, " has ",
        model->tokenizer->vocab_size(), " pieces but ", dir,
        "/config.json says vocab_size = ", model->config().vocab_size));
  }
  SchedulerOptions scheduler = options.scheduler;
  if (options.metrics) scheduler.metrics = options.metrics(name);
  TINYLM_ASSIGN_OR_RETURN(
      model->scheduler,
      Scheduler::Create(model->checkpoint.model, model->tokenizer.get(),
                        scheduler));
  return model;
}

}  // namespace

absl::StatusOr<c10::Device> ResolveDevice(absl::string_view name) {
  const bool cuda = torch::cuda::is_available();
  if (name == "auto") return cuda ? c10::Device(c10::kCUDA) : c10::kCPU;
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name.substr(0, 4) == "cuda") {
    if (!cuda) {
      return absl::FailedPreconditionError(absl::StrCat(
          "device ", name, " requested but CUDA is not available"));
    }
    try {
      return c10::Device(std::string(name));
    } catch (const c10::Error&) {
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "device must be auto, cpu, cuda or cuda:N, got \"", name, "\""));
}

absl::StatusOr<c10::ScalarType> ResolveDtype(absl::string_view name,
                                             c10::Device device) {
  if (name.empty()) return device.is_cuda() ? c10::kBFloat16 : c10::kFloat;
  if (name == "float32") return c10::kFloat;
  if (name == "bfloat16") return c10::kBFloat16;
  return absl::InvalidArgumentError(absl::StrCat(
      "dtype must be float32 or bfloat16, got \"", name, "\""));
}

const char* DtypeName(c10::ScalarType dtype) {
  return dtype == c10::kBFloat16 ? "bfloat16" : "float32";
}

absl::StatusOr<std::unique_ptr<ModelRegistry>> ModelRegistry::Load(
    const RegistryOptions& options) {
  TINYLM_ASSIGN_OR_RETURN(const c10::Device device,
                          ResolveDevice(options.device));
  TINYLM_ASSIGN_OR_RETURN(const c10::ScalarType dtype,
                          ResolveDtype(options.dtype, device));
  TINYLM_ASSIGN_OR_RETURN(std::vector<std::string> available,
                          ListCheckpointDirs(options.checkpoints_dir));
  TINYLM_ASSIGN_OR_RETURN(
      std::vector<std::string> names,
      SelectNames(std::move(available), options.only,
                  options.checkpoints_dir));
  std::unique_ptr<ModelRegistry> registry(new ModelRegistry());
  for (const std::string& name : names) {
    const std::string dir =
        (fs::path(options.checkpoints_dir) / name).string();
    auto model = LoadOne(name, dir, device, dtype, options);
    if (!model.ok()) {
      return absl::Status(model.status().code(),
                          absl::StrCat("model ", name, ": ",
                                       model.status().message()));
    }
    registry->models_.push_back(std::move(model).value());
  }
  std::sort(registry->models_.begin(), registry->models_.end(),
            [](const auto& a, const auto& b) { return a->name < b->name; });
  for (auto& model : registry->models_) model->scheduler->Start();
  return registry;
}

ModelRegistry::~ModelRegistry() { Shutdown(); }

absl::StatusOr<ServedModel*> ModelRegistry::Find(
    absl::string_view name) const {
  for (const auto& model : models_) {
    if (model->name == name) return model.get();
  }
  return absl::NotFoundError(absl::StrCat("model \"", name,
                                          "\" is not loaded (loaded: ",
                                          Names(), ")"));
}

std::string ModelRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& model : models_) names.push_back(model->name);
  return absl::StrJoin(names, ", ");
}

void ModelRegistry::Shutdown() {
  for (auto& model : models_) model->scheduler->Shutdown();
}

}  // namespace tinylm
