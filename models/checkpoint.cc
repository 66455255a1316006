#include "models/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/utils.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "models/hf_checkpoint.h"
#include "models/hf_config.h"
#include "models/safetensors.h"
#include "models/weight_loader.h"
#include "util/file_io.h"
#include "util/json_file.h"
#include "util/sha256.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

constexpr int kFormatVersion = 1;
constexpr char kConfigFile[] = "config.json";
constexpr char kWeightsFile[] = "model.safetensors";
constexpr char kTokenizerFile[] = "tokenizer.model";

std::string JoinPath(const std::string& dir, const char* file) {
  return (std::filesystem::path(dir) / file).string();
}

absl::Status CheckDtype(c10::ScalarType dtype, const char* what) {
  if (dtype == c10::kFloat || dtype == c10::kBFloat16) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      what, " must be float32 or bfloat16, got ", c10::toString(dtype)));
}

int64_t SaturatingMul(int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) {
    return std::numeric_limits<int64_t>::max();
  }
  return out;
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) {
    return std::numeric_limits<int64_t>::max();
  }
  return out;
}

// A forged config.json could ask the model constructor for terabytes or
// billions of layers before the tensor checks run. The file's tensors bound
// what a consistent config can imply: no weight holds more values than the
// file, and the model not much more than the file (missing tensors are
// reported by the name check, so some slack is left for them).
absl::Status CheckConfigFitsWeights(const ModelConfig& c,
                                    const SafetensorsFile& weights,
                                    const std::string& config_path) {
  int64_t total = 0;
  for (const SafetensorsEntry& e : weights.entries()) {
    int64_t numel = 1;
    for (int64_t d : e.shape) numel = SaturatingMul(numel, d);
    total =
        std::min(total + std::min(numel, int64_t{1} << 61), int64_t{1} << 61);
  }
  // A forged config can put n_head and n_query_groups near INT64_MAX.
  const int64_t qkv_rows =
      SaturatingMul(SaturatingAdd(c.n_head, SaturatingMul(2, c.n_query_groups)),
                    c.head_size());
  int64_t largest = std::max({SaturatingMul(c.vocab_size, c.n_embd),
                              SaturatingMul(qkv_rows, c.n_embd),
                              SaturatingMul(c.intermediate_size, c.n_embd)});
  if (c.score_fcn) {
    largest = std::max(
        largest,
        SaturatingMul(SaturatingMul(c.n_head, c.block_size), c.n_embd));
  }
  if (largest > total) {
    return absl::InvalidArgumentError(absl::StrCat(
        config_path, ": the dimensions imply a weight of ", largest,
        " values, but ", weights.source(), " holds only ", total));
  }
  TINYLM_RETURN_IF_ERROR(CheckRopeTableSize(c, config_path, "block_size"));
  // Each weight above is at most `total`, so neither count can overflow.
  ModelConfig no_layers = c, one_layer = c;
  no_layers.n_layer = 0;
  one_layer.n_layer = 1;
  const int64_t shared = no_layers.ParameterCount();
  const int64_t per_layer = one_layer.ParameterCount() - shared;
  const int64_t layers = SaturatingMul(c.n_layer, per_layer);
  if (layers > 2 * total || shared + layers > 2 * total) {
    return absl::InvalidArgumentError(absl::StrCat(
        config_path, ": n_layer ", c.n_layer, " and the dimensions imply ",
        "far more parameters than the ", total, " values in ",
        weights.source()));
  }
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> ReadConfigJson(const std::string& path) {
  TINYLM_ASSIGN_OR_RETURN(nlohmann::json json, ReadJsonObject(path));
  auto version = json.find("format_version");
  if (version != json.end() && !(version->is_number_integer() &&
                                 version->get<int64_t>() == kFormatVersion)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unsupported format_version ", version->dump(),
                     " (this build reads ", kFormatVersion, ")"));
  }
  return json;
}

// The file's tensors must be exactly the model's parameters, with their
// shapes, all in one dtype (float32 or bfloat16). Returns that dtype.
absl::StatusOr<c10::ScalarType> CheckTensors(Transformer& model,
                                             const SafetensorsFile& weights) {
  const std::string& path = weights.source();
  std::vector<std::string> missing, extra;
  std::set<std::string> expected;
  for (const auto& item : model->named_parameters()) {
    expected.insert(item.key());
    if (weights.Find(item.key()) == nullptr) missing.push_back(item.key());
  }
  for (const SafetensorsEntry& e : weights.entries()) {
    if (expected.count(e.name) == 0) extra.push_back(e.name);
  }
  if (!missing.empty() || !extra.empty()) {
    std::vector<std::string> problems;
    if (!missing.empty()) {
      problems.push_back(absl::StrCat("missing tensors: ", ListNames(missing)));
    }
    if (!extra.empty()) {
      problems.push_back(
          absl::StrCat("unexpected tensors: ", ListNames(extra)));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": tensors do not match the model of config.json (",
                     absl::StrJoin(problems, "; "), ")"));
  }

  const SafetensorsEntry* first = nullptr;
  for (const auto& item : model->named_parameters()) {
    const SafetensorsEntry& e = *weights.Find(item.key());
    if (e.dtype != c10::kFloat && e.dtype != c10::kBFloat16) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": tensor '", e.name, "' has dtype ", e.dtype_name,
                       "; weights must be F32 or BF16"));
    }
    if (first != nullptr && e.dtype != first->dtype) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": tensors mix dtypes ('", first->name, "' is ",
          first->dtype_name, ", '", e.name, "' is ", e.dtype_name, ")"));
    }
    first = &e;
    TINYLM_RETURN_IF_ERROR(CheckShape(path, e.name, e.shape,
                                      item.value().sizes().vec(), kConfigFile));
  }
  return first != nullptr ? first->dtype : c10::kFloat;
}

