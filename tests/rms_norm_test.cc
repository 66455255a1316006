// RMSNormImpl (models/rms_norm.h) on the CPU, the path CI runs: the SPEC's
// formula in x's dtype or a requested one, and the residual add before the
// norm (ForwardAfterAdd) as the unfused add followed by the norm.
#include "models/rms_norm.h"

#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace tinylm {
namespace {

constexpr double kEps = 1e-5;

RMSNorm RandomNorm(int64_t dim) {
  RMSNorm norm(dim, kEps);
  torch::NoGradGuard no_grad;
  norm->named_parameters()["weight"].copy_(1.0 + 0.2 * at::randn({dim}));
  return norm;
}

at::Tensor Formula(const at::Tensor& x, const at::Tensor& weight) {
  return x * at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + kEps) * weight;
}

TEST(RmsNormModuleTest, ForwardIsTheFormulaInTheAskedDtype) {
  torch::manual_seed(3);
  RMSNorm norm = RandomNorm(16);
  const at::Tensor weight = norm->named_parameters()["weight"];
  const at::Tensor x = at::randn({3, 5, 16});
  const at::Tensor expected = Formula(x, weight);
  EXPECT_TRUE(at::allclose(norm->forward(x), expected, 1e-6, 1e-6));
  const at::Tensor low = norm->forward(x, at::kBFloat16);
  EXPECT_EQ(low.scalar_type(), at::kBFloat16);
  // Rounded once, from the float32 result.
  EXPECT_TRUE(at::equal(low, norm->forward(x).to(at::kBFloat16)));
}

TEST(RmsNormModuleTest, ForwardAfterAddNormalizesTheSum) {
  torch::manual_seed(4);
  RMSNorm norm = RandomNorm(16);
  const at::Tensor x = at::randn({2, 7, 16}).requires_grad_();
  const at::Tensor delta = at::randn({2, 7, 16}).requires_grad_();
  const std::vector<at::Tensor> out = norm->ForwardAfterAdd(x, delta);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(at::equal(out[0], x + delta));
  EXPECT_TRUE(at::equal(out[1], norm->forward(x + delta)));
  // Gradients reach x and delta through both h and y.
  (out[0].sum() + out[1].pow(2).sum()).backward();
  const at::Tensor x2 = x.detach().clone().requires_grad_();
  const at::Tensor d2 = delta.detach().clone().requires_grad_();
  const at::Tensor h2 = x2 + d2;
  (h2.sum() + norm->forward(h2).pow(2).sum()).backward();
  EXPECT_TRUE(at::allclose(x.grad(), x2.grad()));
  EXPECT_TRUE(at::allclose(delta.grad(), d2.grad()));

  // Without a delta, h is x itself.
  const std::vector<at::Tensor> alone =
      norm->ForwardAfterAdd(x.detach(), at::Tensor(), at::kBFloat16);
  EXPECT_EQ(alone[0].data_ptr(), x.data_ptr());
  EXPECT_EQ(alone[1].scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(alone[1], norm->forward(x.detach(), at::kBFloat16)));
}

}  // namespace
}  // namespace tinylm
