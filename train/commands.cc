#include "train/commands.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "train/command_line.h"
#include "train/launch_env.h"
#include "train/progress.h"
#include "train/quote_path.h"
#include "train/run_dir.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Each of `paths` (the value of --flag) must be a file that is not empty.
absl::Status RequireFiles(absl::string_view flag,
                          const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      return absl::NotFoundError(
          absl::StrCat("--", flag, ": ", QuotePath(path), ": no such file"));
    }
    if (fs::file_size(path, ec) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": ", QuotePath(path), ": file is empty"));
    }
  }
  return absl::OkStatus();
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

absl::StatusOr<ModelConfig> ConfigFromFlags(absl::string_view size,
                                            absl::string_view variant) {
  TINYLM_RETURN_IF_ERROR(CheckFlagChoice("size", size, SizeNames()));
  TINYLM_RETURN_IF_ERROR(CheckFlagChoice("variant", variant, VariantNames()));
  return MakeConfig(size, variant);
}

absl::Status CheckTokenizerOptions(const Tokenizer::TrainOptions& options) {
  return RequireFiles("corpus", options.inputs);
}

absl::Status RunTokenizerCommand(const Tokenizer::TrainOptions& options) {
  TINYLM_RETURN_IF_ERROR(CheckTokenizerOptions(options));
  // sentencepiece's progress log runs to hundreds of lines and buries its
  // one error; it reports only warnings and errors, and this line says
  // what is running.
  Tokenizer::TrainOptions quiet = options;
  quiet.log_progress = false;
  uintmax_t bytes = 0;
  for (const std::string& input : options.inputs) {
    std::error_code ec;
    bytes += fs::file_size(input, ec);
  }
  std::fprintf(stderr,
               "training a tokenizer of %lld pieces on %.1f MB of text with "
               "%d threads\n",
               static_cast<long long>(options.vocab_size), bytes / 1e6,
               options.num_threads);
  const std::string dir = fs::path(options.model_prefix).parent_path();
  std::error_code ec;
  const bool created = fs::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat(
        QuotePath(dir), ": cannot create directory: ", ec.message()));
  }
  const Clock::time_point start = Clock::now();
  const absl::Status trained = Tokenizer::Train(quiet);
  if (!trained.ok()) {
    if (created) fs::remove(dir, ec);  // only if still empty
    return trained;
  }
  std::printf("wrote %s.model (vocabulary %lld) in %s\n",
              options.model_prefix.c_str(),
              static_cast<long long>(options.vocab_size),
              FormatDuration(SecondsSince(start)).c_str());
  return absl::OkStatus();
}

absl::Status CheckPrepareOptions(const PrepareOptions& options) {
  TINYLM_RETURN_IF_ERROR(ValidatePrepareOptions(options));
  TINYLM_RETURN_IF_ERROR(RequireFiles("corpus", options.inputs));
  return RequireFiles("tokenizer", {options.tokenizer_path});
}

absl::Status RunPrepareCommand(const PrepareOptions& options) {
  TINYLM_RETURN_IF_ERROR(CheckPrepareOptions(options));
  TINYLM_ASSIGN_OR_RETURN(PrepareSummary s, PrepareDataset(options));
  std::printf(
      "%lld documents (%lld held out), %lld characters -> %lld train + %lld "
      "validation tokens, %.2f characters/token, vocabulary %lld\n",
      static_cast<long long>(s.documents),
      static_cast<long long>(s.val_documents), static_cast<long long>(s.chars),
      static_cast<long long>(s.train_tokens),
      static_cast<long long>(s.val_tokens),
      double(s.chars) / double(s.train_tokens + s.val_tokens),
      static_cast<long long>(s.vocab_size));
  return absl::OkStatus();
}

absl::Status CheckTrainInputs(const TrainOptions& options) {
  TINYLM_RETURN_IF_ERROR(ValidateTrainOptions(options));
  TINYLM_RETURN_IF_ERROR(RequireFiles("tokenizer", {options.tokenizer_path}));
  return RequireFiles(
      "data", {options.data_dir + "/train.bin", options.data_dir + "/val.bin"});
}

absl::Status CheckTrainOptions(const TrainOptions& options) {
  TINYLM_RETURN_IF_ERROR(CheckTrainInputs(options));
  // The other ranks never touch --out (it need not be on their machines).
  if (!IsRankZero(options.launch)) return absl::OkStatus();
  return CheckRunDirectory(options.out_dir, options.resume, options.overwrite);
}

absl::Status RunTrainCommand(const TrainOptions& options) {
  TINYLM_RETURN_IF_ERROR(CheckTrainOptions(options));
  return TrainAndReport(options).status();
}

absl::StatusOr<TrainResult> TrainAndReport(const TrainOptions& options) {
  // The vocabulary is the tokenizer's, whatever the size preset says.
  TINYLM_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer,
                          Tokenizer::Load(options.tokenizer_path));
  TrainOptions o = options;
  o.config.vocab_size = tokenizer->vocab_size();
  TINYLM_ASSIGN_OR_RETURN(TrainResult r, Train(o));
  if (!IsRankZero(o.launch)) return r;
  std::printf(
      "%s: %lld steps, %lld tokens on %s in %s (%.0f tokens/s); loss %.4f, "
      "val loss %.4f; %lld parameters; checkpoint in %s/checkpoint\n",
      o.config.VariantName().c_str(), static_cast<long long>(r.steps),
      static_cast<long long>(r.tokens), r.device.c_str(),
      FormatDuration(r.elapsed_s).c_str(), r.tokens_per_s, r.final_loss,
      r.final_val_loss, static_cast<long long>(r.parameters),
      o.out_dir.c_str());
  return r;
}

}  // namespace tinylm