// The model of `config` on `device` in `dtype`, holding the file's values.
absl::StatusOr<Transformer> BuildModel(const std::string& dir,
                                       const ModelConfig& config,
                                       const SafetensorsFile& weights,
                                       c10::Device device,
                                       c10::ScalarType dtype,
                                       c10::ScalarType& stored_dtype) {
  absl::StatusOr<Transformer> allocated = AllocateModel(config, device, dtype);
  if (!allocated.ok()) {
    return absl::Status(allocated.status().code(),
                        absl::StrCat(dir, ": ", allocated.status().message()));
  }
  Transformer model = *std::move(allocated);
  TINYLM_ASSIGN_OR_RETURN(stored_dtype, CheckTensors(model, weights));
  for (auto& item : model->named_parameters()) {
    TINYLM_RETURN_IF_ERROR(LoadWeight(weights, *weights.Find(item.key()),
                                      item.value(), kConfigFile));
  }
  return model;
}

}  // namespace

absl::Status SaveCheckpoint(const std::string& dir, Transformer& model,
                            const SaveOptions& options) {
  TINYLM_RETURN_IF_ERROR(CheckDtype(options.dtype, "checkpoint dtype"));
  if (model.is_empty()) {
    return absl::InvalidArgumentError("SaveCheckpoint: the model is null");
  }
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat(dir, ": cannot create directory: ", error.message()));
  }

  NamedTensors tensors;
  try {
    torch::NoGradGuard no_grad;
    for (const auto& item : model->named_parameters()) {
      tensors.emplace_back(item.key(), item.value().detach().to(options.dtype));
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(
        dir, ": cannot convert the weights: ", e.what_without_backtrace()));
  }
  const std::string weights_path = JoinPath(dir, kWeightsFile);
  TINYLM_ASSIGN_OR_RETURN(
      std::string weights,
      SerializeSafetensorsFor(weights_path, tensors, {{"format", "pt"}}));

  nlohmann::json config;
  ToJson(model->config(), config);
  config["format_version"] = kFormatVersion;
  config["training"] = options.training;

  // Every file goes to a temporary name first; only when all are written
  // are they renamed, so a failure leaves any earlier checkpoint intact.
  std::vector<std::pair<std::string, std::string>> files = {
      {weights_path, std::move(weights)},
      {JoinPath(dir, kConfigFile), config.dump(2) + "\n"}};
  if (!options.tokenizer_path.empty()) {
    TINYLM_ASSIGN_OR_RETURN(std::string tokenizer,
                            ReadFile(options.tokenizer_path));
    files.emplace_back(JoinPath(dir, kTokenizerFile), std::move(tokenizer));
  }
  return WriteFilesTogether(files);
}

absl::StatusOr<LoadedCheckpoint> LoadCheckpoint(const std::string& dir,
                                                c10::Device device,
                                                c10::ScalarType dtype) {
  TINYLM_RETURN_IF_ERROR(CheckDtype(dtype, "load dtype"));
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": checkpoint directory does not exist"));
  }
  LoadedCheckpoint loaded;
  const std::string config_path = JoinPath(dir, kConfigFile);
  TINYLM_ASSIGN_OR_RETURN(nlohmann::json config_json,
                          ReadConfigJson(config_path));
  if (IsHfConfig(config_json)) {
    return LoadHfCheckpoint(dir, config_json, device, dtype);
  }
  TINYLM_ASSIGN_OR_RETURN(loaded.config,
                          ConfigFromJson(config_json, config_path));
  loaded.training = config_json.value("training", nlohmann::json());

  loaded.tokenizer_path = JoinPath(dir, kTokenizerFile);
  if (!std::filesystem::is_regular_file(loaded.tokenizer_path, error)) {
    return absl::NotFoundError(
        absl::StrCat(loaded.tokenizer_path, ": tokenizer file is missing"));
  }

  const std::string weights_path = JoinPath(dir, kWeightsFile);
  TINYLM_ASSIGN_OR_RETURN(SafetensorsFile weights,
                          SafetensorsFile::Read(weights_path));
  TINYLM_RETURN_IF_ERROR(
      CheckConfigFitsWeights(loaded.config, weights, config_path));
  TINYLM_ASSIGN_OR_RETURN(loaded.model,
                          BuildModel(dir, loaded.config, weights, device, dtype,
                                     loaded.stored_dtype));
  TINYLM_ASSIGN_OR_RETURN(loaded.weights_sha256, Sha256Hex(weights.bytes()));
  return loaded;
}

absl::Status CheckTokenizerFits(const LoadedCheckpoint& checkpoint,
                                const std::string& dir,
                                const Tokenizer& tokenizer) {
  const std::string config_path = JoinPath(dir, kConfigFile);
  const std::string& tokenizer_path = checkpoint.tokenizer_path;
  if (tokenizer.vocab_size() != checkpoint.config.vocab_size) {
    return absl::FailedPreconditionError(absl::StrCat(
        tokenizer_path, " has ", tokenizer.vocab_size(), " pieces but ",
        config_path, " says vocab_size = ", checkpoint.config.vocab_size));
  }
  for (const auto& [key, named, own] :
       {std::tuple<const char*, int64_t, int64_t>{
            "bos_token_id", checkpoint.bos_id, tokenizer.bos_id()},
        {"eos_token_id", checkpoint.eos_id, tokenizer.eos_id()}}) {
    if (named >= 0 && named != own) {
      return absl::FailedPreconditionError(
          absl::StrCat(config_path, ": ", key, " = ", named, ", but ",
                       tokenizer_path, " has it as ", own));
    }
  }
  return absl::OkStatus();
}

}  // namespace tinylm
