#include "server/engine/step_runner.h"

#include <algorithm>
#include <utility>

#include <c10/util/Exception.h>

#include "absl/strings/str_format.h"

namespace tinylm {

std::vector<SampledToken> StepRunner::DecodeAndSample(
    const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
    const std::vector<int64_t>& top_n) {
  return SampleEachRow(Decode(rows), samples, top_n);
}

std::vector<SampledToken> StepRunner::PrefillAndSample(
    const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
    const std::vector<int64_t>& top_n) {
  return SampleEachRow(Prefill(rows), samples, top_n);
}

void StepRunner::Launch(const std::vector<LaunchRow>& rows) {
  // Sequences of the right length whose last token is the one fed: all a
  // decode step reads of a StepRow.
  std::vector<std::vector<int64_t>> sequences(rows.size());
  std::vector<std::vector<int64_t>> histories(rows.size());
  std::vector<StepRow> steps;
  std::vector<SampleRow> samples(rows.size());
  std::vector<int64_t> top_n;
  for (size_t b = 0; b < rows.size(); ++b) {
    const LaunchRow& row = rows[b];
    int64_t token = row.token;
    if (row.feed >= 0) {
      TORCH_CHECK(
          !launched_.empty() && row.feed < int64_t(launched_.back().size()),
          "feed ", row.feed, " without such a row launched");
      token = launched_.back()[row.feed].id;
    }
    sequences[b].assign(row.position + 1, 0);
    sequences[b].back() = token;
    steps.push_back({&sequences[b], row.slot});
    samples[b].params = row.sampling;
    if (row.sampling.repetition_penalty != 1.0 && row.history != nullptr) {
      histories[b] = *row.history;
      histories[b].resize(row.position + 1);
      histories[b].back() = token;
      samples[b].history = &histories[b];
    }
    samples[b].position = row.position + 1;
    top_n.push_back(row.top_n);
  }
  launched_.push_back(DecodeAndSample(steps, samples, top_n));
}

std::vector<SampledToken> StepRunner::Finish() {
  TORCH_CHECK(!launched_.empty(), "no launched step to finish");
  std::vector<SampledToken> tokens = std::move(launched_.front());
  launched_.pop_front();
  return tokens;
}

std::vector<SampledToken> SampleEachRow(const at::Tensor& logits,
                                        const std::vector<SampleRow>& samples,
                                        const std::vector<int64_t>& top_n) {
  const int64_t most =
      top_n.empty() ? 0 : *std::max_element(top_n.begin(), top_n.end());
  std::vector<SampledToken> tokens = SampleTokens(logits, samples, most);
  for (size_t b = 0; b < tokens.size(); ++b) {
    std::vector<TokenLogprob>& alternatives = tokens[b].alternatives;
    if (int64_t(alternatives.size()) > top_n[b]) alternatives.resize(top_n[b]);
  }
  return tokens;
}

std::string DescribeCache(const KvCache& cache) {
  return absl::StrFormat("KV cache %.0f MiB (%d slots x %d positions)",
                         double(cache.bytes()) / (1 << 20), cache.num_slots(),
                         cache.max_len());
}

}  // namespace tinylm
