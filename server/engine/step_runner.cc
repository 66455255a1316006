#include "server/engine/step_runner.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace tinylm {

std::vector<SampledToken> StepRunner::DecodeAndSample(
    const std::vector<StepRow>& rows, const std::vector<SampleRow>& samples,
    const std::vector<int64_t>& top_n) {
  const int64_t most =
      top_n.empty() ? 0 : *std::max_element(top_n.begin(), top_n.end());
  return SampleTokens(Decode(rows), samples, most);
}

std::string DescribeCache(const KvCache& cache) {
  return absl::StrFormat("KV cache %.0f MiB (%d slots x %d positions)",
                         double(cache.bytes()) / (1 << 20), cache.num_slots(),
                         cache.max_len());
}

}  // namespace tinylm
