#include "server/engine/model_registry.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "models/checkpoint.h"
#include "nlohmann/json.hpp"
#include "server/engine/scheduler.h"
#include "util/device.h"
#include "util/status_macros.h"
#include "util/quote.h"

namespace tinylm {
namespace fs = std::filesystem;
namespace {

// The type of `path` (links followed); not_found for nothing there, such
// as a dangling link. Any other failure (a link loop, no permission) is an
// error naming the path.
absl::StatusOr<fs::file_type> TypeOf(const fs::path& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (status.type() == fs::file_type::not_found) {
    return fs::file_type::not_found;
  }
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat(path.string(), ": ", error.message()));
  }
  return status.type();
}

// Subdirectories of `root` holding a config.json, sorted by name. Uses only
// the non-throwing filesystem calls: `root` and what lies in it come from
// the user.
absl::StatusOr<std::vector<std::string>> ListCheckpointDirs(
    const std::string& root) {
  TINYLM_ASSIGN_OR_RETURN(const fs::file_type root_type, TypeOf(root));
  if (root_type != fs::file_type::directory) {
    return absl::NotFoundError(absl::StrCat(
        "checkpoints directory ", root,
        root_type == fs::file_type::not_found ? " does not exist"
                                              : " is not a directory"));
  }
  std::error_code error;
  fs::directory_iterator it(root, error);
  std::vector<std::string> names;
  for (; !error && it != fs::directory_iterator(); it.increment(error)) {
    const fs::path dir = it->path();
    TINYLM_ASSIGN_OR_RETURN(const fs::file_type type, TypeOf(dir));
    if (type != fs::file_type::directory) continue;
    TINYLM_ASSIGN_OR_RETURN(const fs::file_type config,
                            TypeOf(dir / "config.json"));
    if (config != fs::file_type::not_found) {
      names.push_back(dir.filename().string());
    }
  }
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("checkpoints directory ", root, ": ", error.message()));
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
          "model ", Quote(name), " not found in ", root,
          " (available: ", absl::StrJoin(available, ", "), ")"));
    }
  }
  return only;
}

absl::StatusOr<std::unique_ptr<ServedModel>> LoadOne(
    const std::string& name, const std::string& dir, c10::Device device,
    c10::ScalarType dtype, const RegistryOptions& options) {
  TINYLM_ASSIGN_OR_RETURN(LoadedCheckpoint checkpoint,
                          LoadCheckpoint(dir, device, dtype));
  auto model = std::make_unique<ServedModel>();
  model->name = name;
  model->dir = dir;
  model->config = checkpoint.config;
  model->device = device.str();
  model->dtype = DtypeName(dtype);
  model->weights_sha256 = checkpoint.weights_sha256;
  model->format = checkpoint.format;
  if (!checkpoint.training.is_null()) {
    // Replace, not throw, should the summary hold invalid UTF-8.
    model->training_json = checkpoint.training.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  TINYLM_ASSIGN_OR_RETURN(
      model->tokenizer,
      Tokenizer::Load(checkpoint.tokenizer_path, options.tokenizer_module,
                      checkpoint.add_bos));
  TINYLM_RETURN_IF_ERROR(
      CheckTokenizerFits(checkpoint, dir, *model->tokenizer));
  SchedulerOptions scheduler = options.scheduler;
  if (options.metrics) scheduler.metrics = options.metrics(name);
  TINYLM_ASSIGN_OR_RETURN(
      model->engine, Scheduler::Create(std::move(checkpoint.model),
                                       model->tokenizer.get(), scheduler));
  return model;
}

}  // namespace

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
  for (auto& model : registry->models_) model->engine->Start();
  return registry;
}

ModelRegistry::~ModelRegistry() { Shutdown(); }

absl::StatusOr<ServedModel*> ModelRegistry::Find(
    absl::string_view name) const {
  for (const auto& model : models_) {
    if (model->name == name) return model.get();
  }
  return absl::NotFoundError(absl::StrCat("model ", Quote(name),
                                          " is not loaded (loaded: ",
                                          Names(), ")"));
}

std::string ModelRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& model : models_) names.push_back(model->name);
  return absl::StrJoin(names, ", ");
}

void ModelRegistry::Shutdown() {
  for (auto& model : models_) model->engine->Shutdown();
}

}  // namespace tinylm
