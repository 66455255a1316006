// Plain request and result types of the serving engine. No protobuf or
// gRPC here: server/validate turns API messages into these, server/convert
// turns the results back.
#ifndef TINYLM_SERVER_ENGINE_REQUEST_H_
#define TINYLM_SERVER_ENGINE_REQUEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "models/sampling_params.h"

namespace tinylm {

enum class FinishReason { kLength, kStop, kEos, kCancelled };

// What to compute once a sequence is complete (TopK, AttentionMaps,
// Compare): one forward pass without the cache over prompt + continuation.
struct AnalysisOptions {
  int64_t top_k = 0;              // next-token top-k after the prompt
  bool attention = false;         // maps of `layers` x `heads`
  std::vector<int64_t> layers;    // validated, non-empty when attention
  std::vector<int64_t> heads;     // validated, non-empty when attention
  bool half = false;              // maps as float16 instead of float32
  bool entropy = false;           // mean attention entropy per layer
};

struct GenerationRequest {
  std::vector<int64_t> prompt;  // token ids inside the vocabulary
  int64_t max_new_tokens = 0;   // prompt + max_new_tokens <= context
  SamplingParams sampling;      // seed always set
  std::vector<std::string> stop;
  int64_t top_n = 0;            // alternatives per token
  bool stream_tokens = true;    // false: only the final event is delivered
  std::optional<AnalysisOptions> analysis;
  absl::Time arrival = absl::Now();
  absl::Time deadline = absl::InfiniteFuture();
};

struct TokenEvent {
  int64_t id = 0;
  int64_t index = 0;     // among generated tokens
  std::string text;      // released valid UTF-8 (see TextAssembler)
  std::string raw;       // the token's own bytes
  float logprob = 0.0f;
  std::vector<TokenLogprob> alternatives;
};

struct TokenProbability {
  int64_t id = 0;
  float probability = 0.0f;
  float logprob = 0.0f;
};

struct AttentionMatrix {
  int64_t layer = 0;
  int64_t head = 0;
  int64_t size = 0;    // T: the matrix is T x T, row = query
  std::string bytes;   // row-major little-endian float32 or float16
};

struct AnalysisResult {
  std::vector<TokenProbability> top_k;  // most probable first
  std::vector<AttentionMatrix> maps;    // layer-major, then head
  std::vector<float> entropy;           // one per layer (nats)
};

struct Summary {
  FinishReason reason = FinishReason::kLength;
  int64_t prompt_tokens = 0;
  std::vector<int64_t> generated;  // ids, end-of-sequence included
  std::string text;                // all released text
  std::string stop;                // the stop string that ended it
  uint64_t seed = 0;
  double queue_ms = 0.0;
  double time_to_first_token_ms = 0.0;
  double total_ms = 0.0;
  std::optional<AnalysisResult> analysis;

  // Generated tokens as the API counts them: the end-of-sequence token is
  // streamed (with empty text) but not counted.
  int64_t generated_tokens() const {
    return int64_t(generated.size()) - (reason == FinishReason::kEos ? 1 : 0);
  }
};

// One message from the engine to a stream's consumer. The last event of a
// stream is kDone (summary) or kError (status: CANCELLED, DEADLINE_EXCEEDED,
// UNAVAILABLE, INTERNAL).
struct StreamEvent {
  enum class Kind { kToken, kDone, kError };
  Kind kind = Kind::kToken;
  TokenEvent token;
  Summary summary;
  absl::Status status;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_REQUEST_H_
