// Generation with interventions. Every step runs one forward pass without
// the KV cache over the whole sequence with the interventions applied (an
// ablation by the mean over positions changes with every new token, and a
// request's hooks must not reach the other rows of a batch), and one
// without them, so that each token's effect is known. Such requests step
// beside the batch on the scheduler thread; the batched steps stay as they
// are. Not thread-safe; may throw c10::Error.
#ifndef TINYLM_SERVER_ENGINE_INTERVENED_DECODER_H_
#define TINYLM_SERVER_ENGINE_INTERVENED_DECODER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "models/intervention.h"
#include "models/model.h"
#include "server/engine/request.h"

namespace tinylm {

class IntervenedDecoder {
 public:
  // Reads the patch sources (interventions.h). `model` outlives this.
  IntervenedDecoder(Transformer& model,
                    const std::vector<InterventionSpec>& specs);

  struct Step {
    at::Tensor logits;  // [1, V] float32, with the interventions
    InterventionEffect effect;
  };
  // The next-token logits after `tokens` (the whole sequence so far); the
  // step's effect is added to total().
  Step Next(const std::vector<int64_t>& tokens);

  const InterventionEffect& total() const { return total_; }

 private:
  Transformer& model_;
  std::unique_ptr<InterventionHooks> hooks_;
  InterventionEffect total_;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_INTERVENED_DECODER_H_
