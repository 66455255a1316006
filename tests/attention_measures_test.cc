// The per-row attention measures on maps whose values are known in closed
// form: uniform causal attention and attention on the token itself.
#include <cmath>
#include <cstdint>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "models/attention_measures.h"

namespace tinylm {
namespace {

constexpr int64_t T = 6;

// [1, T, T]: row i spreads evenly over keys 0..i.
at::Tensor UniformCausal() {
  const at::Tensor visible = at::ones({T, T}, at::kFloat).tril();
  return (visible / visible.sum(-1, true)).unsqueeze(0);
}

TEST(AttentionMeasuresTest, UniformCausalAttention) {
  const at::Tensor m = AttentionRowMeasures(UniformCausal());  // [4, 1, T]
  ASSERT_EQ(m.sizes(), (at::IntArrayRef{kNumAttentionMeasures, 1, T}));
  for (int64_t i = 0; i < T; ++i) {
    const double n = i + 1;
    EXPECT_NEAR(m[kEntropy][0][i].item<double>(), std::log(n), 1e-6) << i;
    EXPECT_NEAR(m[kFirstToken][0][i].item<double>(), 1 / n, 1e-6) << i;
    EXPECT_NEAR(m[kDistance][0][i].item<double>(), i / 2.0, 1e-5) << i;
    EXPECT_NEAR(m[kDiagonal][0][i].item<double>(), 1 / n, 1e-6) << i;
  }
}

TEST(AttentionMeasuresTest, AttentionOnItself) {
  const at::Tensor m =
      AttentionRowMeasures(at::eye(T, at::kFloat).unsqueeze(0));
  for (int64_t i = 0; i < T; ++i) {
    EXPECT_EQ(m[kEntropy][0][i].item<double>(), 0.0) << i;  // 0 log 0 = 0
    EXPECT_EQ(m[kFirstToken][0][i].item<double>(), i == 0 ? 1.0 : 0.0) << i;
    EXPECT_EQ(m[kDistance][0][i].item<double>(), 0.0) << i;
    EXPECT_EQ(m[kDiagonal][0][i].item<double>(), 1.0) << i;
  }
}

TEST(AttentionMeasuresTest, MassOnMarkedKeys) {
  at::Tensor keys = at::zeros({T}, at::kBool);
  keys[1] = true;
  keys[4] = true;
  const at::Tensor mass = AttentionMassOn(UniformCausal(), keys);  // [1, T]
  const double want[T] = {0, 1.0 / 2, 1.0 / 3, 1.0 / 4, 2.0 / 5, 2.0 / 6};
  for (int64_t i = 0; i < T; ++i) {
    EXPECT_NEAR(mass[0][i].item<double>(), want[i], 1e-6) << i;
  }
}

}  // namespace
}  // namespace tinylm
