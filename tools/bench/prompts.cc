#include "tools/bench/prompts.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace tinylm {
namespace bench {
namespace {

constexpr int64_t kFirstSyntheticId = 3;

}  // namespace

int32_t SyntheticPromptId(int64_t i, int64_t j, int64_t vocab_size) {
  const int64_t span = vocab_size - kFirstSyntheticId;
  return static_cast<int32_t>(kFirstSyntheticId +
                              (i * 7919 + j * 104729) % span);
}

std::vector<Prompt> SyntheticPrompts(const PromptOptions& options,
                                     int64_t vocab_size) {
  std::vector<Prompt> prompts(options.count);
  for (int64_t i = 0; i < options.count; ++i) {
    for (int64_t j = 0; j < options.tokens; ++j) {
      prompts[i].push_back(SyntheticPromptId(i, j, vocab_size));
    }
  }
  return prompts;
}

absl::StatusOr<std::vector<Prompt>> PromptsFromFile(
    v1::TinyLM::StubInterface* stub, const std::string& model,
    const PromptOptions& options) {
  std::ifstream in(options.file);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--prompts_file: cannot read ", options.file));
  }
  const size_t needed = static_cast<size_t>(options.tokens * options.count);
  std::vector<int32_t> ids;
  std::string line;
  while (ids.size() < needed && std::getline(in, line)) {
    if (line.empty()) continue;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    v1::TokenizeRequest request;
    request.set_model(model);
    request.set_text(line);
    v1::TokenizeResponse response;
    const grpc::Status status = stub->Tokenize(&context, request, &response);
    if (!status.ok()) {
      return absl::Status(
          static_cast<absl::StatusCode>(status.error_code()),
          absl::StrCat("Tokenize of a line of ", options.file, " for model \"",
                       model, "\": ", status.error_message()));
    }
    ids.insert(ids.end(), response.ids().begin(), response.ids().end());
  }
  if (ids.size() < needed) {
    return absl::InvalidArgumentError(
        absl::StrCat("--prompts_file ", options.file, " gives ", ids.size(),
                     " tokens for model \"", model, "\"; ", options.count,
                     " prompts of ", options.tokens, " need ", needed));
  }
  std::vector<Prompt> prompts(options.count);
  for (int64_t i = 0; i < options.count; ++i) {
    const auto begin = ids.begin() + i * options.tokens;
    prompts[i].assign(begin, begin + options.tokens);
  }
  return prompts;
}

}  // namespace bench
}  // namespace tinylm
