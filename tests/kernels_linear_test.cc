// The weight products on bfloat16 weight copies (kernels/torch/linear_op.h)
// against float64 references: y, dx, the bias gradient, and the weight
// gradients added exactly once onto what the gradient buffers held; with
// the weights adjacent in one flat buffer (one product) and apart (one per
// weight). Then the whole fused training pass with FlatWeightCopies
// (train/flat_weight_copies.h) against the same pass casting under
// autocast, all four variants.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/torch/linear_op.h"
#include "kernels_test_util.h"
#include "model_test_util.h"
#include "models/forward.h"
#include "models/model.h"
#include "train/autocast.h"
#include "train/flat_parameters.h"
#include "train/flat_weight_copies.h"

namespace tinylm::kernels_test {
namespace {

struct LinearCase {
  std::string name;
  std::vector<int64_t> x_sizes;  // [..., K]
  std::vector<int64_t> rows;     // n_i of each weight
  bool adjacent;                 // the weights lie in one flat buffer
  bool bias;
  at::ScalarType x_dtype;
};

std::vector<LinearCase> LinearCases() {
  std::vector<LinearCase> cases;
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    cases.push_back(
        {"qkv adjacent", {2, 37, 64}, {64, 32, 32}, true, false, dtype});
    cases.push_back(
        {"qkv apart", {2, 37, 64}, {64, 32, 32}, false, false, dtype});
    cases.push_back({"score with bias", {3, 11, 40}, {24}, true, true, dtype});
  }
  // The article's MLP input: fc_1 over fc_2 at 16 rows of 1024 tokens.
  cases.push_back(
      {"article fc", {2, 1024, 768}, {1536, 1536}, true, false, at::kBFloat16});
  return cases;
}

// Weights [n_i, K] as views of one float32 buffer (adjacent) or separate
// tensors, with gradients already holding values: the op must add to them.
std::vector<at::Tensor> MakeWeights(const LinearCase& c, int64_t K) {
  int64_t total = 0;
  for (int64_t n : c.rows) total += n;
  const at::Tensor flat = Randn({total * K}, at::kFloat, 0.05);
  const at::Tensor flat_grad = Randn({total * K}, at::kFloat, 0.5);
  std::vector<at::Tensor> weights;
  int64_t offset = 0;
  for (int64_t n : c.rows) {
    at::Tensor w, g;
    if (c.adjacent) {
      w = flat.narrow(0, offset, n * K).view({n, K});
      g = flat_grad.narrow(0, offset, n * K).view({n, K});
    } else {
      w = Randn({n, K}, at::kFloat, 0.05);
      g = Randn({n, K}, at::kFloat, 0.5);
    }
    w = w.detach().requires_grad_();
    w.mutable_grad() = g;
    weights.push_back(w);
    offset += n * K;
  }
  return weights;
}

using LinearIntoGradsTest = KernelsTest;

TEST_F(LinearIntoGradsTest, MatchesFloat64AndAddsToTheGradients) {
  for (const LinearCase& c : LinearCases()) {
    const std::string name =
        "LinearIntoGrads " + c.name + " " + Describe(c.x_dtype, c.x_sizes);
    const int64_t K = c.x_sizes.back();
    std::vector<at::Tensor> weights = MakeWeights(c, K);
    std::vector<at::Tensor> copies, before;
    for (const at::Tensor& w : weights) {
      copies.push_back(w.detach().to(at::kBFloat16));
      before.push_back(w.grad().clone());
    }
    const at::Tensor w_bf16 = at::cat(copies);
    const int64_t N = w_bf16.size(0);
    at::Tensor bias, bias_bf16;
    if (c.bias) {
      bias = Randn({N}, at::kFloat, 0.1).requires_grad_();
      bias_bf16 = bias.detach().to(at::kBFloat16);
    }
    const at::Tensor x = Randn(c.x_sizes, c.x_dtype).requires_grad_();
    std::vector<int64_t> y_sizes = c.x_sizes;
    y_sizes.back() = N;
    const at::Tensor dy = Randn(y_sizes, at::kBFloat16);

    // The reference: float64 autograd from the rounded inputs the op reads.
    const at::Tensor x64 = F64(x.to(at::kBFloat16)).requires_grad_();
    const at::Tensor w64 = F64(w_bf16).requires_grad_();
    const at::Tensor b64 =
        c.bias ? F64(bias_bf16).requires_grad_() : at::Tensor();
    const at::Tensor y64 = at::linear(x64, w64, b64);
    y64.backward(F64(dy));

    const at::Tensor y =
        ops::LinearIntoGrads(x, weights, w_bf16, bias, bias_bf16);
    EXPECT_EQ(y.scalar_type(), at::kBFloat16) << name;
    y.backward(dy);
    ExpectClose(name + " y", y, y64, kBFloat16Tolerance);
    EXPECT_EQ(x.grad().scalar_type(), c.x_dtype) << name;
    ExpectClose(name + " dx", x.grad(), x64.grad(), kBFloat16Tolerance);
    if (c.bias) {
      ExpectClose(name + " dbias", bias.grad(), b64.grad(), kFloat32Tolerance);
    }
    // Each weight's gradient: what it held plus dyᵀ·x, once, in float32
    // (the product accumulates in float32 and is never rounded to bf16).
    int64_t row = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      const int64_t n = weights[i].size(0);
      const at::Tensor added = weights[i].grad() - before[i];
      ExpectClose(name + " dW" + std::to_string(i), added,
                  w64.grad().narrow(0, row, n), kFloat32Tolerance * 10);
      row += n;
    }
  }
}

