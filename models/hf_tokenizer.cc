#include "models/hf_tokenizer.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "util/file_io.h"
#include "util/json_file.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The tokenizer classes whose files are a sentencepiece model.
bool IsLlamaTokenizerClass(const json& name) {
  for (const char* known : {"LlamaTokenizer", "LlamaTokenizerFast",
                            "CodeLlamaTokenizer", "CodeLlamaTokenizerFast"}) {
    if (name == known) return true;
  }
  return false;
}

absl::Status ReadTokenizerConfig(const std::string& path, HfTokenizer& out) {
  TINYLM_ASSIGN_OR_RETURN(json config, ReadJsonObject(path));
  auto refuse = [&](const char* key, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", key, " = ", QuoteJson(config[key]), ": ", why));
  };
  if (config.contains("tokenizer_class") &&
      !IsLlamaTokenizerClass(config["tokenizer_class"])) {
    return refuse("tokenizer_class",
                  "only Llama's sentencepiece tokenizer (LlamaTokenizer) is "
                  "supported");
  }
  if (config.contains("add_bos_token")) {
    if (!config["add_bos_token"].is_boolean()) {
      return refuse("add_bos_token", "must be true or false");
    }
    out.add_bos = config["add_bos_token"].get<bool>();
  }
  if (config.contains("add_eos_token") && config["add_eos_token"] != false) {
    return refuse("add_eos_token",
                  "prompts ending in the end-of-sequence token are not "
                  "supported");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HfTokenizer> FindHfTokenizer(const std::string& dir) {
  HfTokenizer out;
  out.model_path = (fs::path(dir) / "tokenizer.model").string();
  if (!IsRegularFile(out.model_path)) {
    const fs::path fast = fs::path(dir) / "tokenizer.json";
    return absl::NotFoundError(
        IsRegularFile(fast.string())
            ? absl::StrCat(out.model_path, " is missing: ", fast.string(),
                           " alone is not supported (tinylm reads "
                           "sentencepiece tokenizers, tokenizer.model)")
            : absl::StrCat(out.model_path, ": tokenizer file is missing"));
  }
  const std::string config = (fs::path(dir) / "tokenizer_config.json").string();
  if (IsRegularFile(config))
    TINYLM_RETURN_IF_ERROR(ReadTokenizerConfig(config, out));
  return out;
}

json HfTokenizerConfigJson(const Tokenizer& tokenizer, bool add_bos,
                           int64_t context) {
  auto piece = [&](int64_t id) -> json {
    return id >= 0 ? json(tokenizer.IdToPiece(id)) : json(nullptr);
  };
  return {
      {"tokenizer_class", "LlamaTokenizer"},
      {"add_bos_token", add_bos},
      {"add_eos_token", false},
      {"add_prefix_space", false},
      {"legacy", true},
      {"bos_token", piece(tokenizer.bos_id())},
      {"eos_token", piece(tokenizer.eos_id())},
      {"unk_token", piece(tokenizer.unk_id())},
      {"pad_token", piece(tokenizer.pad_id())},
      {"clean_up_tokenization_spaces", false},
      {"spaces_between_special_tokens", false},
      {"model_max_length", context},
      {"sp_model_kwargs", json::object()},
  };
}

}  // namespace tinylm
