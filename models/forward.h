// The inputs and outputs of one forward pass of the model (model.h): what
// training, the serving engine and the tests pass in, and what comes back.
#ifndef TINYLM_MODELS_FORWARD_H_
#define TINYLM_MODELS_FORWARD_H_

#include <cstdint>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace tinylm {

class ForwardHooks;
class KvCache;
class WeightCopies;

// One forward pass over B rows of T tokens.
//
// Without a cache every row attends to its own tokens causally; `positions`
// (default 0..T-1) only sets RoPE and score_fcn positions. Right-padding a
// row is harmless: its real tokens never see later positions.
//
// With a cache, row b is sequence `slots[b]`: its new tokens sit at
// positions[b, t], their keys/values are written there, and each token
// attends to cached positions 0..positions[b, t]. `kv_length` must exceed
// every position in the batch; it bounds how many cached keys are read.
struct ForwardInput {
  ForwardInput() = default;
  explicit ForwardInput(at::Tensor tokens) : tokens(std::move(tokens)) {}

  at::Tensor tokens;     // [B, T] int64
  at::Tensor positions;  // [B, T] int64, optional without a cache
  KvCache* cache = nullptr;
  std::vector<int64_t> slots;  // B slots of `cache`
  // The slots as a [B] int64 tensor on the model's device, when the caller
  // keeps them there (a captured CUDA graph may not upload). Without
  // `slots`, the rows are read through an index rather than a slice.
  at::Tensor slot_rows;
  int64_t kv_length = 0;
  bool return_attention = false;
  // The fastest attention kernels where no maps are requested (training,
  // the server's static steps): LibTorch 2.x's fused attention; ignored on
  // 1.x.
  bool fused_attention = false;
  // The fused CUDA kernels of kernels/ for the whole pass (builds with a
  // CUDA LibTorch; CUDA tensors, no cache, positions 0..T-1, no maps: the
  // training pass). Ignored where they cannot serve.
  bool kernels = false;
  // With `kernels`: bfloat16 copies of the parameters for the weight
  // products, which then add their gradients straight into the float32
  // gradients (weight_copies.h); owned by the caller. Null: autocast casts.
  const WeightCopies* weight_copies = nullptr;
  // [B] int64 on the device, optional: the one position t of each row whose
  // logits are wanted (e.g. a padded prompt's last token); the output is
  // then [B, 1, V] and the vocabulary projection skips the other positions.
  at::Tensor logits_at;
  // Optional: inspection hooks (forward_hooks.h) that may read or replace
  // activations at named points; owned by the caller.
  ForwardHooks* hooks = nullptr;
};

struct ForwardOutput {
  // [B, T, V] (or [B, 1, V], see logits_at) in the compute dtype: the
  // parameters' dtype, or bfloat16 under autocast.
  at::Tensor logits;
  // When requested: n_layer tensors [B, H, T, L] of post-softmax weights,
  // L = T without a cache, kv_length with one; exactly zero where masked.
  std::vector<at::Tensor> attention;
};

}  // namespace tinylm

#endif  // TINYLM_MODELS_FORWARD_H_
