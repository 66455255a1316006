// Hand-computed forwards: small models with known weights, and the logits
// they must produce computed here with plain loops in double precision
// straight from the SPEC formulas (RMSNorm, rotate-half RoPE, causal
// softmax, SwiGLU, and each variant's q/k/v and score term).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include "models/config.h"
#include "models/model.h"

namespace tinylm {
namespace {

using Vec = std::vector<double>;
using Mat = std::vector<Vec>;  // [rows][cols]; a 1-D parameter is one row

// Known, varied, small values: a fixed integer pattern per tensor.
Mat Pattern(int64_t rows, int64_t cols, int64_t salt, double center,
            double step) {
  Mat m(rows, Vec(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t k = ((r + 1) * (c + 2) * (salt + 3) + 5 * r + c) % 13;
      m[r][c] = center + step * double(k - 6);
    }
  }
  return m;
}

// Every parameter of `c`, by its model.h name.
std::map<std::string, Mat> KnownWeights(const ModelConfig& c) {
  const int64_t C = c.n_embd, V = c.vocab_size, I = c.intermediate_size;
  const int64_t H = c.n_head, G = c.n_query_groups, hs = c.head_size();
  std::map<std::string, Mat> w;
  int64_t salt = 0;
  auto weight = [&](const std::string& name, int64_t rows, int64_t cols) {
    w[name] = Pattern(rows, cols, salt++, 0.0, 0.07);
  };
  auto bias = [&](const std::string& name, int64_t n) {
    w[name] = Pattern(1, n, salt++, 0.0, 0.05);
  };
  auto norm = [&](const std::string& name) {
    w[name] = Pattern(1, C, salt++, 1.0, 0.05);
  };
  weight("wte.weight", V, C);
  norm("ln_f.weight");
  weight("lm_head.weight", V, C);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "h." + std::to_string(i) + ".";
    norm(p + "norm_1.weight");
    norm(p + "norm_2.weight");
    if (c.separate_qkv) {
      weight(p + "attn.q.weight", H * hs, C);
      weight(p + "attn.k.weight", G * hs, C);
      weight(p + "attn.v.weight", G * hs, C);
      if (c.qkv_bias) {
        bias(p + "attn.q.bias", H * hs);
        bias(p + "attn.k.bias", G * hs);
        bias(p + "attn.v.bias", G * hs);
      }
    } else {
      weight(p + "attn.qkv.weight", (H + 2 * G) * hs, C);
      if (c.qkv_bias) bias(p + "attn.qkv.bias", (H + 2 * G) * hs);
    }
    if (c.score_fcn) {
      weight(p + "attn.score.weight", H * c.block_size, C);
      bias(p + "attn.score.bias", H * c.block_size);
    }
    weight(p + "attn.proj.weight", C, H * hs);
    weight(p + "mlp.fc_1.weight", I, C);
    weight(p + "mlp.fc_2.weight", I, C);
    weight(p + "mlp.proj.weight", C, I);
  }
  return w;
}

// Copies `w` into the model; every parameter must be there with its shape.
void Load(const std::map<std::string, Mat>& w, Transformer& model) {
  torch::NoGradGuard no_grad;
  auto params = model->named_parameters();
  ASSERT_EQ(params.size(), w.size());
  for (auto& item : params) {
    auto it = w.find(item.key());
    ASSERT_NE(it, w.end()) << item.key();
    const Mat& m = it->second;
    at::Tensor flat = at::empty({int64_t(m.size() * m[0].size())},
                                at::TensorOptions(at::kDouble));
    int64_t i = 0;
    for (const Vec& row : m) {
      for (double x : row) flat[i++].fill_(x);
    }
    ASSERT_EQ(item.value().numel(), flat.numel()) << item.key();
    item.value().copy_(flat.view(item.value().sizes()));
  }
}

// y = W x (+ b)
Vec Linear(const Mat& weight, const Vec& x, const Mat* bias) {
  Vec y(weight.size(), 0.0);
  for (size_t o = 0; o < weight.size(); ++o) {
    for (size_t i = 0; i < x.size(); ++i) y[o] += weight[o][i] * x[i];
    if (bias != nullptr) y[o] += (*bias)[0][o];
  }
  return y;
}

Vec RmsNorm(const Vec& x, const Mat& weight, double eps) {
  double mean_square = 0.0;
  for (double v : x) mean_square += v * v / double(x.size());
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    y[i] = x[i] / std::sqrt(mean_square + eps) * weight[0][i];
  }
  return y;
}

