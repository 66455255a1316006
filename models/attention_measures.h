// Per-query-row measures of post-softmax attention weights p[i, j] (query
// i, key j, causal): what the server's attention statistics and the
// study's attention report average over rows.
#ifndef TINYLM_MODELS_ATTENTION_MEASURES_H_
#define TINYLM_MODELS_ATTENTION_MEASURES_H_

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace tinylm {

// The measures, in the order of AttentionRowMeasures' first dimension.
enum AttentionMeasure : int64_t {
  kEntropy = 0,     // -sum_j p log p, nats
  kFirstToken = 1,  // p[i, 0]
  kDistance = 2,    // sum_j p[i, j] (i - j), in positions
  kDiagonal = 3,    // p[i, i]
  kNumAttentionMeasures = 4,
};

// p: [..., T, T] float -> [kNumAttentionMeasures, ..., T], one value per
// query row.
at::Tensor AttentionRowMeasures(const at::Tensor& p);

// p: [..., T, T] float, keys: [T] bool -> [..., T]: each query row's mass
// on the marked keys, sum_{j in keys} p[i, j].
at::Tensor AttentionMassOn(const at::Tensor& p, const at::Tensor& keys);

}  // namespace tinylm

#endif  // TINYLM_MODELS_ATTENTION_MEASURES_H_
