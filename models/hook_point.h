// The named points of the forward pass where inspection code may read or
// replace an activation (forward_hooks.h), as plain data: the serving
// engine's request types name them too.
#ifndef TINYLM_MODELS_HOOK_POINT_H_
#define TINYLM_MODELS_HOOK_POINT_H_

namespace tinylm {

enum class HookPoint {
  // [B, T, C] the residual stream after block `layer`; layer -1 is the
  // token embeddings, before the first block.
  kResidual,
  // [B, T, C] the attention block's output: after the output projection,
  // before the residual add.
  kAttentionOutput,
  // [B, T, C] the MLP's output, before the residual add.
  kMlpOutput,
  // [B, H, T, hs] each head's attention output, before the heads are merged
  // and projected.
  kHeadOutputs,
  // [B, H, T, L] the post-softmax weights in v's dtype, as they multiply v.
  // Wanting it makes the layer take the reference attention path.
  kAttentionPattern,
};

}  // namespace tinylm

#endif  // TINYLM_MODELS_HOOK_POINT_H_
