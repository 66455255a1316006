#include "models/hf_checkpoint.h"

#include <filesystem>
#include <map>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "models/hf_config.h"
#include "models/hf_names.h"
#include "models/hf_tokenizer.h"
#include "models/safetensors.h"
#include "models/weight_loader.h"
#include "util/file_io.h"
#include "util/json_file.h"
#include "util/quote.h"
#include "util/sha256.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kConfigFile[] = "config.json";
constexpr char kSingleFile[] = "model.safetensors";
constexpr char kIndexFile[] = "model.safetensors.index.json";

// The weight files, in the order they are read, and for a sharded model
// the file the index names for each tensor.
struct WeightFiles {
  std::vector<std::string> files;            // names within the directory
  std::map<std::string, std::string> index;  // tensor -> file; empty: one file
};

absl::StatusOr<WeightFiles> ReadIndex(const fs::path& dir) {
  const std::string path = (dir / kIndexFile).string();
  TINYLM_ASSIGN_OR_RETURN(json index, ReadJsonObject(path));
  if (!index.contains("weight_map") || !index["weight_map"].is_object() ||
      index["weight_map"].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": weight_map is missing or is not an object of tensor names"));
  }
  WeightFiles out;
  std::set<std::string> files;
  for (const auto& [tensor, file] : index["weight_map"].items()) {
    // A plain name in this directory: the index may not point elsewhere.
    const std::string name = file.is_string() ? file.get<std::string>() : "";
    if (name.empty() || name == "." || name == ".." ||
        name.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": weight_map[", Quote(tensor),
                       "] = ", Quote(file.is_string() ? name : file.dump()),
                       " is not the name of a file in this directory"));
    }
    if (!IsRegularFile((dir / name).string())) {
      return absl::NotFoundError(
          absl::StrCat(path, ": weight_map[", Quote(tensor), "] names ",
                       Quote(name), ", which is not in ", dir.string()));
    }
    out.index[tensor] = name;
    files.insert(name);
  }
  out.files.assign(files.begin(), files.end());
  return out;
}

// model.safetensors when it is there (as transformers prefers it), else
// the shards of the index. Pickled weights are named and refused.
absl::StatusOr<WeightFiles> FindWeightFiles(const std::string& dir) {
  const fs::path root(dir);
  if (IsRegularFile((root / kSingleFile).string()))
    return WeightFiles{{kSingleFile}, {}};
  if (IsRegularFile((root / kIndexFile).string())) return ReadIndex(root);
  for (const char* pickle :
       {"pytorch_model.bin", "pytorch_model.bin.index.json"}) {
    if (IsRegularFile((root / pickle).string())) {
      return absl::InvalidArgumentError(absl::StrCat(
          (root / pickle).string(),
          ": pickled PyTorch weights are not loaded (unpickling can run "
          "code); save the model as safetensors: "
          "model.save_pretrained(dir, safe_serialization=True)"));
    }
  }
  if (IsRegularFile((root / "consolidated.00.pth").string())) {
    return absl::InvalidArgumentError(absl::StrCat(
        (root / "consolidated.00.pth").string(),
        ": Meta's original checkpoint layout is not supported (its q and k "
        "weights interleave the RoPE halves); convert it to the Hugging Face "
        "layout with transformers' convert_llama_weights_to_hf.py"));
  }
  return absl::NotFoundError(
      absl::StrCat(dir, ": no ", kSingleFile, " and no ", kIndexFile));
}

// A forged config.json cannot make the loader allocate more than the files
// could fill: every parameter takes at least 2 bytes (bfloat16, float16).
// Counted in double, which no dimension can overflow.
absl::Status CheckFilesHoldModel(const HfLlamaConfig& hf, const fs::path& dir,
                                 const WeightFiles& weights) {
  const ModelConfig& c = hf.model;
  const double C = c.n_embd, hs = c.head_size();
  const double per_layer = 2 * C + C * (c.n_head + 2 * c.n_query_groups) * hs +
                           c.n_head * hs * C + 3 * C * c.intermediate_size;
  const double parameters =
      double(c.vocab_size) * C * (hf.tie_word_embeddings ? 1 : 2) +
      c.n_layer * per_layer + C;
  double bytes = 0;
  for (const std::string& file : weights.files) {
    std::error_code error;
    bytes += double(fs::file_size(dir / file, error));
  }
  if (2 * parameters <= bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s: the dimensions imply %.0f parameters (at least 2 bytes each), but "
      "the weight files hold only %.0f bytes",
      (dir / kConfigFile).string(), parameters, bytes));
}