TEST(StackRowsTest, AdjacentRowsAreAViewAndOthersACopy) {
  const at::Tensor flat = at::arange(24, at::kFloat);
  const at::Tensor a = flat.narrow(0, 0, 8).view({2, 4});
  const at::Tensor b = flat.narrow(0, 8, 12).view({3, 4});
  const at::Tensor stacked = ops::StackRows({a, b});
  EXPECT_EQ(stacked.data_ptr(), a.data_ptr());
  EXPECT_EQ(stacked.sizes(), (std::vector<int64_t>{5, 4}));
  EXPECT_TRUE(at::equal(stacked, flat.narrow(0, 0, 20).view({5, 4})));
  // Out of order, or with a gap: a concatenation, same values.
  const at::Tensor swapped = ops::StackRows({b, a});
  EXPECT_NE(swapped.data_ptr(), b.data_ptr());
  EXPECT_TRUE(at::equal(swapped, at::cat({b, a})));
  const at::Tensor c = flat.narrow(0, 20, 4).view({1, 4});
  const at::Tensor gap = ops::StackRows({a, c});
  EXPECT_NE(gap.data_ptr(), a.data_ptr());
  EXPECT_TRUE(at::equal(gap, at::cat({a, c})));
}

// Adjacent parameters that take gradients are concatenated, so that each
// receives its own rows' gradient.
TEST(StackRowsTest, PartsThatTakeGradientsGetTheirOwnGradients) {
  const at::Tensor flat = at::arange(20, at::kFloat);
  // Leaves viewing one buffer, as FlatParameters makes them.
  const at::Tensor a =
      flat.narrow(0, 0, 8).view({2, 4}).detach().requires_grad_();
  const at::Tensor b =
      flat.narrow(0, 8, 12).view({3, 4}).detach().requires_grad_();
  const at::Tensor weights = at::arange(5, at::kFloat).view({5, 1});
  (ops::StackRows({a, b}) * weights).sum().backward();
  EXPECT_TRUE(at::equal(a.grad(), weights.narrow(0, 0, 2).expand({2, 4})));
  EXPECT_TRUE(at::equal(b.grad(), weights.narrow(0, 2, 3).expand({3, 4})));
}

// The training pass on the copies computes what the pass casting the
// float32 weights under autocast computes: the same rounded weights, the
// weight gradients more exactly (never rounded to bfloat16).
using WeightCopiesPassTest = KernelsTest;

TEST_F(WeightCopiesPassTest, GivesTheLogitsAndGradientsOfTheAutocastPass) {
  for (const char* variant :
       {"base", "qkv_gelu", "separate_qkv", "score_fcn"}) {
    Transformer model =
        testutil::MakeRandomModel(testutil::TinyConfig(variant), 11);
    model->to(at::kCUDA);
    model->train();
    FlatParameters flat(*model);
    const FlatWeightCopies copies(*model, flat);
    const at::Tensor tokens =
        testutil::RandomTokens(3, 16, model->config().vocab_size).to(at::kCUDA);
    auto pass = [&](const WeightCopies* weight_copies) {
      flat.ZeroGrad();
      at::Tensor logits;
      {
        CudaBf16Autocast autocast(at::Device(at::kCUDA));
        ForwardInput input(tokens);
        input.kernels = true;
        input.weight_copies = weight_copies;
        logits = model->Forward(input).logits;
      }
      logits.to(at::kFloat).pow(2).mean().backward();
      return std::vector<at::Tensor>{logits.detach().clone(),
                                     flat.decayed()[0].grad().clone(),
                                     flat.undecayed()[0].grad().clone()};
    };
    const std::vector<at::Tensor> cast = pass(nullptr);
    const std::vector<at::Tensor> copied = pass(&copies);
    const std::string name = std::string("fused pass ") + variant;
    ExpectClose(name + " logits", copied[0], cast[0], kBFloat16Tolerance);
    ExpectClose(name + " matrix gradients", copied[1], cast[1],
                kBFloat16Tolerance);
    ExpectClose(name + " norm and bias gradients", copied[2], cast[2],
                kBFloat16Tolerance);
  }
}

}  // namespace
}  // namespace tinylm::kernels_test
