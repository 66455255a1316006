// Attention's kernels (kernels/torch/qkv_post_op.h, causal_attention_op.h)
// against float64 LibTorch references, forward and backward: the QKV
// post-processing against the model's own RoPE (models/rope.h), the
// softmax kernels on poisoned and in-place outputs, the attention op with
// and without the score_fcn term and with grouped-query heads, and the
// four variants' combinations of bias, GELU and score_fcn end to end.
// Shapes: the article's (T = 1024, hs = 768, one head) and odd small ones
// (T = 5, C = 24, H = 4, G = 2) that catch indexing mistakes.
#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/torch/causal_attention_op.h"
#include "kernels/torch/qkv_post_op.h"
#include "kernels_test_util.h"
#include "models/rope.h"

namespace tinylm::kernels_test {
namespace {

const auto kCuda = at::TensorOptions().device(at::kCUDA);

struct Rope {
  at::Tensor cos, sin;  // [block_size, hs] float32 on the GPU
};

Rope MakeRope(int64_t block_size, int64_t head_size) {
  const RopeTable table = MakeRopeTable(block_size, head_size, 10000.0);
  return {table.cos.to(at::kCUDA), table.sin.to(at::kCUDA)};
}

// The model's steps 1-2 (models/attention.cc, Project) in proj's dtype:
// bias, GELU, split, and ApplyRope on q and k.
std::vector<at::Tensor> ModelQkv(const at::Tensor& proj, const at::Tensor& bias,
                                 bool gelu, const Rope& rope,
                                 const at::Tensor& positions,
                                 const ops::QkvPostConfig& c) {
  const int64_t B = proj.size(0), T = proj.size(1);
  const int64_t H = c.n_head, G = c.n_query_groups, hs = c.head_size;
  at::Tensor a = bias.defined() ? proj + bias : proj;
  if (gelu) a = at::gelu(a);
  const at::Tensor pos =
      positions.defined()
          ? positions
          : at::arange(T, kCuda.dtype(at::kLong)).unsqueeze(0).expand({B, T});
  const at::Tensor flat = pos.reshape({-1});
  const at::Tensor cos = rope.cos.index_select(0, flat).view({B, 1, T, hs});
  const at::Tensor sin =
      SignedSin(rope.sin.index_select(0, flat).view({B, 1, T, hs}));
  const at::Tensor qk = ApplyRope(
      a.narrow(-1, 0, (H + G) * hs).view({B, T, H + G, hs}).transpose(1, 2),
      cos, sin);
  const at::Tensor v =
      a.narrow(-1, (H + G) * hs, G * hs).view({B, T, G, hs}).transpose(1, 2);
  return {qk.narrow(1, 0, H), qk.narrow(1, H, G), v};
}

struct QkvCase {
  std::string name;
  int64_t B, T, H, G, hs, block_size;
  bool random_positions;
};

std::vector<QkvCase> QkvCases() {
  return {
      {"article", 2, 1024, 1, 1, 768, 1024, false},
      {"small", 2, 5, 4, 2, 6, 8, false},  // C = 24, odd half
      {"small positions", 2, 5, 4, 2, 6, 8, true},
      {"gqa vectorized", 2, 7, 4, 1, 16, 16, true},
  };
}

using QkvPostTest = KernelsTest;

TEST_F(QkvPostTest, MatchesTheModelInFloat64) {
  for (const QkvCase& s : QkvCases()) {
    if (SkipLargeCase(s.B * s.T * (s.H + 2 * s.G) * s.hs)) continue;
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      for (bool with_bias : {false, true}) {
        for (bool gelu : {false, true}) {
          const ops::QkvPostConfig c{s.H, s.G, s.hs, gelu};
          const int64_t W = (s.H + 2 * s.G) * s.hs;
          const std::string name =
              "QkvPost " + s.name + " " + Describe(dtype, {s.B, s.T, W}) +
              (with_bias ? " bias" : "") + (gelu ? " gelu" : "");
          const double tol = Tolerance(dtype);
          const Rope rope = MakeRope(s.block_size, s.hs);
          const at::Tensor positions =
              s.random_positions ? at::randint(s.block_size, {s.B, s.T},
                                               kCuda.dtype(at::kLong))
                                 : at::Tensor();
          const at::Tensor proj = Randn({s.B, s.T, W}, dtype);
          const at::Tensor bias =
              with_bias ? Randn({W}, at::kFloat, 0.5) : at::Tensor();
          const at::Tensor dq = Randn({s.B, s.H, s.T, s.hs}, dtype);
          const at::Tensor dk = Randn({s.B, s.G, s.T, s.hs}, dtype);
          const at::Tensor dv = Randn({s.B, s.G, s.T, s.hs}, dtype);

          // The reference: the model's code in float64, with autograd.
          const at::Tensor proj64 = F64(proj).requires_grad_();
          const at::Tensor bias64 =
              with_bias ? F64(bias).requires_grad_() : at::Tensor();
          const std::vector<at::Tensor> ref =
              ModelQkv(proj64, bias64, gelu, rope, positions, c);
          torch::autograd::backward(ref, {F64(dq), F64(dk), F64(dv)});

          // 1. The kernels on poisoned outputs.
          at::Tensor q = Poisoned({s.B, s.H, s.T, s.hs}, dtype);
          at::Tensor k = Poisoned({s.B, s.G, s.T, s.hs}, dtype);
          at::Tensor v = Poisoned({s.B, s.G, s.T, s.hs}, dtype);
          ops::QkvPostForwardOut(proj, bias, rope.cos, rope.sin, positions, c,
                                 q, k, v);
          ExpectClose(name + " q", q, ref[0], tol);
          ExpectClose(name + " k", k, ref[1], tol);
          ExpectClose(name + " v", v, ref[2], tol);
          at::Tensor dproj = Poisoned({s.B, s.T, W}, dtype);
          at::Tensor dbias =
              with_bias ? Poisoned({W}, at::kFloat) : at::Tensor();
          ops::QkvPostBackwardOut(dq, dk, dv, proj, bias, rope.cos, rope.sin,
                                  positions, c, dproj, dbias);
          ExpectClose(name + " dproj", dproj, proj64.grad(), tol);
          if (with_bias) {
            ExpectClose(name + " dbias", dbias, bias64.grad(),
                        kFloat32Tolerance);
          }

          // 2. The autograd op.
          const at::Tensor proj_a = proj.clone().requires_grad_();
          const at::Tensor bias_a =
              with_bias ? bias.clone().requires_grad_() : at::Tensor();
          const std::vector<at::Tensor> out =
              ops::QkvPost(proj_a, bias_a, rope.cos, rope.sin, positions, c);
          torch::autograd::backward(out, {dq, dk, dv});
          ExpectClose(name + " op q", out[0], ref[0], tol);
          ExpectClose(name + " op v", out[2], ref[2], tol);
          ExpectClose(name + " op dproj", proj_a.grad(), proj64.grad(), tol);
          if (with_bias) {
            ExpectClose(name + " op dbias", bias_a.grad(), bias64.grad(),
                        kFloat32Tolerance);
          }
        }
      }
    }
  }
}

// A position past the RoPE tables is the caller's data error: the rotated
// heads of that token become NaN, nothing reads out of bounds, and v is
// untouched.
TEST_F(QkvPostTest, PositionOutsideTheTablesGivesNaN) {
  const ops::QkvPostConfig c{4, 2, 6, false};
  const Rope rope = MakeRope(8, 6);
  const at::Tensor proj = Randn({1, 3, 48}, at::kFloat);
  // Token 1 sits at position 8 of an 8-row table.
  const at::Tensor positions = at::zeros({1, 3}, kCuda.dtype(at::kLong));
  positions.select(1, 1).fill_(8);
  positions.select(1, 2).fill_(1);
  at::Tensor q = Poisoned({1, 4, 3, 6}, at::kFloat);
  at::Tensor k = Poisoned({1, 2, 3, 6}, at::kFloat);
  at::Tensor v = Poisoned({1, 2, 3, 6}, at::kFloat);
  ops::QkvPostForwardOut(proj, {}, rope.cos, rope.sin, positions, c, q, k, v);
  EXPECT_TRUE(q.select(2, 1).isnan().all().item<bool>());
  EXPECT_TRUE(q.select(2, 0).isfinite().all().item<bool>());
  EXPECT_TRUE(v.isfinite().all().item<bool>());
}

struct SoftmaxCase {
  std::string name;
  int64_t B, H, T, L, g_keys;  // g_keys 0: no score_fcn term
};

std::vector<SoftmaxCase> SoftmaxCases() {
  return {
      {"article", 2, 1, 1024, 1024, 0},
      {"article score", 2, 1, 1024, 1024, 1024},
      {"small", 2, 4, 5, 5, 0},
      {"small keys > queries score", 2, 4, 5, 9, 12},
      {"diagonal runs", 1, 2, 37, 64, 72},
      {"odd keys", 1, 2, 7, 13, 0},
  };
}

// float64 softmax with autograd over s (and g), the kernels' math.
struct SoftmaxReference {
  at::Tensor probs, dscores, dg;
};

SoftmaxReference ReferenceSoftmax(const at::Tensor& scores, const at::Tensor& g,
                                  const at::Tensor& dprobs, double scale) {
  const int64_t B = scores.size(0), H = scores.size(1), T = scores.size(2);
  const int64_t L = scores.size(3);
  const at::Tensor s64 = F64(scores).requires_grad_();
  const at::Tensor g64 = g.defined() ? F64(g).requires_grad_() : at::Tensor();
  at::Tensor z = s64 * scale;
  if (g.defined()) {
    z = z + g64.view({B, T, H, -1}).permute({0, 2, 1, 3}).narrow(-1, 0, L);
  }
  const at::Tensor visible =
      at::ones({T, L}, kCuda.dtype(at::kBool)).tril(L - T);
  z = z.masked_fill(visible.logical_not(),
                    -std::numeric_limits<double>::infinity());
  const at::Tensor p = at::softmax(z, -1);
  (p * F64(dprobs)).sum().backward();
  return {p.detach(), s64.grad(), g.defined() ? g64.grad() : at::Tensor()};
}

using CausalSoftmaxTest = KernelsTest;

TEST_F(CausalSoftmaxTest, KernelsMatchFloat64) {
  for (const SoftmaxCase& s : SoftmaxCases()) {
    if (SkipLargeCase(s.B * s.H * s.T * s.L)) continue;
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      const std::string name = "CausalSoftmax " + s.name + " " +
                               Describe(dtype, {s.B, s.H, s.T, s.L});
      const double tol = Tolerance(dtype);
      const double scale = 1.0 / std::sqrt(768.0);
      // Scores of q·kᵀ with unit entries and hs = 768: scale·s ~ N(0, 1).
      const at::Tensor scores = Randn({s.B, s.H, s.T, s.L}, dtype, 1.0 / scale);
      const at::Tensor g =
          s.g_keys ? Randn({s.B, s.T, s.H * s.g_keys}, dtype) : at::Tensor();
      const at::Tensor dprobs = Randn({s.B, s.H, s.T, s.L}, dtype);
      const SoftmaxReference ref = ReferenceSoftmax(scores, g, dprobs, scale);

      at::Tensor probs = Poisoned(scores.sizes(), dtype);
      ops::CausalSoftmaxForwardOut(scores, g, scale, probs);
      ExpectClose(name + " probs", probs, ref.probs, tol);
      const at::Tensor visible =
          at::ones({s.T, s.L}, kCuda.dtype(at::kBool)).tril(s.L - s.T);
      EXPECT_EQ(
          probs.masked_select(visible.logical_not()).abs().sum().item<double>(),
          0.0)
          << name << ": masked weights must be exactly 0";
      at::Tensor in_place = scores.clone();
      ops::CausalSoftmaxForwardOut(in_place, g, scale, in_place);
      ExpectBitwiseEqual(name + " probs in place", in_place, probs);

      at::Tensor dscores = Poisoned(scores.sizes(), dtype);
      at::Tensor dg = s.g_keys ? Poisoned(g.sizes(), dtype) : at::Tensor();
      ops::CausalSoftmaxBackwardOut(probs, dprobs, scale, dscores, dg);
      ExpectClose(name + " dscores", dscores, ref.dscores, tol);
      if (s.g_keys) ExpectClose(name + " dg", dg, ref.dg, tol);
      at::Tensor dscores_in_place = dprobs.clone();
      at::Tensor dg2 = s.g_keys ? Poisoned(g.sizes(), dtype) : at::Tensor();
      ops::CausalSoftmaxBackwardOut(probs, dscores_in_place, scale,
                                    dscores_in_place, dg2);
      ExpectBitwiseEqual(name + " dscores in place", dscores_in_place, dscores);
    }
  }
}

