// RMSNorm and SwiGLU (kernels/torch/rms_norm_op.h, swiglu_op.h), forward
// and backward, against float64 LibTorch references: the kernels on
// poisoned outputs and the autograd ops, float32 and bfloat16 (and float32
// in, bfloat16 out; and with the residual add fused in), at the
// article's shapes and at odd small ones (scalar paths, partial warps).
#include <ATen/TensorOperators.h>
#include <ATen/ops/rsqrt.h>
#include <c10/util/accumulate.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/torch/rms_norm_op.h"
#include "kernels/torch/swiglu_op.h"
#include "kernels_test_util.h"
#include "models/rms_norm.h"

namespace tinylm::kernels_test {
namespace {

constexpr double kEps = 1e-5;

struct NormCase {
  std::vector<int64_t> sizes;  // [..., C]
  at::ScalarType x_dtype;
  at::ScalarType weight_dtype;
  at::ScalarType y_dtype;  // and dy's
};

std::vector<NormCase> NormCases() {
  const std::vector<std::vector<int64_t>> shapes = {
      {2, 1024, 768},  // the article's width
      {3, 5, 24},      // small, vectorized
      {7, 13},         // odd width: scalar path
      {2, 3, 4096},    // fewer warps per block in the backward
      {5, 3001},       // odd and wide
  };
  std::vector<NormCase> cases;
  for (const auto& s : shapes) {
    cases.push_back({s, at::kFloat, at::kFloat, at::kFloat});
    // autocast: fp32 weight
    cases.push_back({s, at::kBFloat16, at::kFloat, at::kBFloat16});
    cases.push_back({s, at::kBFloat16, at::kBFloat16, at::kBFloat16});
    // the fused pass: a float32 residual stream into a bfloat16 product
    cases.push_back({s, at::kFloat, at::kFloat, at::kBFloat16});
  }
  return cases;
}

using RmsNormTest = KernelsTest;

TEST_F(RmsNormTest, ForwardAndBackwardMatchFloat64) {
  for (const NormCase& c : NormCases()) {
    if (SkipLargeCase(c10::multiply_integers(c.sizes))) continue;
    const std::string name = "RmsNorm " + Describe(c.x_dtype, c.sizes) +
                             " weight " + c10::toString(c.weight_dtype) +
                             " y " + c10::toString(c.y_dtype);
    const int64_t C = c.sizes.back();
    const at::Tensor x = Randn(c.sizes, c.x_dtype);
    const at::Tensor weight =
        (Randn({C}, at::kFloat, 0.1) + 1.0).to(c.weight_dtype);
    const at::Tensor dy = Randn(c.sizes, c.y_dtype);
    // The coarser of the two dtypes bounds both y and dx.
    const double tol = std::max(Tolerance(c.x_dtype), Tolerance(c.y_dtype));

    // The reference: float64 autograd through the same math.
    const at::Tensor x64 = F64(x).requires_grad_();
    const at::Tensor w64 = F64(weight).requires_grad_();
    ops::RmsNormReference(x64, w64, kEps).backward(F64(dy));
    const at::Tensor y64 = ops::RmsNormReference(F64(x), F64(weight), kEps);
    const at::Tensor rstd64 =
        at::rsqrt(F64(x).pow(2).mean(-1) + kEps).reshape({-1});

    // 1. The kernels, every output poisoned first.
    const at::Tensor x_rows = x.reshape({-1, C});
    const int64_t N = x_rows.size(0);
    const at::Tensor w32 = weight.to(at::kFloat);
    at::Tensor y = Poisoned({N, C}, c.y_dtype);
    at::Tensor rstd = Poisoned({N}, at::kFloat);
    ops::RmsNormForwardOut(x_rows, w32, kEps, y, rstd);
    ExpectClose(name + " y", y, y64.reshape({N, C}), tol);
    ExpectClose(name + " rstd", rstd, rstd64, kFloat32Tolerance);
    at::Tensor dx = Poisoned({N, C}, c.x_dtype);
    at::Tensor dweight = Poisoned({C}, at::kFloat);
    ops::RmsNormBackwardOut(dy.reshape({N, C}), x_rows, w32, rstd, dx, dweight);
    ExpectClose(name + " dx", dx, x64.grad().reshape({N, C}), tol);
    ExpectClose(name + " dweight", dweight, w64.grad(), kFloat32Tolerance);

    // 2. The autograd op.
    const at::Tensor xa = x.clone().requires_grad_();
    const at::Tensor wa = weight.clone().requires_grad_();
    const at::Tensor ya = ops::RmsNorm(xa, wa, kEps, c.y_dtype);
    ya.backward(dy);
    EXPECT_EQ(ya.scalar_type(), c.y_dtype);
    EXPECT_EQ(xa.grad().scalar_type(), c.x_dtype);
    ExpectClose(name + " op y", ya, y64, tol);
    ExpectClose(name + " op dx", xa.grad(), x64.grad(), tol);
    ExpectClose(name + " op dweight", wa.grad(), w64.grad(),
                Tolerance(c.weight_dtype));
  }
}

// h = x + delta, y = RMSNorm(h), against float64 autograd through the
// unfused math: with h used again downstream (dh) and without.
TEST_F(RmsNormTest, ResidualAddFusedInMatchesFloat64) {
  struct AddCase {
    std::vector<int64_t> sizes;
    at::ScalarType x_dtype, y_dtype;  // delta has y's dtype
  };
  const std::vector<AddCase> cases = {
      {{2, 1024, 768}, at::kFloat, at::kBFloat16},  // the fused pass
      {{3, 5, 24}, at::kFloat, at::kBFloat16},
      {{7, 13}, at::kFloat, at::kBFloat16},  // scalar path
      {{3, 5, 24}, at::kFloat, at::kFloat},
      {{3, 5, 24}, at::kBFloat16, at::kBFloat16},
  };
  for (const AddCase& c : cases) {
    if (SkipLargeCase(c10::multiply_integers(c.sizes))) continue;
    for (bool h_used : {true, false}) {
      const std::string name = "AddRmsNorm " + Describe(c.x_dtype, c.sizes) +
                               " y " + c10::toString(c.y_dtype) +
                               (h_used ? " dh" : " no dh");
      const int64_t C = c.sizes.back();
      const at::Tensor x = Randn(c.sizes, c.x_dtype).requires_grad_();
      const at::Tensor delta = Randn(c.sizes, c.y_dtype).requires_grad_();
      const at::Tensor weight =
          (Randn({C}, at::kFloat, 0.1) + 1.0).requires_grad_();
      const at::Tensor dy = Randn(c.sizes, c.y_dtype);
      const at::Tensor dh = Randn(c.sizes, c.x_dtype);
      const double tol = std::max(Tolerance(c.x_dtype), Tolerance(c.y_dtype));

      const at::Tensor x64 = F64(x).requires_grad_();
      const at::Tensor d64 = F64(delta).requires_grad_();
      const at::Tensor w64 = F64(weight).requires_grad_();
      const at::Tensor h64 = x64 + d64;
      const at::Tensor y64 = ops::RmsNormReference(h64, w64, kEps);
      at::Tensor loss64 = (y64 * F64(dy)).sum();
      if (h_used) loss64 = loss64 + (h64 * F64(dh)).sum();
      loss64.backward();

      const std::vector<at::Tensor> out =
          ops::AddRmsNorm(x, delta, weight, kEps, c.y_dtype);
      EXPECT_EQ(out[0].scalar_type(), c.x_dtype);
      EXPECT_EQ(out[1].scalar_type(), c.y_dtype);
      at::Tensor loss = (out[1].to(at::kFloat) * dy.to(at::kFloat)).sum();
      if (h_used) loss = loss + (out[0].to(at::kFloat) * dh.to(at::kFloat)).sum();
      loss.backward();
      ExpectClose(name + " h", out[0], h64, Tolerance(c.x_dtype));
      ExpectClose(name + " y", out[1], y64, tol);
      ExpectClose(name + " dx", x.grad(), x64.grad(), tol);
      EXPECT_EQ(delta.grad().scalar_type(), c.y_dtype);
      ExpectClose(name + " ddelta", delta.grad(), d64.grad(), tol);
      ExpectClose(name + " dweight", weight.grad(), w64.grad(), tol);
    }
  }
}

// The model's own module (at::rms_norm on CUDA) and the op agree.
TEST_F(RmsNormTest, AgreesWithTheModelModule) {
  if (SkipLargeCase(2 * 1024 * 768)) GTEST_SKIP() << "large shapes skipped";
  RMSNorm module(768, kEps);
  module->to(at::kCUDA);
  const at::Tensor weight = module->named_parameters()["weight"];
  {
    at::NoGradGuard no_grad;
    weight.copy_(Randn({768}, at::kFloat, 0.1) + 1.0);
  }
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const at::Tensor x = Randn({2, 1024, 768}, dtype);
    ExpectClose("RmsNorm vs models/rms_norm " + Describe(dtype, x.sizes()),
                ops::RmsNorm(x, weight, kEps), module->forward(x),
                Tolerance(dtype));
  }
}

struct GateCase {
  std::vector<int64_t> sizes;  // [..., I]
  at::ScalarType dtype;
};

std::vector<GateCase> GateCases() {
  std::vector<GateCase> cases;
  for (const auto& s :
       std::vector<std::vector<int64_t>>{{2, 1024, 1536}, {5, 7}, {3, 4, 40}}) {
    cases.push_back({s, at::kFloat});
    cases.push_back({s, at::kBFloat16});
  }
  return cases;
}

using SwiGluTest = KernelsTest;

TEST_F(SwiGluTest, ForwardAndBackwardMatchFloat64) {
  for (const GateCase& c : GateCases()) {
    if (SkipLargeCase(c10::multiply_integers(c.sizes))) continue;
    const std::string name = "SwiGlu " + Describe(c.dtype, c.sizes);
    const double tol = Tolerance(c.dtype);
    const at::Tensor a = Randn(c.sizes, c.dtype, 2.0);
    const at::Tensor b = Randn(c.sizes, c.dtype);
    const at::Tensor dh = Randn(c.sizes, c.dtype);
    const at::Tensor a64 = F64(a).requires_grad_();
    const at::Tensor b64 = F64(b).requires_grad_();
    const at::Tensor h64 = ops::SwiGluReference(a64, b64);
    h64.backward(F64(dh));

    // 1. The kernels on poisoned outputs.
    const int64_t I = c.sizes.back();
    const at::Tensor a2 = a.reshape({-1, I}), b2 = b.reshape({-1, I});
    const int64_t N = a2.size(0);
    at::Tensor h = Poisoned({N, I}, c.dtype);
    ops::SwiGluForwardOut(a2, b2, h);
    ExpectClose(name + " h", h, h64.reshape({N, I}), tol);
    at::Tensor da = Poisoned({N, I}, c.dtype), db = Poisoned({N, I}, c.dtype);
    ops::SwiGluBackwardOut(dh.reshape({N, I}), a2, b2, da, db);
    ExpectClose(name + " da", da, a64.grad().reshape({N, I}), tol);
    ExpectClose(name + " db", db, b64.grad().reshape({N, I}), tol);

    // 2. The autograd op.
    const at::Tensor aa = a.clone().requires_grad_();
    const at::Tensor ba = b.clone().requires_grad_();
    const at::Tensor ha = ops::SwiGlu(aa, ba);
    ha.backward(dh);
    ExpectClose(name + " op h", ha, h64, tol);
    ExpectClose(name + " op da", aa.grad(), a64.grad(), tol);
    ExpectClose(name + " op db", ba.grad(), b64.grad(), tol);
  }
}

// One fused fc_1|fc_2 product: a and b are the halves of each row, and
// the gradient comes back as one buffer (strided kernel accesses).
TEST_F(SwiGluTest, PackedHalvesMatchFloat64) {
  for (const GateCase& c : GateCases()) {
    if (SkipLargeCase(2 * c10::multiply_integers(c.sizes))) continue;
    std::vector<int64_t> packed = c.sizes;
    const int64_t I = packed.back();
    packed.back() = 2 * I;
    const std::string name = "SwiGluPacked " + Describe(c.dtype, packed);
    const double tol = Tolerance(c.dtype);
    const at::Tensor ab = Randn(packed, c.dtype, 2.0);
    const at::Tensor dh = Randn(c.sizes, c.dtype);
    const at::Tensor ab64 = F64(ab).requires_grad_();
    const at::Tensor h64 =
        ops::SwiGluReference(ab64.narrow(-1, 0, I), ab64.narrow(-1, I, I));
    h64.backward(F64(dh));

    const at::Tensor aba = ab.clone().requires_grad_();
    const at::Tensor ha = ops::SwiGluPacked(aba);
    ha.backward(dh);
    ExpectClose(name + " op h", ha, h64, tol);
    ExpectClose(name + " op dab", aba.grad(), ab64.grad(), tol);

    // The kernels on strided halves, the packed gradient poisoned.
    const at::Tensor rows = ab.reshape({-1, 2 * I});
    const int64_t N = rows.size(0);
    at::Tensor dab = Poisoned({N, 2 * I}, c.dtype);
    at::Tensor da = dab.narrow(1, 0, I), db = dab.narrow(1, I, I);
    ops::SwiGluBackwardOut(dh.reshape({N, I}), rows.narrow(1, 0, I),
                           rows.narrow(1, I, I), da, db);
    ExpectClose(name + " dab", dab, ab64.grad().reshape({N, 2 * I}), tol);
  }
}

}  // namespace
}  // namespace tinylm::kernels_test
