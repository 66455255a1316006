// The two batched forward passes of the scheduler, as plain functions over
// the model and its KV cache. Rows may have different lengths: each sits in
// its own cache slot and attends only to its own positions (model.h).
// May throw c10::Error; the scheduler catches it.
#ifndef TINYLM_SERVER_ENGINE_MODEL_STEP_H_
#define TINYLM_SERVER_ENGINE_MODEL_STEP_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "models/kv_cache.h"
#include "models/model.h"

namespace tinylm {

struct StepRow {
  const std::vector<int64_t>* tokens;  // the sequence so far
  int64_t slot;                        // its KV cache slot
};

// Feeds every row's whole token list (the prompt), right-padded to the
// longest, writing the cache from position 0. Returns [B, V] float32: the
// logits after each row's last token.
at::Tensor PrefillLogits(Transformer& model, KvCache& cache,
                         const std::vector<StepRow>& rows);

// Feeds every row's last token at position len - 1 (all earlier positions
// are cached). Returns [B, V] float32.
at::Tensor DecodeLogits(Transformer& model, KvCache& cache,
                        const std::vector<StepRow>& rows);

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_MODEL_STEP_H_
