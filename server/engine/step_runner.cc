#include "server/engine/step_runner.h"

#include "absl/strings/str_format.h"

namespace tinylm {

std::string DescribeCache(const KvCache& cache) {
  return absl::StrFormat("KV cache %.0f MiB (%d slots x %d positions)",
                         double(cache.bytes()) / (1 << 20), cache.num_slots(),
                         cache.max_len());
}

}  // namespace tinylm
