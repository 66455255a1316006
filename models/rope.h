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

// x: [B, H, T, hs]; cos, sin: [B, 1, T, hs] (the table rows of the tokens'
// positions). Returns x * cos + rotate_half(x) * sin in x's dtype.
at::Tensor ApplyRope(const at::Tensor& x, const at::Tensor& cos,
                     const at::Tensor& sin);

}  // namespace tinylm

#endif  // TINYLM_MODELS_ROPE_H_
