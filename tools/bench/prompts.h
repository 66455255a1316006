// The fixed prompt set of a benchmark run: `count` prompts of exactly
// `tokens` token ids each, sent as token_ids so that every request has the
// same length whatever the tokenizer does.
//
// From a text file: its lines are tokenized by the server (Tokenize RPC,
// the model's own tokenizer), the ids of all lines are joined in file order
// and cut into consecutive windows of `tokens` ids. Without a file: ids
// from a fixed formula (SyntheticPromptId), which
// tools/bench/decode_baselines.py repeats exactly. Either way the report
// stores the ids, so other programs can replay the very same prompts.
#ifndef TINYLM_TOOLS_BENCH_PROMPTS_H_
#define TINYLM_TOOLS_BENCH_PROMPTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tinylm/v1/tinylm.grpc.pb.h"

namespace tinylm {
namespace bench {

using Prompt = std::vector<int32_t>;

struct PromptOptions {
  std::string file;  // empty: synthetic ids
  int64_t tokens = 32;
  int64_t count = 16;
};

// Id j of synthetic prompt i for a vocabulary of `vocab_size` ids: spread
// over [3, vocab_size), leaving the low ids (control pieces) out.
int32_t SyntheticPromptId(int64_t i, int64_t j, int64_t vocab_size);

std::vector<Prompt> SyntheticPrompts(const PromptOptions& options,
                                     int64_t vocab_size);

// INVALID_ARGUMENT when the file cannot be read or holds too little text
// for `count` prompts; the Tokenize call's error when it fails.
absl::StatusOr<std::vector<Prompt>> PromptsFromFile(
    v1::TinyLM::StubInterface* stub, const std::string& model,
    const PromptOptions& options);

}  // namespace bench
}  // namespace tinylm

#endif  // TINYLM_TOOLS_BENCH_PROMPTS_H_