struct AttentionCase {
  std::string name;
  int64_t B, H, G, T, L, hs, block_size;  // block_size 0: no score_fcn term
};

std::vector<AttentionCase> AttentionCases() {
  return {
      {"article", 2, 1, 1, 1024, 1024, 768, 0},
      {"article score", 2, 1, 1, 1024, 1024, 768, 1024},
      {"small gqa", 2, 4, 2, 5, 5, 6, 0},
      {"small gqa score", 2, 4, 2, 5, 5, 6, 8},
      {"small keys > queries score", 2, 4, 2, 5, 9, 6, 12},
      {"gqa vectorized score", 1, 4, 1, 40, 40, 64, 48},
  };
}

using CausalAttentionTest = KernelsTest;

TEST_F(CausalAttentionTest, MatchesFloat64Reference) {
  for (const AttentionCase& s : AttentionCases()) {
    if (SkipLargeCase(s.B * s.H * s.T * s.L)) continue;
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      const std::string name = "CausalAttention " + s.name + " " +
                               Describe(dtype, {s.B, s.H, s.T, s.hs}) + " L " +
                               std::to_string(s.L);
      const double tol = Tolerance(dtype);
      const at::Tensor q = Randn({s.B, s.H, s.T, s.hs}, dtype);
      const at::Tensor k = Randn({s.B, s.G, s.L, s.hs}, dtype);
      const at::Tensor v = Randn({s.B, s.G, s.L, s.hs}, dtype);
      const at::Tensor g = s.block_size
                               ? Randn({s.B, s.T, s.H * s.block_size}, dtype)
                               : at::Tensor();
      const at::Tensor dy = Randn({s.B, s.H, s.T, s.hs}, dtype);

      const at::Tensor q64 = F64(q).requires_grad_();
      const at::Tensor k64 = F64(k).requires_grad_();
      const at::Tensor v64 = F64(v).requires_grad_();
      const at::Tensor g64 =
          s.block_size ? F64(g).requires_grad_() : at::Tensor();
      at::Tensor probs64;
      ops::CausalAttentionReference(q64, k64, v64, g64, &probs64)
          .backward(F64(dy));
      const at::Tensor y64 = ops::CausalAttentionReference(
          F64(q), F64(k), F64(v), s.block_size ? F64(g) : at::Tensor());

      const at::Tensor qa = q.clone().requires_grad_();
      const at::Tensor ka = k.clone().requires_grad_();
      const at::Tensor va = v.clone().requires_grad_();
      const at::Tensor ga =
          s.block_size ? g.clone().requires_grad_() : at::Tensor();
      at::Tensor probs;
      const at::Tensor y = ops::CausalAttention(qa, ka, va, ga, &probs);
      y.backward(dy);
      EXPECT_EQ(y.scalar_type(), dtype);
      ExpectClose(name + " y", y, y64, tol);
      ExpectClose(name + " probs", probs, probs64, tol);
      ExpectClose(name + " dq", qa.grad(), q64.grad(), tol);
      ExpectClose(name + " dk", ka.grad(), k64.grad(), tol);
      ExpectClose(name + " dv", va.grad(), v64.grad(), tol);
      if (s.block_size) ExpectClose(name + " dg", ga.grad(), g64.grad(), tol);
    }
  }
}

