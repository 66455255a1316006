// What an intervention on the forward pass does, as plain data (no torch):
// the serving engine's requests carry these, intervention.h applies them.
#ifndef TINYLM_MODELS_INTERVENTION_SPEC_H_
#define TINYLM_MODELS_INTERVENTION_SPEC_H_

#include <cstdint>
#include <vector>

#include "models/hook_point.h"

namespace tinylm {

struct InterventionSpec {
  enum class Action {
    kZero,   // the activation becomes 0
    kMean,   // each position gets the mean over the sequence's positions
    kPatch,  // the activation recorded on `source` replaces it
  };

  // Ablations: kHeadOutputs, kAttentionOutput, kMlpOutput. Patches:
  // kResidual, kAttentionPattern.
  HookPoint point = HookPoint::kAttentionOutput;
  int64_t layer = 0;  // a block index
  Action action = Action::kZero;
  // kHeadOutputs and kAttentionPattern: the heads acted on; empty = all.
  std::vector<int64_t> heads;
  // kPatch: the source's token ids, as many as the prompt has, and the
  // positions (query rows for a pattern) patched; empty = all the source's.
  std::vector<int64_t> source;
  std::vector<int64_t> positions;
};

}  // namespace tinylm

#endif  // TINYLM_MODELS_INTERVENTION_SPEC_H_
