#include "models/kv_cache.h"

#include <ATen/ATen.h>

namespace tinylm {

KvCache::KvCache(const ModelConfig& config, int64_t num_slots,
                 int64_t max_len, c10::Device device, c10::ScalarType dtype)
    : num_slots_(num_slots), max_len_(max_len) {
  const auto options = at::TensorOptions().device(device).dtype(dtype);
  keys_.reserve(config.n_layer);
  values_.reserve(config.n_layer);
  for (int64_t layer = 0; layer < config.n_layer; ++layer) {
    keys_.push_back(at::zeros(
        {num_slots, max_len, config.n_query_groups, config.head_size()},
        options));
    values_.push_back(at::zeros_like(keys_.back()));
  }
}

int64_t KvCache::bytes() const {
  int64_t total = 0;
  for (size_t i = 0; i < keys_.size(); ++i) {
    total += keys_[i].nbytes() + values_[i].nbytes();
  }
  return total;
}

}  // namespace tinylm