// Fills `model` from the weight files, one file in memory at a time, and
// digests their bytes. Returns the token embedding's stored dtype.
absl::StatusOr<c10::ScalarType> LoadTensors(const fs::path& dir,
                                            const HfLlamaConfig& hf,
                                            const WeightFiles& weights,
                                            Transformer& model,
                                            Sha256& digest) {
  std::map<std::string, at::Tensor> params;
  for (auto& item : model->named_parameters()) {
    params.emplace(item.key(), item.value());
  }
  std::map<std::string, std::string> to_tinylm;
  for (const HfTensorName& name :
       HfTensorNames(hf.model, hf.tie_word_embeddings)) {
    to_tinylm.emplace(name.hf, name.tinylm);
  }
  const std::string index_path = (dir / kIndexFile).string();
  std::map<std::string, std::string> found_in;  // tensor -> file
  c10::ScalarType stored = c10::kFloat;
  for (const std::string& file : weights.files) {
    TINYLM_ASSIGN_OR_RETURN(const SafetensorsFile weight_file,
                            SafetensorsFile::Read((dir / file).string()));
    digest.Update(weight_file.bytes());
    std::vector<std::string> unexpected;
    for (const SafetensorsEntry& entry : weight_file.entries()) {
      // With tied embeddings transformers ignores a stored head too.
      if (IsIgnoredHfTensor(entry.name) ||
          (hf.tie_word_embeddings && entry.name == "lm_head.weight")) {
        continue;
      }
      auto listed = weights.index.find(entry.name);
      if (!weights.index.empty() &&
          (listed == weights.index.end() || listed->second != file)) {
        return absl::InvalidArgumentError(absl::StrCat(
            weight_file.source(), ": holds tensor '", entry.name, "', which ",
            index_path, " does not list for this file"));
      }
      auto name = to_tinylm.find(entry.name);
      if (name == to_tinylm.end()) {
        unexpected.push_back(entry.name);
        continue;
      }
      if (!found_in.emplace(entry.name, file).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(weight_file.source(), ": tensor '", entry.name,
                         "' is also in ", found_in[entry.name]));
      }
      TINYLM_RETURN_IF_ERROR(
          LoadWeight(weight_file, entry, params.at(name->second), kConfigFile));
      if (entry.name == "model.embed_tokens.weight") stored = entry.dtype;
    }
    if (!unexpected.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          weight_file.source(), ": tensors that a LlamaForCausalLM",
          " of config.json's dimensions does not have: ",
          ListNames(unexpected)));
    }
  }
  std::vector<std::string> missing;
  for (const auto& [hf_name, tinylm_name] : to_tinylm) {
    if (found_in.count(hf_name) == 0) missing.push_back(hf_name);
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir.string(),
                     ": the weight files lack tensors that config.json "
                     "implies: ",
                     ListNames(missing)));
  }
  if (hf.tie_word_embeddings) {
    // One matrix on the device for both uses, as in transformers.
    params.at("lm_head.weight").set_data(params.at("wte.weight"));
  }
  return stored;
}

}  // namespace

absl::StatusOr<LoadedCheckpoint> LoadHfCheckpoint(const std::string& dir,
                                                  const json& config,
                                                  c10::Device device,
                                                  c10::ScalarType dtype) {
  const fs::path root(dir);
  const std::string config_path = (root / kConfigFile).string();
  TINYLM_ASSIGN_OR_RETURN(const HfLlamaConfig hf,
                          HfConfigFromJson(config, config_path));
  TINYLM_RETURN_IF_ERROR(
      CheckRopeTableSize(hf.model, config_path, "max_position_embeddings"));
  TINYLM_ASSIGN_OR_RETURN(const HfTokenizer tokenizer, FindHfTokenizer(dir));
  TINYLM_ASSIGN_OR_RETURN(const WeightFiles weights, FindWeightFiles(dir));
  TINYLM_RETURN_IF_ERROR(CheckFilesHoldModel(hf, root, weights));

  LoadedCheckpoint loaded;
  loaded.config = hf.model;
  loaded.format = "huggingface";
  loaded.tokenizer_path = tokenizer.model_path;
  loaded.add_bos = tokenizer.add_bos;
  loaded.bos_id = hf.bos_token_id;
  loaded.eos_id = hf.eos_token_id;
  absl::StatusOr<Transformer> model = AllocateModel(hf.model, device, dtype);
  if (!model.ok()) {
    return absl::Status(model.status().code(),
                        absl::StrCat(dir, ": ", model.status().message()));
  }
  loaded.model = *std::move(model);
  Sha256 digest;
  TINYLM_ASSIGN_OR_RETURN(loaded.stored_dtype,
                          LoadTensors(root, hf, weights, loaded.model, digest));
  TINYLM_ASSIGN_OR_RETURN(loaded.weights_sha256, digest.HexDigest());
  return loaded;
}

}  // namespace tinylm
