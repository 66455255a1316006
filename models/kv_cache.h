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
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "models/config.h"

namespace tinylm {

// Where the new tokens of one forward pass go in the cache, and which keys
// they read.
struct CacheRows {
  at::Tensor slots;         // [B, 1] int64: each row's slot
  int64_t slot_begin = -1;  // >= 0: the slots are slot_begin, +1, ... (a slice)
  at::Tensor positions;     // [B, T] int64: each new token's position
  int64_t kv_length = 0;    // L: positions 0..L-1 of each slot are read
};

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

  // Writes the new tokens' keys and values k, v [B, G, T, hs] of `layer`
  // at (slot, position), then returns keys and values 0..L-1 of the rows'
  // slots: [B, G, L, hs] each.
  std::pair<at::Tensor, at::Tensor> Update(int64_t layer, const at::Tensor& k,
                                           const at::Tensor& v,
                                           const CacheRows& rows);

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
