// OpenAI's legacy completions API (POST /v1/completions, GET /v1/models)
// translated to and from tinylm.v1 messages: a completion is one Generate
// call, its choices' logprobs the streamed tokens' logprobs and top-n
// alternatives, its usage the Generate summary's counts.
#ifndef TINYLM_SERVER_HTTP_OPENAI_COMPLETIONS_H_
#define TINYLM_SERVER_HTTP_OPENAI_COMPLETIONS_H_

#include <cstdint>
#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "tinylm/v1/tinylm.pb.h"

namespace tinylm {

struct CompletionRequest {
  v1::GenerateRequest generate;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int logprobs = -1;           // -1: none; else alternatives per token
  int64_t prompt_chars = 0;    // where the completion's text_offset starts
};

// Reads a request body; unsupported fields and values are refused with a
// message naming the field, also set in `param` (as OpenAI reports it).
absl::StatusOr<CompletionRequest> ParseCompletionRequest(
    absl::string_view body, std::string* param);

// Builds the response (or the stream's chunks) from Generate's messages.
class CompletionBuilder {
 public:
  CompletionBuilder(const CompletionRequest& request, std::string id,
                    int64_t created);

  void Add(const v1::GeneratedToken& token);
  // The whole completion, once `summary` has arrived.
  nlohmann::json Completion(const v1::GenerateSummary& summary) const;

  // Streaming: the chunk of one token, the last chunk (finish_reason), and
  // the usage chunk (stream_options.include_usage).
  nlohmann::json TokenChunk(const v1::GeneratedToken& token);
  nlohmann::json FinalChunk(const v1::GenerateSummary& summary) const;
  nlohmann::json UsageChunk(const v1::GenerateSummary& summary) const;

 private:
  nlohmann::json Envelope(nlohmann::json choice) const;
  // The logprobs entry of `token`, at the text's current offset.
  nlohmann::json Logprobs(const v1::GeneratedToken& token) const;
  // Appends the token's text.
  void Advance(const v1::GeneratedToken& token);

  const CompletionRequest& request_;
  std::string id_;
  int64_t created_;
  std::string text_;
  int64_t text_chars_ = 0;  // Unicode code points of text_
  nlohmann::json logprobs_;
};

// {"error": {"message", "type", "param", "code"}} for a failed call.
nlohmann::json OpenAiError(const grpc::Status& status,
                           const std::string& param = "");

// GET /v1/models
nlohmann::json OpenAiModelList(const v1::ListModelsResponse& models);

}  // namespace tinylm

#endif  // TINYLM_SERVER_HTTP_OPENAI_COMPLETIONS_H_