// Rotate-half RoPE of one head vector at `pos`: pairs (i, i + hs/2) are
// rotated by pos·base^(-2i/hs).
Vec Rope(const Vec& x, int64_t pos, double base) {
  const size_t half = x.size() / 2;
  Vec y(x.size());
  for (size_t i = 0; i < half; ++i) {
    const double angle =
        double(pos) * std::pow(base, -2.0 * double(i) / double(x.size()));
    y[i] = x[i] * std::cos(angle) - x[i + half] * std::sin(angle);
    y[i + half] = x[i + half] * std::cos(angle) + x[i] * std::sin(angle);
  }
  return y;
}

double Gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double Silu(double x) { return x / (1.0 + std::exp(-x)); }

Vec Slice(const Vec& x, int64_t begin, int64_t n) {
  return Vec(x.begin() + begin, x.begin() + begin + n);
}

// Logits [T][V] of `tokens`, from the SPEC formulas.
Mat ReferenceLogits(const ModelConfig& c, std::map<std::string, Mat>& w,
                    const std::vector<int64_t>& tokens) {
  const int64_t T = tokens.size(), H = c.n_head, G = c.n_query_groups;
  const int64_t hs = c.head_size();
  auto bias = [&](const std::string& name) {
    return c.qkv_bias ? &w[name] : nullptr;
  };
  Mat x(T);
  for (int64_t t = 0; t < T; ++t) x[t] = w["wte.weight"][tokens[t]];
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "h." + std::to_string(l) + ".attn.";
    const std::string n = "h." + std::to_string(l) + ".";
    Mat a(T), q(T), k(T), v(T), g(T);
    for (int64_t t = 0; t < T; ++t) {
      a[t] = RmsNorm(x[t], w[n + "norm_1.weight"], c.norm_eps);
      if (c.separate_qkv) {
        q[t] = Linear(w[p + "q.weight"], a[t], bias(p + "q.bias"));
        k[t] = Linear(w[p + "k.weight"], a[t], bias(p + "k.bias"));
        v[t] = Linear(w[p + "v.weight"], a[t], bias(p + "v.bias"));
      } else {
        const Vec qkv = Linear(w[p + "qkv.weight"], a[t], bias(p + "qkv.bias"));
        q[t] = Slice(qkv, 0, H * hs);
        k[t] = Slice(qkv, H * hs, G * hs);
        v[t] = Slice(qkv, (H + G) * hs, G * hs);
      }
      if (c.qkv_activation) {
        for (Mat* m : {&q, &k, &v}) {
          for (double& e : (*m)[t]) e = Gelu(e);
        }
      }
      if (c.score_fcn) {
        g[t] = Linear(w[p + "score.weight"], a[t], &w[p + "score.bias"]);
      }
    }
    Mat y(T, Vec(H * hs, 0.0));
    for (int64_t h = 0; h < H; ++h) {
      const int64_t group = h / (H / G);
      for (int64_t i = 0; i < T; ++i) {
        const Vec qi = Rope(Slice(q[i], h * hs, hs), i, c.rope_base);
        Vec score(i + 1);
        double top = -1e300;
        for (int64_t j = 0; j <= i; ++j) {
          const Vec kj = Rope(Slice(k[j], group * hs, hs), j, c.rope_base);
          double dot = 0.0;
          for (int64_t d = 0; d < hs; ++d) dot += qi[d] * kj[d];
          score[j] = dot / std::sqrt(double(hs));
          if (c.score_fcn) score[j] += g[i][h * c.block_size + j];
          top = std::max(top, score[j]);
        }
        double total = 0.0;
        for (double& s : score) total += (s = std::exp(s - top));
        for (int64_t j = 0; j <= i; ++j) {
          for (int64_t d = 0; d < hs; ++d) {
            y[i][h * hs + d] += score[j] / total * v[j][group * hs + d];
          }
        }
      }
    }
    for (int64_t t = 0; t < T; ++t) {
      const Vec attn = Linear(w[p + "proj.weight"], y[t], nullptr);
      for (size_t e = 0; e < attn.size(); ++e) x[t][e] += attn[e];
      const Vec m = RmsNorm(x[t], w[n + "norm_2.weight"], c.norm_eps);
      Vec gate = Linear(w[n + "mlp.fc_1.weight"], m, nullptr);
      const Vec up = Linear(w[n + "mlp.fc_2.weight"], m, nullptr);
      for (size_t e = 0; e < gate.size(); ++e) gate[e] = Silu(gate[e]) * up[e];
      const Vec out = Linear(w[n + "mlp.proj.weight"], gate, nullptr);
      for (size_t e = 0; e < out.size(); ++e) x[t][e] += out[e];
    }
  }
  Mat logits(T);
  for (int64_t t = 0; t < T; ++t) {
    logits[t] = Linear(w["lm_head.weight"],
                       RmsNorm(x[t], w["ln_f.weight"], c.norm_eps), nullptr);
  }
  return logits;
}

