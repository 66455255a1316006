// Rotary position embedding, LLaMA "rotate-half" layout over the whole head:
// the first and second halves of a head vector form the rotated pairs.
#ifndef TINYLM_MODELS_ROPE_H_
#define TINYLM_MODELS_ROPE_H_

#include <ATen/core/Tensor.h>

namespace tinylm {

// cos and sin tables for positions 0..block_size-1, each [block_size, hs],
// in float32 on the CPU; theta_i = base^(-2i/hs), angle = position * theta.
struct RopeTable {
  at::Tensor cos;
  at::Tensor sin;
};
RopeTable MakeRopeTable(int64_t block_size, int64_t head_size, double base);

// sin rows with their first half negated: rotate_half(x) * sin equals
// roll(x, hs / 2) * SignedSin(sin), one kernel instead of three. Computed
// once per forward and shared by every layer.
at::Tensor SignedSin(const at::Tensor& sin);

// x: [B, H, T, hs]; cos, signed_sin: [B, 1, T, hs] (the table rows of the
// tokens' positions, sin through SignedSin). Returns, in x's dtype and
// computed in float32, x * cos + rotate_half(x) * sin.
at::Tensor ApplyRope(const at::Tensor& x, const at::Tensor& cos,
                     const at::Tensor& signed_sin);

}  // namespace tinylm

#endif  // TINYLM_MODELS_ROPE_H_
