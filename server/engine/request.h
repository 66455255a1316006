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
#include "models/intervention_spec.h"
#include "models/sampling_params.h"

namespace tinylm {

enum class FinishReason { kLength, kStop, kEos, kCancelled };

// Per-layer, per-head attention statistics (attention_stats.h).
struct AttentionStatsOptions {
  int64_t top_keys = 0;  // most attended keys per query row; 0 = none
};

// The logit lens (logit_lens.h) at some positions of the prompt.
struct LensOptions {
  int64_t k = 5;                   // tokens per layer
  std::vector<int64_t> positions;  // validated, non-empty
};

// What to compute once a sequence is complete (TopK, AttentionMaps,
// Compare, LogitLens, Score, and Generate's statistics): one forward pass
// without the cache over prompt + continuation, with the request's
// interventions (and then one without them, for their effect).
struct AnalysisOptions {
  int64_t top_k = 0;              // next-token top-k after the prompt
  bool attention = false;         // maps of `layers` x `heads`
  std::vector<int64_t> layers;    // validated, non-empty when attention
  std::vector<int64_t> heads;     // validated, non-empty when attention
  bool half = false;              // maps as float16 instead of float32
  // Query rows [row_begin, row_end) of the maps, cut to the sequence;
  // row_end 0 = through the last.
  int64_t row_begin = 0;
  int64_t row_end = 0;
  bool entropy = false;           // mean attention entropy per layer
  std::optional<AttentionStatsOptions> stats;
  std::optional<LensOptions> lens;  // never with interventions
  bool score = false;               // per-token logprobs of the sequence
};

struct GenerationRequest {
  std::vector<int64_t> prompt;  // token ids inside the vocabulary
  int64_t max_new_tokens = 0;   // prompt + max_new_tokens <= context
  SamplingParams sampling;      // seed always set
  std::vector<std::string> stop;
  int64_t top_n = 0;            // alternatives per token
  bool stream_tokens = true;    // false: only the final event is delivered
  // For the consumer: tokens it may write in one message, at most.
  int64_t max_tokens_per_message = 1;
  std::optional<AnalysisOptions> analysis;
  // Validated (layers, heads, positions exist; patch sources as long as the
  // prompt). With max_new_tokens > 0 every step runs without the cache
  // (intervened_decoder.h); the analysis forward applies them too.
  std::vector<InterventionSpec> interventions;
  absl::Time arrival = absl::Now();
  absl::Time deadline = absl::InfiniteFuture();
};

struct TokenProbability {
  int64_t id = 0;
  float probability = 0.0f;
  float logprob = 0.0f;
};

// What interventions changed, over `positions` compared next-token
// distributions (interventions.h).
struct InterventionEffect {
  double mean_kl = 0.0;  // KL(clean || intervened), nats
  double max_kl = 0.0;
  int64_t positions = 0;
  int64_t top_changed = 0;  // positions whose most probable token changed
  float max_logit_change = 0.0f;
  TokenProbability clean_top, intervened_top;  // at the first position

  // Folds in the effect at further positions (a later decode step).
  void Add(const InterventionEffect& more);
};

struct TokenEvent {
  int64_t id = 0;
  int64_t index = 0;     // among generated tokens
  std::string text;      // released valid UTF-8 (see TextAssembler)
  std::string raw;       // the token's own bytes
  float logprob = 0.0f;
  std::vector<TokenLogprob> alternatives;
  std::optional<InterventionEffect> effect;  // with interventions
};

// Query rows [row_begin, row_begin + rows) of one T x T map.
struct AttentionMatrix {
  int64_t layer = 0;
  int64_t head = 0;
  int64_t size = 0;  // T, the columns (keys)
  int64_t row_begin = 0;
  int64_t rows = 0;
  std::string bytes;  // row-major little-endian float32 or float16
};

// One head's attention statistics: means over the query rows.
struct HeadStats {
  int64_t layer = 0;
  int64_t head = 0;
  float entropy = 0.0f;           // nats
  float first_token_mass = 0.0f;  // weight on key 0
  float mean_distance = 0.0f;     // sum_j p[i, j] (i - j)
  float diagonal_mass = 0.0f;     // weight on key i
  struct TopKeys {
    std::vector<int64_t> keys;  // most attended first
    std::vector<float> weights;
  };
  std::vector<TopKeys> top_keys;  // per query row, when asked
};

struct LensLayer {
  int64_t layer = 0;  // -1: the embeddings
  std::vector<TokenProbability> tokens;
  float kl_from_final = 0.0f;
  float final_top_probability = 0.0f;
};

struct LensPosition {
  int64_t position = 0;
  std::vector<LensLayer> layers;  // embeddings first
};

// Log-probabilities of tokens 1..T-1 of the sequence, each given those
// before it (index t - 1 for token t).
struct TokenScores {
  std::vector<float> logprobs;
  double mean_loss = 0.0;  // -mean of logprobs
  // With interventions: the same without them, and the KL per token.
  std::vector<float> clean_logprobs;
  std::vector<float> kl;
  double clean_mean_loss = 0.0;
};

struct AnalysisResult {
  std::vector<TokenProbability> top_k;  // most probable first
  std::vector<AttentionMatrix> maps;    // layer-major, then head
  std::vector<float> entropy;           // one per layer (nats)
  std::vector<HeadStats> stats;         // layer-major, then head
  std::vector<LensPosition> lens;       // in request order
  std::optional<TokenScores> scores;
  // With interventions: the top-k without them, and their effect on the
  // next token after the prompt (TopK) or on every scored token (Score).
  std::vector<TokenProbability> clean_top_k;
  std::optional<InterventionEffect> effect;
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
  std::optional<InterventionEffect> effect;  // Generate's, over every step

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
