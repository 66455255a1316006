#include "train/batcher.h"

#include <random>
#include <utility>

#include <ATen/ATen.h>

#include "util/splitmix64.h"

namespace tinylm {

TokenBatcher::TokenBatcher(std::vector<uint16_t> tokens, int64_t block_size)
    : tokens_(std::move(tokens)), block_size_(block_size) {}

Batch TokenBatcher::Sample(uint64_t seed, int64_t step, int64_t micro_step,
                           int64_t batch_size) const {
  std::mt19937_64 rng(SplitMix64(SplitMix64(SplitMix64(seed) ^ uint64_t(step)) ^
                                 uint64_t(micro_step)));
  // Modulo bias is below 2^-40 for any corpus that fits in memory.
  const uint64_t range = tokens_.size() - block_size_;
  std::vector<int64_t> starts(batch_size);
  for (int64_t& s : starts) s = int64_t(rng() % range);
  return Gather(starts);
}

Batch TokenBatcher::Evaluation(int64_t index, int64_t count,
                               int64_t batch_size) const {
  const int64_t windows = count * batch_size;
  const int64_t range = int64_t(tokens_.size()) - block_size_;
  std::vector<int64_t> starts(batch_size);
  for (int64_t b = 0; b < batch_size; ++b) {
    starts[b] = (index * batch_size + b) * range / windows;
  }
  return Gather(starts);
}

Batch TokenBatcher::Gather(const std::vector<int64_t>& starts) const {
  const int64_t B = starts.size(), T = block_size_;
  at::Tensor window = at::empty({B, T + 1}, at::kLong);
  int64_t* out = window.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t <= T; ++t) out[b * (T + 1) + t] = tokens_[starts[b] + t];
  }
  return Batch{window.narrow(1, 0, T).contiguous(),
               window.narrow(1, 1, T).contiguous()};
}

}  // namespace tinylm
