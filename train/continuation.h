// Single-prompt decoding for the study's report: a continuation with the
// KV cache and the shared sampler, and the most probable next tokens.
// (The server has its own batched engine; this is the simple loop.)
#ifndef TINYLM_TRAIN_CONTINUATION_H_
#define TINYLM_TRAIN_CONTINUATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/model.h"
#include "models/sampler.h"
#include "models/tokenizer.h"

namespace tinylm {

// The prompt followed by up to `max_new_tokens` sampled tokens (stops at
// EOS and at the context limit), decoded to text.
absl::StatusOr<std::string> Continue(Transformer& model,
                                     const Tokenizer& tokenizer,
                                     const std::string& prompt,
                                     int64_t max_new_tokens,
                                     const SamplingParams& params);

struct NextToken {
  std::string piece;  // display form
  double probability;
};
// The `k` most probable tokens after `prompt`.
absl::StatusOr<std::vector<NextToken>> MostProbableNext(
    Transformer& model, const Tokenizer& tokenizer, const std::string& prompt,
    int64_t k);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_CONTINUATION_H_