struct VariantCase {
  std::string name;
  bool bias, gelu, score;
};

// The presets of SPEC §2 (separate_qkv computes what qkv_gelu does, from
// three products instead of one), and the combinations between them.
std::vector<VariantCase> VariantCases(bool presets_only) {
  std::vector<VariantCase> cases = {{"base", false, false, false},
                                    {"qkv_gelu", true, true, false},
                                    {"score_fcn", true, true, true}};
  if (!presets_only) {
    cases.push_back({"bias", true, false, false});
    cases.push_back({"gelu", false, true, false});
    cases.push_back({"score", false, false, true});
    cases.push_back({"bias score", true, false, true});
    cases.push_back({"gelu score", false, true, true});
  }
  return cases;
}

// QkvPost then CausalAttention against the model's math in float64.
void CheckVariant(const VariantCase& variant, const QkvCase& s,
                  at::ScalarType dtype) {
  const ops::QkvPostConfig c{s.H, s.G, s.hs, variant.gelu};
  const int64_t W = (s.H + 2 * s.G) * s.hs;
  const std::string name = "Attention " + variant.name + " " + s.name + " " +
                           Describe(dtype, {s.B, s.T, W});
  const double tol = Tolerance(dtype);
  const Rope rope = MakeRope(s.block_size, s.hs);
  const at::Tensor proj = Randn({s.B, s.T, W}, dtype);
  const at::Tensor bias =
      variant.bias ? Randn({W}, at::kFloat, 0.5) : at::Tensor();
  const at::Tensor g = variant.score
                           ? Randn({s.B, s.T, s.H * s.block_size}, dtype)
                           : at::Tensor();
  const at::Tensor dy = Randn({s.B, s.H, s.T, s.hs}, dtype);

  const at::Tensor proj64 = F64(proj).requires_grad_();
  const at::Tensor bias64 =
      variant.bias ? F64(bias).requires_grad_() : at::Tensor();
  const at::Tensor g64 = variant.score ? F64(g).requires_grad_() : at::Tensor();
  const std::vector<at::Tensor> qkv64 =
      ModelQkv(proj64, bias64, variant.gelu, rope, {}, c);
  const at::Tensor y64 =
      ops::CausalAttentionReference(qkv64[0], qkv64[1], qkv64[2], g64);
  y64.backward(F64(dy));

  const at::Tensor proj_a = proj.clone().requires_grad_();
  const at::Tensor bias_a =
      variant.bias ? bias.clone().requires_grad_() : at::Tensor();
  const at::Tensor g_a =
      variant.score ? g.clone().requires_grad_() : at::Tensor();
  const std::vector<at::Tensor> qkv =
      ops::QkvPost(proj_a, bias_a, rope.cos, rope.sin, {}, c);
  const at::Tensor y = ops::CausalAttention(qkv[0], qkv[1], qkv[2], g_a);
  y.backward(dy);
  ExpectClose(name + " y", y, y64, tol);
  ExpectClose(name + " dproj", proj_a.grad(), proj64.grad(), tol);
  if (variant.bias) {
    ExpectClose(name + " dbias", bias_a.grad(), bias64.grad(), tol);
  }
  if (variant.score) ExpectClose(name + " dg", g_a.grad(), g64.grad(), tol);
}

