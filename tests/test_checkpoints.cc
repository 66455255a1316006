#include "tests/test_checkpoints.h"

#include <cstdlib>
#include <filesystem>

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "models/checkpoint.h"
#include "models/config.h"
#include "util/status_macros.h"
#include "models/tokenizer.h"
#include "nlohmann/json.hpp"

namespace tinylm {
namespace {

// The smallest round size that holds the sample corpus's characters at the
// coverage the tokenizer trainer requires (0.98).
constexpr int64_t kVocabSize = 1300;
// Room for a prompt and a continuation in the tests, still tiny.
constexpr int64_t kContext = 128;

absl::StatusOr<int64_t> TrainTokenizer(const std::string& prefix) {
  Tokenizer::TrainOptions options;
  options.inputs = {TINYLM_TEST_CORPUS};
  options.model_prefix = prefix;
  options.vocab_size = kVocabSize;
  // Rare characters fall back to bytes, which the tests want.
  options.character_coverage = 0.98;
  options.num_threads = 1;
  options.log_progress = false;
  TINYLM_RETURN_IF_ERROR(Tokenizer::Train(options));
  return kVocabSize;
}

absl::Status SaveVariant(const std::string& dir, const std::string& variant,
                         int64_t vocab, const std::string& tokenizer) {
  TINYLM_ASSIGN_OR_RETURN(ModelConfig config, MakeConfig("tiny", variant));
  config.vocab_size = vocab;
  config.block_size = kContext;
  at::manual_seed(1234);
  Transformer model(config);
  SaveOptions options;
  options.training = {{"note", "random weights for tests"},
                      {"variant", variant}};
  options.tokenizer_path = tokenizer;
  return SaveCheckpoint(dir + "/" + variant, model, options);
}

}  // namespace

absl::Status BuildTestCheckpoints(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot create ", dir));
  }
  const std::string prefix = dir + "/tokenizer";
  TINYLM_ASSIGN_OR_RETURN(const int64_t vocab, TrainTokenizer(prefix));
  for (const std::string& variant : VariantNames()) {
    TINYLM_RETURN_IF_ERROR(
        SaveVariant(dir, variant, vocab, prefix + ".model"));
  }
  std::filesystem::remove(prefix + ".model", error);
  std::filesystem::remove(prefix + ".vocab", error);
  return absl::OkStatus();
}

absl::StatusOr<std::string> TestCheckpointsDir(const std::string& scratch) {
  if (const char* env = std::getenv("TINYLM_TEST_CHECKPOINTS")) {
    if (*env != '\0') return std::string(env);
  }
  const std::string dir = scratch + "/checkpoints";
  TINYLM_RETURN_IF_ERROR(BuildTestCheckpoints(dir));
  return dir;
}

}  // namespace tinylm
