#include "train/commands.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "util/status_macros.h"
#include "train/progress.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;

absl::Status Require(bool ok, const char* flag, const char* command) {
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("`", command, "` needs --", flag));
}

absl::Status RequireFiles(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    }
    if (fs::file_size(path, ec) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": file is empty"));
    }
  }
  return absl::OkStatus();
}

absl::Status MakeDirectory(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat(dir, ": cannot create directory: ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunTokenizerCommand(const Tokenizer::TrainOptions& options) {
  TINYLM_RETURN_IF_ERROR(
      Require(!options.inputs.empty(), "corpus", "tokenizer"));
  TINYLM_RETURN_IF_ERROR(RequireFiles(options.inputs));
  TINYLM_RETURN_IF_ERROR(MakeDirectory(
      fs::path(options.model_prefix).parent_path().string()));
  TINYLM_RETURN_IF_ERROR(Tokenizer::Train(options));
  std::printf("wrote %s.model (vocabulary %lld)\n",
              options.model_prefix.c_str(),
              static_cast<long long>(options.vocab_size));
  return absl::OkStatus();
}

absl::Status RunPrepareCommand(const PrepareOptions& options) {
  TINYLM_RETURN_IF_ERROR(Require(!options.inputs.empty(), "corpus", "prepare"));
  TINYLM_RETURN_IF_ERROR(
      Require(!options.tokenizer_path.empty(), "tokenizer", "prepare"));
  TINYLM_RETURN_IF_ERROR(Require(!options.out_dir.empty(), "out", "prepare"));
  TINYLM_RETURN_IF_ERROR(RequireFiles(options.inputs));
  TINYLM_RETURN_IF_ERROR(MakeDirectory(options.out_dir));
  TINYLM_ASSIGN_OR_RETURN(PrepareSummary s, PrepareDataset(options));
  std::printf(
      "%lld documents (%lld held out), %lld characters -> %lld train + %lld "
      "validation tokens, %.2f characters/token, vocabulary %lld\n",
      static_cast<long long>(s.documents),
      static_cast<long long>(s.val_documents),
      static_cast<long long>(s.chars), static_cast<long long>(s.train_tokens),
      static_cast<long long>(s.val_tokens),
      double(s.chars) / double(s.train_tokens + s.val_tokens),
      static_cast<long long>(s.vocab_size));
  return absl::OkStatus();
}

absl::Status RunTrainCommand(const TrainOptions& options) {
  return TrainAndReport(options).status();
}

absl::StatusOr<TrainResult> TrainAndReport(const TrainOptions& options) {
  TINYLM_RETURN_IF_ERROR(Require(!options.data_dir.empty(), "data", "train"));
  TINYLM_RETURN_IF_ERROR(
      Require(!options.tokenizer_path.empty(), "tokenizer", "train"));
  TINYLM_RETURN_IF_ERROR(Require(!options.out_dir.empty(), "out", "train"));
  TINYLM_RETURN_IF_ERROR(RequireFiles({options.tokenizer_path}));
  TINYLM_ASSIGN_OR_RETURN(TrainResult r, Train(options));
  std::printf(
      "%s: %lld steps, %lld tokens on %s in %s (%.0f tokens/s); loss %.4f, "
      "val loss %.4f; %lld parameters; checkpoint in %s/checkpoint\n",
      options.config.VariantName().c_str(), static_cast<long long>(r.steps),
      static_cast<long long>(r.tokens), r.device.c_str(),
      FormatDuration(r.elapsed_s).c_str(), r.tokens_per_s, r.final_loss,
      r.final_val_loss, static_cast<long long>(r.parameters),
      options.out_dir.c_str());
  return r;
}

}  // namespace tinylm
