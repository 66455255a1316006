// The logit lens: the model's final RMSNorm and LM head applied to the
// residual stream after the embeddings and after every block, read at
// chosen positions, with each layer's KL divergence from the final
// distribution. Runs on the scheduler thread; may throw c10::Error.
#ifndef TINYLM_SERVER_ENGINE_LOGIT_LENS_H_
#define TINYLM_SERVER_ENGINE_LOGIT_LENS_H_

#include <vector>

#include <ATen/core/Tensor.h>

#include "models/model.h"
#include "server/engine/request.h"

namespace tinylm {

// tokens: [1, T] on the model's device; options.positions < T.
// One forward pass recording the residual streams, then one projection of
// all (n_layer + 1) x P of them.
std::vector<LensPosition> LogitLens(Transformer& model,
                                    const at::Tensor& tokens,
                                    const LensOptions& options);

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_LOGIT_LENS_H_
