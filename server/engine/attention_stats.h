// Per-layer, per-head statistics of attention weights p[i, j] (query i,
// key j), each a mean over the query rows: entropy, mass on the first
// token, mean attention distance sum_j p[i, j] (i - j), mass on the
// diagonal; and optionally each row's most attended keys. Runs on the
// scheduler thread; may throw c10::Error.
#ifndef TINYLM_SERVER_ENGINE_ATTENTION_STATS_H_
#define TINYLM_SERVER_ENGINE_ATTENTION_STATS_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "server/engine/request.h"

namespace tinylm {

// attention: n_layer tensors [1, H, T, T] (ForwardOutput::attention).
// Layer-major, then head; one copy to the host.
std::vector<HeadStats> AttentionStats(const std::vector<at::Tensor>& attention,
                                      int64_t top_keys);

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_ATTENTION_STATS_H_
