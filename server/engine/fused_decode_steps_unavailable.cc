// MakeFusedDecodeSteps in builds without a CUDA LibTorch 2.x: the static
// runner keeps its LibTorch decode step.
#include "server/engine/fused_decode_steps.h"

namespace tinylm {

std::unique_ptr<FusedDecodeSteps> MakeFusedDecodeSteps(Transformer&, KvCache&,
                                                       int64_t, GraphPool&,
                                                       std::string* why_not) {
  *why_not = "this build has no fused CUDA kernels (a CUDA LibTorch 2.x)";
  return nullptr;
}

}  // namespace tinylm