TEST_F(CausalAttentionTest, VariantsEndToEnd) {
  const QkvCase small{"small", 2, 5, 4, 2, 6, 8, false};
  const QkvCase article{"article", 2, 1024, 1, 1, 768, 1024, false};
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    for (const VariantCase& v : VariantCases(false))
      CheckVariant(v, small, dtype);
  }
  if (SkipLargeCase(article.B * article.T * article.T)) return;
  for (const VariantCase& v : VariantCases(true)) {
    CheckVariant(v, article, at::kBFloat16);
  }
}

// The fallbacks (LibTorch references) on CPU tensors equal the model's
// math; the ops take them off CUDA.
TEST(KernelsReferenceTest, CpuFallbacksMatchTheModel) {
  const ops::QkvPostConfig c{4, 2, 6, true};
  const RopeTable table = MakeRopeTable(8, 6, 10000.0);
  const auto cpu = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor proj = at::randn({2, 5, 48}, cpu);
  const at::Tensor bias = at::randn({48}, cpu);
  const std::vector<at::Tensor> out =
      ops::QkvPost(proj, bias, table.cos, table.sin, {}, c);
  const at::Tensor a = at::gelu(proj + bias);
  const at::Tensor cos = table.cos.narrow(0, 0, 5).view({1, 1, 5, 6});
  const at::Tensor sin =
      SignedSin(table.sin.narrow(0, 0, 5).view({1, 1, 5, 6}));
  const at::Tensor qk = ApplyRope(
      a.narrow(-1, 0, 36).view({2, 5, 6, 6}).transpose(1, 2), cos, sin);
  EXPECT_LT(RelativeError(out[0], qk.narrow(1, 0, 4)), 1e-12);
  EXPECT_LT(RelativeError(out[1], qk.narrow(1, 4, 2)), 1e-12);
  EXPECT_LT(
      RelativeError(out[2],
                    a.narrow(-1, 36, 12).view({2, 5, 2, 6}).transpose(1, 2)),
      1e-12);
}

}  // namespace
}  // namespace tinylm::kernels_test
