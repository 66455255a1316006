#include "models/rope.h"

#include <ATen/ATen.h>

namespace tinylm {

RopeTable MakeRopeTable(int64_t block_size, int64_t head_size, double base) {
  // Computed in float64 and rounded once, so the table does not depend on
  // the device or dtype the model later runs in.
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor theta =
      at::pow(base, -at::arange(0, head_size, 2, f64) / double(head_size));
  const at::Tensor angle =
      at::outer(at::arange(block_size, f64), theta);  // [block_size, hs/2]
  const at::Tensor full = at::cat({angle, angle}, -1);  // [block_size, hs]
  return RopeTable{full.cos().to(at::kFloat), full.sin().to(at::kFloat)};
}

at::Tensor SignedSin(const at::Tensor& sin) {
  const int64_t half = sin.size(-1) / 2;
  return at::cat({-sin.narrow(-1, 0, half), sin.narrow(-1, half, half)}, -1);
}

at::Tensor ApplyRope(const at::Tensor& x, const at::Tensor& cos,
                     const at::Tensor& signed_sin) {
  // rotate_half([x1, x2]) = [-x2, x1] = roll([x1, x2], half) * [-1, 1].
  // The float32 tables promote the products to float32, as if x were
  // converted first, without a kernel for the conversion.
  const at::Tensor rolled = at::roll(x, x.size(-1) / 2, -1);
  return at::addcmul(x * cos, rolled, signed_sin).to(x.scalar_type());
}

}  // namespace tinylm