void ExpectModelMatchesReference(const ModelConfig& config,
                                 const std::vector<int64_t>& tokens) {
  ASSERT_TRUE(config.Validate().ok()) << config.Validate();
  std::map<std::string, Mat> weights = KnownWeights(config);
  Transformer model(config);
  Load(weights, model);
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor logits =
      model->Forward(ForwardInput(at::tensor(tokens, at::kLong).unsqueeze(0))).logits[0];
  const Mat expected = ReferenceLogits(config, weights, tokens);
  ASSERT_EQ(logits.size(0), int64_t(tokens.size()));
  ASSERT_EQ(logits.size(1), config.vocab_size);
  double worst = 0.0, largest = 0.0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    for (int64_t e = 0; e < config.vocab_size; ++e) {
      const double got = logits[t][e].item<double>();
      worst = std::max(worst, std::abs(got - expected[t][e]));
      largest = std::max(largest, std::abs(expected[t][e]));
    }
  }
  EXPECT_LE(worst, 1e-5);
  EXPECT_GT(largest, 0.1);  // the logits are not trivially small
}

ModelConfig Small(const std::string& variant, int64_t C, int64_t H,
                  int64_t G, int64_t layers) {
  ModelConfig c;
  EXPECT_TRUE(ApplyVariant(variant, c).ok());
  c.vocab_size = 7;
  c.n_embd = C;
  c.n_head = H;
  c.n_query_groups = G;
  c.n_layer = layers;
  c.intermediate_size = 6;
  c.block_size = 8;
  return c;
}

TEST(ModelGoldenTest, OneLayerOneHeadBaseModel) {
  ModelConfig c;
  c.vocab_size = 5;
  c.n_embd = 4;
  c.n_layer = 1;
  c.n_head = 1;
  c.n_query_groups = 1;
  c.intermediate_size = 4;
  c.block_size = 8;
  ExpectModelMatchesReference(c, {3, 0, 4});
}

TEST(ModelGoldenTest, EveryVariantOneHead) {
  for (const std::string& variant : VariantNames()) {
    SCOPED_TRACE(variant);
    ExpectModelMatchesReference(Small(variant, 4, 1, 1, 2), {3, 0, 4, 6, 1});
  }
}

TEST(ModelGoldenTest, EveryVariantGroupedQueryHeads) {
  for (const std::string& variant : VariantNames()) {
    SCOPED_TRACE(variant);
    // Four query heads reading two key/value groups, head size 4.
    ExpectModelMatchesReference(Small(variant, 16, 4, 2, 2),
                                {2, 5, 5, 0, 6, 1, 3});
  }
}

TEST(ModelGoldenTest, RopeBaseAndNormEpsAreUsed) {
  ModelConfig c = Small("score_fcn", 8, 2, 2, 1);
  c.rope_base = 50.0;
  c.norm_eps = 0.5;
  ExpectModelMatchesReference(c, {1, 2, 3, 4, 5, 6});
}

}  // namespace
}  // namespace tinylm
