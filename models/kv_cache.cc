#include "models/kv_cache.h"

#include <ATen/ATen.h>

namespace tinylm {
namespace {

// Writes `fresh` [B, G, T, hs] into `storage` [S, max_len, G, hs] at the
// rows' (slot, position) and returns positions 0..L-1 of the rows' slots as
// [B, G, L, hs].
at::Tensor WriteAndRead(at::Tensor& storage, const at::Tensor& fresh,
                        const CacheRows& rows) {
  const int64_t B = fresh.size(0), T = fresh.size(2);
  storage.index_put_({rows.slots.expand({B, T}), rows.positions},
                     fresh.transpose(1, 2));
  const at::Tensor slots = rows.slot_begin >= 0
                               ? storage.narrow(0, rows.slot_begin, B)
                               : storage.index_select(0, rows.slots.view({B}));
  return slots.narrow(1, 0, rows.kv_length).transpose(1, 2);
}

}  // namespace

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

std::pair<at::Tensor, at::Tensor> KvCache::Update(int64_t layer,
                                                  const at::Tensor& k,
                                                  const at::Tensor& v,
                                                  const CacheRows& rows) {
  return {WriteAndRead(keys_[layer], k, rows),
          WriteAndRead(values_[layer], v, rows)};
}

int64_t KvCache::bytes() const {
  int64_t total = 0;
  for (size_t i = 0; i < keys_.size(); ++i) {
    total += keys_[i].nbytes() + values_[i].nbytes();
  }
  return total;
}

}  // namespace tinylm
