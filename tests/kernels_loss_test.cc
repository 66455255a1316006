// Cross-entropy (kernels/torch/cross_entropy_op.h) against
// at::cross_entropy_loss in float64, forward and backward: the kernels on
// poisoned outputs and the autograd op, bfloat16 and float32 logits, the
// article's vocabulary (V = 8000) and an odd one, ignored rows, and the
// data errors (a target outside the vocabulary, every row ignored).
#include <ATen/TensorOperators.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/logsumexp.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randint.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/torch/cross_entropy_op.h"
#include "kernels_test_util.h"

namespace tinylm::kernels_test {
namespace {

constexpr int64_t kIgnore = -100;
const auto kCuda = at::TensorOptions().device(at::kCUDA);

struct LossCase {
  int64_t N, V;
  bool some_ignored;
};

using CrossEntropyTest = KernelsTest;

TEST_F(CrossEntropyTest, MatchesFloat64) {
  const std::vector<LossCase> cases = {
      {2048, 8000, false}, {2048, 8000, true}, {7, 13, true}, {3, 1, false}};
  for (const LossCase& c : cases) {
    if (SkipLargeCase(c.N * c.V)) continue;
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      const std::string name = "CrossEntropy " + Describe(dtype, {c.N, c.V}) +
                               (c.some_ignored ? " some ignored" : "");
      const double tol = Tolerance(dtype);
      // Logits of a trained model's spread: N(0, 2²).
      const at::Tensor logits = Randn({c.N, c.V}, dtype, 2.0);
      at::Tensor targets = at::randint(c.V, {c.N}, kCuda.dtype(at::kLong));
      if (c.some_ignored) {
        targets = targets.masked_fill(at::rand({c.N}, kCuda) < 0.2, kIgnore);
        targets.select(0, 0).fill_(kIgnore);
      }
      // The gradient of the mean loss, as the trainer's 1 / grad_accum.
      const at::Tensor grad_loss = at::full({}, 0.37, kCuda.dtype(at::kFloat));

      const at::Tensor logits64 = F64(logits).requires_grad_();
      const at::Tensor loss64 = at::cross_entropy_loss(
          logits64, targets, {}, at::Reduction::Mean, kIgnore);
      loss64.backward(F64(grad_loss));
      const at::Tensor counted = targets != kIgnore;
      const at::Tensor lse64 = at::logsumexp(F64(logits), {1});

      // 1. The kernels on poisoned outputs.
      const auto f32 = at::kFloat;
      at::Tensor row_loss = Poisoned({c.N}, f32), lse = Poisoned({c.N}, f32);
      at::Tensor loss = Poisoned({1}, f32), count = Poisoned({1}, f32);
      ops::CrossEntropyForwardOut(logits, targets, kIgnore, row_loss, lse, loss,
                                  count);
      ExpectClose(name + " loss", loss.squeeze(0), loss64, kFloat32Tolerance);
      ExpectClose(name + " lse", lse, lse64, kFloat32Tolerance);
      EXPECT_EQ(count.item<float>(), float(counted.sum().item<int64_t>()));
      EXPECT_EQ(row_loss.masked_select(counted.logical_not())
                    .abs()
                    .sum()
                    .item<float>(),
                0.f)
          << name << ": ignored rows add nothing";
      at::Tensor dlogits = Poisoned({c.N, c.V}, dtype);
      ops::CrossEntropyBackwardOut(logits, targets, kIgnore, lse, count,
                                   grad_loss.view({1}), dlogits);
      ExpectClose(name + " dlogits", dlogits, logits64.grad(), tol);

      // 2. The autograd op.
      const at::Tensor logits_a = logits.clone().requires_grad_();
      const at::Tensor loss_a = ops::CrossEntropy(logits_a, targets, kIgnore);
      (loss_a * grad_loss).backward();
      EXPECT_EQ(loss_a.scalar_type(), at::kFloat);
      EXPECT_EQ(loss_a.dim(), 0);
      ExpectClose(name + " op loss", loss_a, loss64, kFloat32Tolerance);
      ExpectClose(name + " op dlogits", logits_a.grad(), logits64.grad(), tol);
    }
  }
}

// Data errors give NaN, as a non-finite training loss, and leave the
// device usable: a target outside [0, V) and a batch of ignored rows only
// (0 / 0, as at::cross_entropy_loss).
TEST_F(CrossEntropyTest, BadTargetsGiveNaN) {
  const at::Tensor logits = Randn({4, 10}, at::kBFloat16);
  at::Tensor targets = at::randint(10, {4}, kCuda.dtype(at::kLong));
  targets.select(0, 2).fill_(10);
  const at::Tensor loss = ops::CrossEntropy(logits, targets);
  EXPECT_TRUE(loss.isnan().item<bool>());
  const at::Tensor ignored = at::full({4}, kIgnore, kCuda.dtype(at::kLong));
  EXPECT_TRUE(ops::CrossEntropy(logits, ignored).isnan().item<bool>());
  const at::Tensor fine = at::randint(10, {4}, kCuda.dtype(at::kLong));
  EXPECT_TRUE(ops::CrossEntropy(logits, fine).isfinite().item<bool>());
}

}  // namespace
}  // namespace tinylm::kernels_test
