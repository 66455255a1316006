// GPU tests of the fused decode kernels, each against a float64 LibTorch
// reference that rounds to bfloat16 where the model does, on fresh random
// data (never zeros) with poisoned outputs: values, tile edges (N not a
// multiple of the tile, K not a multiple of 32, M = 1, 15, 17, 100, 128),
// what is left unwritten, and batch invariance (a row alone and inside a
// batch gives the same bits).
#include <cmath>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include "kernels/decode/decode_attention.h"
#include "kernels/decode/skinny_gemm.h"
#include "tests/decode_test_util.h"
#include "kernels/decode/weight_packing.h"
#include "models/rope.h"

namespace tinylm::decode_test {
namespace {

using decode::GemmArgs;
using decode::GemmEpilogue;

// ---------------------------------------------------------------- GEMM

struct GemmCase {
  int m, n, k;
  GemmEpilogue epilogue;
  bool norm = false, bias = false, gelu = false, residual = false;

  int width() const { return epilogue == GemmEpilogue::kSwiGlu ? n / 2 : n; }
  int stride() const { return (width() + 3) / 2 * 2; }  // even, > width
  at::ScalarType out_dtype() const {
    return epilogue == GemmEpilogue::kFloat ? at::kFloat : at::kBFloat16;
  }
  std::string Name() const {
    const char* names[] = {"bf16", "float", "swiglu", "attention"};
    return std::string(names[int(epilogue)]) + (norm ? "+norm" : "") +
           (bias ? "+bias" : "") + (gelu ? "+gelu" : "") +
           (residual ? "+residual" : "") + " M=" + std::to_string(m) +
           " N=" + std::to_string(n) + " K=" + std::to_string(k);
  }
};

struct GemmData {
  at::Tensor x;         // [M, K + 8] bf16 (a stride wider than K)
  at::Tensor w;         // [N, K]
  at::Tensor norm;      // [K]
  at::Tensor bias;      // [N]
  at::Tensor residual;  // [M, N]
};

GemmData MakeGemmData(const GemmCase& c) {
  GemmData d;
  d.x = Randn({c.m, c.k + 8}, 1.0);
  d.w = Randn({c.n, c.k}, 1.0 / std::sqrt(double(c.k)));
  d.norm = (Randn({c.k}, 0.2, at::kFloat) + 1.0).to(at::kBFloat16);
  d.bias = Randn({c.n}, 0.1);
  d.residual = Randn({c.m, c.n}, 1.0);
  return d;
}

// [M, width] float64 with the LibTorch model's rounding points.
at::Tensor GemmReference(const GemmCase& c, const GemmData& d) {
  at::Tensor x = d.x.narrow(1, 0, c.k).to(at::kDouble);
  if (c.norm) {  // models/rms_norm.cc, float32 inside, rounded once
    const at::Tensor x32 = d.x.narrow(1, 0, c.k).to(at::kFloat);
    x = RoundBf16(x32 * at::rsqrt(x32.pow(2).mean(-1, true) + 1e-5) *
                  d.norm.to(at::kFloat));
  }
  at::Tensor acc = at::matmul(x, d.w.to(at::kDouble).t());
  if (c.bias) acc = acc + d.bias.to(at::kDouble);
  switch (c.epilogue) {
    case GemmEpilogue::kFloat:
      return acc;
    case GemmEpilogue::kSwiGlu: {
      const at::Tensor a = RoundBf16(acc.slice(1, 0, c.n, 2));
      const at::Tensor b = RoundBf16(acc.slice(1, 1, c.n, 2));
      return RoundBf16(RoundBf16(at::silu(a)) * b);
    }
    default:
      if (c.gelu) return RoundBf16(at::gelu(RoundBf16(acc)));
      if (c.residual) return RoundBf16(acc + d.residual.to(at::kDouble));
      return RoundBf16(acc);
  }
}

// Runs rows [begin, begin + rows) of the case in `tiling` (GemmArgs's;
// zeros: the launcher's); returns the poisoned output buffer
// [rows + 1, stride] (the extra row and columns must stay NaN).
at::Tensor RunGemm(const GemmCase& c, const GemmData& d, int begin, int rows,
                   decode::GemmTiling tiling = {0, 0}) {
  at::Tensor out = Nan({rows + 1, c.stride()}, c.out_dtype());
  GemmArgs a;
  a.m = rows;
  a.n = c.n;
  a.k = c.k;
  a.x = Ptr(d.x) + int64_t(begin) * d.x.size(1);
  a.x_stride = d.x.size(1);
  a.w = Ptr(d.w);
  a.norm_weight = c.norm ? Ptr(d.norm) : nullptr;
  a.bias = c.bias ? Ptr(d.bias) : nullptr;
  a.gelu = c.gelu;
  a.residual = c.residual ? Ptr(d.residual) + int64_t(begin) * c.n : nullptr;
  a.residual_stride = c.n;
  a.out = out.data_ptr();
  a.out_stride = c.stride();
  a.epilogue = c.epilogue;
  a.tiling = tiling;
  EXPECT_EQ(decode::ValidateGemm(a), "") << c.Name();
  Finish(decode::LaunchSkinnyGemm(a, Stream(), /*pdl=*/false));
  return out;
}

std::vector<GemmCase> GemmCases(const std::vector<int>& rows) {
  // (N, K): tile edges, K = 8 (one partial chunk), K not a multiple of 32,
  // the real models' shapes, and the largest K.
  const std::vector<std::pair<int, int>> shapes = {
      {1002, 40},  {24, 8},     {40, 304},   {62, 96},   {2304, 768},
      {768, 1536}, {8000, 128}, {136, 2048}, {3072, 768}};
  std::vector<GemmCase> cases;
  for (int m : rows) {
    for (auto [n, k] : shapes) {
      cases.push_back({m, n, k, GemmEpilogue::kBf16});
      cases.push_back({m, n, k, GemmEpilogue::kBf16, false, true, true});
      cases.push_back(
          {m, n, k, GemmEpilogue::kBf16, false, false, false, true});
      cases.push_back({m, n, k, GemmEpilogue::kBf16, true, true});
      cases.push_back({m, n, k, GemmEpilogue::kFloat, true});
      cases.push_back({m, n, k, GemmEpilogue::kFloat});
      if (n % 2 == 0) cases.push_back({m, n, k, GemmEpilogue::kSwiGlu, true});
    }
  }
  return cases;
}

TEST(SkinnyGemm, MatchesReference) {
  TINYLM_SKIP_WITHOUT_GPU();
  at::manual_seed(1);
  for (const GemmCase& c : GemmCases({1, 15, 17, 100, 128})) {
    const GemmData d = MakeGemmData(c);
    const at::Tensor out = RunGemm(c, d, 0, c.m);
    const at::Tensor ref = GemmReference(c, d);
    const at::Tensor body = out.narrow(0, 0, c.m).narrow(1, 0, c.width());
    const bool exact_inputs = c.epilogue == GemmEpilogue::kFloat && !c.norm;
    // fp32 accumulation of exact products: ~1e-6; bf16 outputs: rounding
    // flips of half an ulp (2^-9) on a few elements.
    ExpectAtMost("gemm " + c.Name(), RelativeError(body, ref),
                 exact_inputs ? 1e-5 : 4e-3);
    EXPECT_TRUE(AllNan(out.narrow(0, c.m, 1))) << c.Name() << ": extra row";
    EXPECT_TRUE(AllNan(out.narrow(1, c.width(), c.stride() - c.width())))
        << c.Name() << ": padding columns";
  }
}

TEST(SkinnyGemm, BatchInvariant) {
  TINYLM_SKIP_WITHOUT_GPU();
  at::manual_seed(2);
  for (const GemmCase& c : GemmCases({100})) {
    const GemmData d = MakeGemmData(c);
    const at::Tensor all = RunGemm(c, d, 0, c.m).narrow(1, 0, c.width());
    for (auto [begin, rows] : std::vector<std::pair<int, int>>{
             {0, 1}, {1, 1}, {57, 1}, {99, 1}, {33, 17}, {80, 15}, {2, 64}}) {
      const at::Tensor part =
          RunGemm(c, d, begin, rows).narrow(0, 0, rows).narrow(1, 0, c.width());
      EXPECT_TRUE(at::equal(part, all.narrow(0, begin, rows)))
          << c.Name() << ": rows " << begin << ".." << begin + rows - 1
          << " differ from the same rows of M=100";
    }
    // M = 100 (7 row tiles) in every width K allows, split 1, 3 or 7 ways.
    for (int width = 1; width <= decode::GemmMaxTilesPerBlock(c.k);
         width *= 2) {
      for (int splits : {1, 3, 7}) {
        const at::Tensor forced = RunGemm(c, d, 0, c.m, {width, splits})
                                      .narrow(0, 0, c.m)
                                      .narrow(1, 0, c.width());
        EXPECT_TRUE(at::equal(forced, all.narrow(0, 0, c.m)))
            << c.Name() << ": width " << width << ", " << splits
            << " splits differ from the launcher's tiling";
      }
    }
  }
  std::printf(
      "CHECK gemm batch invariance: rows alone and in M=1..64 windows, and "
      "M=100 in every tiling, equal M=100 bit for bit\n");
}

// ------------------------------------------------- attention input epilogue

struct AttentionShape {
  int heads, groups, head_size, block_size, max_len;
  bool score_fcn;
  int n_embd;
};

TEST(AttentionInput, RopeCacheWriteAndScore) {
  TINYLM_SKIP_WITHOUT_GPU();
  at::manual_seed(3);
  const std::vector<AttentionShape> shapes = {
      {4, 2, 16, 40, 40, true, 64},
      {1, 1, 128, 256, 256, true, 128},
      {1, 1, 768, 1024, 1024, true, 768},
      {2, 1, 8, 300, 300, false, 32},
      {3, 3, 24, 50, 48, true, 72}};
  for (const AttentionShape& s : shapes) {
    for (bool activation : {false, true}) {
      const int H = s.heads, G = s.groups, hs = s.head_size, C = s.n_embd;
      const int M = 5, S = M + 2,
                score_width = s.score_fcn ? H * s.block_size : 0;
      const at::Tensor qw = Randn({H * hs, C}, 0.1),
                       kw = Randn({G * hs, C}, 0.1),
                       vw = Randn({G * hs, C}, 0.1);
      const at::Tensor sw =
          s.score_fcn ? Randn({score_width, C}, 0.1) : at::Tensor();
      const at::Tensor qb = Randn({H * hs}, 0.1), kb = Randn({G * hs}, 0.1),
                       vb = Randn({G * hs}, 0.1);
      const at::Tensor sb =
          s.score_fcn ? Randn({score_width}, 0.1) : at::Tensor();
      const at::Tensor w = decode::PackAttentionInput(qw, kw, vw, sw, H, G, hs);
      const at::Tensor b = decode::PackAttentionInput(qb, kb, vb, sb, H, G, hs);
      const at::Tensor x = Randn({M, C}, 1.0);
      const at::Tensor norm =
          (Randn({C}, 0.2, at::kFloat) + 1).to(at::kBFloat16);
      const RopeTable rope = MakeRopeTable(s.block_size, hs, 10000.0);
      const at::Tensor cos = rope.cos.to(at::kCUDA),
                       sin = rope.sin.to(at::kCUDA);
      const at::Tensor positions =
          at::tensor(std::vector<int>{0, s.max_len - 1, 1, s.max_len / 2,
                                      7 % s.max_len},
                     at::kInt)
              .to(at::kCUDA);
      const at::Tensor slots =
          at::tensor(std::vector<int>{3, 0, 6, 2, 5}, at::kInt).to(at::kCUDA);
      at::Tensor k_cache = Randn({S, s.max_len, G, hs}, 1.0);
      at::Tensor v_cache = Randn({S, s.max_len, G, hs}, 1.0);
      const at::Tensor k_before = k_cache.clone(), v_before = v_cache.clone();
      at::Tensor q = Nan({M, H * hs}, at::kBFloat16);
      at::Tensor score = Nan({M, std::max(score_width, 1)}, at::kBFloat16);

      GemmArgs a;
      a.m = M;
      a.n = (H + 2 * G) * hs + score_width;
      a.k = C;
      a.x = Ptr(x);
      a.x_stride = C;
      a.w = Ptr(w);
      a.norm_weight = Ptr(norm);
      a.bias = Ptr(b);
      a.epilogue = GemmEpilogue::kAttentionInput;
      decode::AttentionInputTarget& t = a.attention;
      t.heads = H;
      t.groups = G;
      t.head_size = hs;
      t.score_width = score_width;
      t.activation = activation;
      t.rope_cos = Ptr<float>(cos);
      t.rope_sin = Ptr<float>(sin);
      t.rope_len = s.block_size;
      t.positions = Ptr<int>(positions);
      t.slots = Ptr<int>(slots);
      t.q = Ptr(q);
      t.score = Ptr(score);
      t.k_cache = Ptr(k_cache);
      t.v_cache = Ptr(v_cache);
      t.num_slots = S;
      t.max_len = s.max_len;
      ASSERT_EQ(decode::ValidateGemm(a), "");
      Finish(decode::LaunchSkinnyGemm(a, Stream(), /*pdl=*/false));

      // Reference: normed input, the unpacked linears, GELU, models/rope.cc.
      const at::Tensor x32 = x.to(at::kFloat);
      const at::Tensor a_in =
          RoundBf16(x32 * at::rsqrt(x32.pow(2).mean(-1, true) + 1e-5) *
                    norm.to(at::kFloat));
      auto linear = [&](const at::Tensor& wt, const at::Tensor& bt) {
        at::Tensor out = RoundBf16(at::matmul(a_in, wt.to(at::kDouble).t()) +
                                   bt.to(at::kDouble));
        return activation ? RoundBf16(at::gelu(out)) : out;
      };
      const at::Tensor qk = at::cat({linear(qw, qb), linear(kw, kb)}, 1)
                                .to(at::kBFloat16)
                                .view({M, H + G, 1, hs});
      const at::Tensor pos64 = positions.to(at::kLong);
      const at::Tensor rcos = cos.index_select(0, pos64).view({M, 1, 1, hs});
      const at::Tensor rsin =
          SignedSin(sin.index_select(0, pos64).view({M, 1, 1, hs}));
      const at::Tensor rotated = ApplyRope(qk, rcos, rsin).view({M, H + G, hs});
      const at::Tensor v_ref = linear(vw, vb).view({M, G, hs});

      const std::string name =
          "H=" + std::to_string(H) + " G=" + std::to_string(G) +
          " hs=" + std::to_string(hs) + (activation ? " gelu" : "");
      ExpectAtMost("attention input q " + name,
                   RelativeError(q.view({M, H, hs}), rotated.narrow(1, 0, H)),
                   4e-3);
      const at::Tensor slot64 = slots.to(at::kLong);
      const at::Tensor k_rows = k_cache.index({slot64, pos64});  // [M, G, hs]
      const at::Tensor v_rows = v_cache.index({slot64, pos64});
      ExpectAtMost("attention input k in cache " + name,
                   RelativeError(k_rows, rotated.narrow(1, H, G)), 4e-3);
      ExpectAtMost("attention input v in cache " + name,
                   RelativeError(v_rows, v_ref), 4e-3);
      if (s.score_fcn) {
        const at::Tensor s_ref = RoundBf16(
            at::matmul(a_in, sw.to(at::kDouble).t()) + sb.to(at::kDouble));
        ExpectAtMost("attention input score " + name,
                     RelativeError(score, s_ref), 4e-3);
      }
      // Nothing else in the caches changed.
      at::Tensor k_expect = k_before.clone(), v_expect = v_before.clone();
      k_expect.index_put_({slot64, pos64}, k_rows);
      v_expect.index_put_({slot64, pos64}, v_rows);
      EXPECT_TRUE(at::equal(k_cache, k_expect))
          << name << ": keys written elsewhere";
      EXPECT_TRUE(at::equal(v_cache, v_expect))
          << name << ": values written elsewhere";
    }
  }
}

// ----------------------------------------------------------- attention

struct AttentionCase {
  int heads, groups, head_size, max_len;
  bool score_fcn;
};

struct AttentionData {
  at::Tensor q;                 // [M, H·hs]
  at::Tensor score;             // [M, H·max_len]
  at::Tensor k_cache, v_cache;  // [S, max_len, G, hs]
  at::Tensor positions, slots;  // [M] int32
};

// Row positions: 0, the last position, rows of one full run, of one key
// more (two runs), of seven runs and one key (eight), of one key per
// stream and one more, random others.
AttentionData MakeAttentionData(const AttentionCase& c, int M) {
  const int run = decode::KeysPerRun(c.head_size);
  std::vector<int> pos = {0, c.max_len - 1, run - 1, run, 7 * run, run / 2};
  while (int(pos.size()) < M) pos.push_back(int(pos.size() * 7919) % c.max_len);
  pos.resize(M);
  for (int& p : pos) p = std::min(p, c.max_len - 1);
  std::vector<int> slot(M);
  for (int i = 0; i < M; ++i) slot[i] = (i * 5 + 3) % (M + 2);  // distinct
  AttentionData d;
  d.q = Randn({M, c.heads * c.head_size}, 1.0);
  d.score = Randn({M, c.heads * c.max_len}, 1.0);
  d.k_cache = Randn({M + 2, c.max_len, c.groups, c.head_size}, 1.0);
  d.v_cache = Randn({M + 2, c.max_len, c.groups, c.head_size}, 1.0);
  d.positions = at::tensor(pos, at::kInt).to(at::kCUDA);
  d.slots = at::tensor(slot, at::kInt).to(at::kCUDA);
  return d;
}

struct AttentionOut {
  at::Tensor y;      // [M, H·hs] bf16
  at::Tensor probs;  // [M, H, max_len + 3] fp32
};

AttentionOut RunAttention(const AttentionCase& c, const AttentionData& d,
                          int begin, int rows, int blocks_per_row = 0) {
  const int H = c.heads, hs = c.head_size;
  AttentionOut o;
  o.y = Nan({rows, H * hs}, at::kBFloat16);
  o.probs = Nan({rows, H, c.max_len + 3}, at::kFloat);
  decode::AttentionArgs a;
  a.rows = rows;
  a.heads = H;
  a.groups = c.groups;
  a.head_size = hs;
  a.q = Ptr(d.q) + int64_t(begin) * H * hs;
  a.score =
      c.score_fcn ? Ptr(d.score) + int64_t(begin) * H * c.max_len : nullptr;
  a.score_stride = c.max_len;
  a.k_cache = Ptr(d.k_cache);
  a.v_cache = Ptr(d.v_cache);
  a.num_slots = d.k_cache.size(0);
  a.max_len = c.max_len;
  a.positions = Ptr<int>(d.positions) + begin;
  a.slots = Ptr<int>(d.slots) + begin;
  a.y = Ptr(o.y);
  a.probs = o.probs.data_ptr<float>();
  a.probs_stride = c.max_len + 3;
  a.blocks_per_row = blocks_per_row;
  EXPECT_EQ(decode::ValidateAttention(a), "");
  Finish(decode::LaunchDecodeAttention(a, Stream(), false));
  // Again with PDL (reads its inputs before any wait): the same bits.
  const at::Tensor first_y = o.y.clone();
  Finish(decode::LaunchDecodeAttention(a, Stream(), true));
  EXPECT_TRUE(at::equal(first_y, o.y)) << "second call differs";
  return o;
}

TEST(DecodeAttention, MatchesReference) {
  TINYLM_SKIP_WITHOUT_GPU();
  at::manual_seed(4);
  const std::vector<AttentionCase> cases = {
      {1, 1, 768, 1024, false}, {1, 1, 768, 1024, true},
      {1, 1, 128, 256, false},  {1, 1, 128, 256, true},
      {4, 2, 16, 40, true},     {2, 1, 8, 300, false},
      {1, 1, 1024, 64, false},  {3, 3, 24, 500, true},
      {8, 2, 64, 129, false}};
  for (const AttentionCase& c : cases) {
    const int M = 9, H = c.heads, hs = c.head_size, L = c.max_len;
    const AttentionData d = MakeAttentionData(c, M);
    const AttentionOut o = RunAttention(c, d, 0, M);

    // Reference in float64 over every position, masked past each row's.
    const at::Tensor slot64 = d.slots.to(at::kLong);
    auto heads_of = [&](const at::Tensor& cache) {  // [M, H, L, hs]
      return cache.index_select(0, slot64)
          .to(at::kDouble)
          .repeat_interleave(H / c.groups, 2)
          .permute({0, 2, 1, 3});
    };
    const at::Tensor q = d.q.to(at::kDouble).view({M, H, 1, hs});
    at::Tensor s =
        at::matmul(q, heads_of(d.k_cache).transpose(-2, -1)).squeeze(2) /
        std::sqrt(double(hs));  // [M, H, L]
    if (c.score_fcn) s = s + d.score.to(at::kDouble).view({M, H, L});
    const at::Tensor keys =
        at::arange(L, at::TensorOptions().device(at::kCUDA));
    const at::Tensor masked =
        (keys.view({1, 1, L}) > d.positions.to(at::kLong).view({M, 1, 1}));
    const at::Tensor p = at::softmax(s.masked_fill(masked, -INFINITY), -1);
    const at::Tensor y = at::matmul(p.unsqueeze(2), heads_of(d.v_cache))
                             .squeeze(2)
                             .reshape({M, H * hs});
    const std::string name =
        "H=" + std::to_string(H) + " G=" + std::to_string(c.groups) +
        " hs=" + std::to_string(hs) + " L=" + std::to_string(L) +
        (c.score_fcn ? " score" : "");
    ExpectAtMost("attention y " + name, RelativeError(o.y, y), 4e-3);
    const at::Tensor probs = o.probs.narrow(2, 0, L);
    ExpectAtMost("attention maps " + name, RelativeError(probs, p), 1e-5);
    EXPECT_EQ(probs.masked_select(masked).abs().max().item<float>(), 0.0f)
        << name << ": weight past a row's position";
    EXPECT_EQ(o.probs.narrow(2, L, 3).abs().max().item<float>(), 0.0f)
        << name << ": map tail not zeroed";

    // Batch invariance: each row alone, and a window, give the same bits.
    for (auto [begin, rows] : std::vector<std::pair<int, int>>{
             {0, 1}, {1, 1}, {4, 1}, {8, 1}, {2, 5}}) {
      const AttentionOut part = RunAttention(c, d, begin, rows);
      EXPECT_TRUE(at::equal(part.y, o.y.narrow(0, begin, rows)))
          << name << ": rows " << begin << "+" << rows;
      EXPECT_TRUE(at::equal(part.probs, o.probs.narrow(0, begin, rows)))
          << name << ": maps of rows " << begin << "+" << rows;
    }
    // The blocks a row is spread over change the speed, not the bits.
    for (int blocks : {1, 2, 4, 8}) {
      const AttentionOut spread = RunAttention(c, d, 0, M, blocks);
      EXPECT_TRUE(at::equal(spread.y, o.y))
          << name << ": " << blocks << " blocks a row";
      EXPECT_TRUE(at::equal(spread.probs, o.probs))
          << name << ": maps at " << blocks << " blocks a row";
    }
  }
}

}  // namespace
}  // namespace tinylm::decode_test
