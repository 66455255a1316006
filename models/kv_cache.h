// Preallocated key/value cache for incremental decoding of a batch of
// sequences, each in its own slot with its own length.
//
// The cache owns no notion of which slot is busy or how long each sequence
// is: the caller (the trainer's sampler, the server's scheduler) tracks
// that and passes slots and positions to Transformer::Forward. Allocation
// happens once, here; a decoding step writes into existing storage.
#ifndef TINYLM_MODELS_KV_CACHE_H_
#define TINYLM_MODELS_KV_CACHE_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "models/config.h"

namespace tinylm {

class KvCache {
 public:
  // Storage for `num_slots` sequences of up to `max_len` positions.
  KvCache(const ModelConfig& config, int64_t num_slots, int64_t max_len,
          c10::Device device, c10::ScalarType dtype);

  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int64_t num_slots() const { return num_slots_; }
  int64_t max_len() const { return max_len_; }

  // [num_slots, max_len, n_query_groups, head_size] for layer `layer`.
  at::Tensor& keys(int64_t layer) { return keys_[layer]; }
  at::Tensor& values(int64_t layer) { return values_[layer]; }

  // Total bytes held by the cache (keys and values of all layers).
  int64_t bytes() const;

 private:
  int64_t num_slots_;
  int64_t max_len_;
  std::vector<at::Tensor> keys_;    // per layer [S, L, G, hs]
  std::vector<at::Tensor> values_;  // per layer [S, L, G, hs]
};

}  // namespace tinylm

#endif  // TINYLM_MODELS_KV_CACHE_H_
