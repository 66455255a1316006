#include "train/export_hf.h"

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "models/hf_export.h"
#include "train/quote_path.h"
#include "util/status_macros.h"

namespace tinylm {

namespace fs = std::filesystem;

absl::Status CheckExportHfOptions(const ExportHfOptions& options) {
  std::error_code error;
  if (!fs::is_regular_file(fs::path(options.checkpoint_dir) / "config.json",
                           error)) {
    return absl::NotFoundError(
        absl::StrCat("--checkpoint: ", QuotePath(options.checkpoint_dir),
                     " is not a checkpoint directory (no config.json)"));
  }
  if (fs::exists(options.out_dir, error) &&
      !(fs::is_directory(options.out_dir, error) &&
        fs::is_empty(options.out_dir, error))) {
    return absl::AlreadyExistsError(
        absl::StrCat("--out: ", QuotePath(options.out_dir),
                     " exists and is not an empty directory"));
  }
  return absl::OkStatus();
}

absl::Status RunExportHfCommand(const ExportHfOptions& options) {
  TINYLM_RETURN_IF_ERROR(CheckExportHfOptions(options));
  TINYLM_RETURN_IF_ERROR(
      ExportHfCheckpoint(options.checkpoint_dir, options.out_dir));
  std::printf(
      "wrote %s: config.json, model.safetensors, tokenizer.model, "
      "tokenizer_config.json (LlamaForCausalLM, LlamaTokenizer)\n",
      options.out_dir.c_str());
  return absl::OkStatus();
}

}  // namespace tinylm
