// GPU tests of the device sampler (kernels/decode/sampling.h) against
// models/sampler.cc's SampleTokens, whose rule it implements: greedy and
// sampled rows with every combination of temperature, top-k, top-p, min-p
// and repetition penalty, exact ties, alternatives, both block sizes'
// vocabularies, and batch invariance (a row alone gives the bits it gives
// in the batch).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "kernels/decode/sampling.h"
#include "models/sampler.h"
#include "tests/decode_test_util.h"

namespace tinylm::decode_test {
namespace {

// How far a sum may drift between the kernel's order and LibTorch's.
constexpr double kMassRounding = 1e-5;

// Per-row inputs of one sampler call, as the server fills them.
struct Rows {
  std::vector<SampleRow> samples;
  std::vector<std::vector<int64_t>> histories;
  std::vector<int64_t> top_n;
};

// The rows' draws, in turn: greedy; greedy by top_k 1; plain temperature;
// top-k; top-p; min-p; all three; a small nucleus.
struct Draw {
  double temperature;
  int64_t top_k;
  double top_p, min_p;
};
constexpr Draw kDraws[] = {{0.0, 0, 1.0, 0.0},   {0.7, 1, 1.0, 0.0},
                           {0.7, 0, 1.0, 0.0},   {1.0, 40, 1.0, 0.0},
                           {0.9, 0, 0.9, 0.0},   {1.3, 0, 1.0, 0.05},
                           {0.8, 50, 0.8, 0.02}, {1.0, 0, 0.5, 0.0}};

Rows MakeRows(int M, int V) {
  Rows r;
  r.samples.resize(M);
  r.histories.resize(M);
  r.top_n.resize(M);
  for (int m = 0; m < M; ++m) {
    SamplingParams& p = r.samples[m].params;
    const Draw& d = kDraws[m % 8];
    p.temperature = d.temperature;
    p.top_k = d.top_k;
    p.top_p = d.top_p;
    p.min_p = d.min_p;
    p.seed = 100 + m;
    if (m % 3 == 0) p.repetition_penalty = 1.3;
    for (int i = 0; i < 30; ++i) {
      r.histories[m].push_back((i * 131 + 7 * m) % V);
    }
    r.samples[m].position = 17 + m;
    r.samples[m].history = &r.histories[m];
    r.top_n[m] = m % 4 == 1 ? 5 : m % 5 == 0 ? decode::kMaxAlternatives : 0;
  }
  return r;
}

struct Choices {
  at::Tensor token, logprob, alternative_ids, alternative_logprobs;
};

// The device sampler over rows [begin, begin + rows) of `logits`.
Choices RunSampler(const at::Tensor& logits, const Rows& r, int begin,
                   int rows) {
  const int V = logits.size(1), H = 30;
  std::vector<float> inverse_temperature, top_p, min_p, uniform, penalty;
  std::vector<int> top_k, top_n, history, history_length;
  for (int m = begin; m < begin + rows; ++m) {
    const SamplingParams& p = r.samples[m].params;
    const bool greedy = IsGreedy(p);
    inverse_temperature.push_back(greedy ? 0.0f : float(1.0 / p.temperature));
    top_k.push_back(int(p.top_k));
    top_p.push_back(float(p.top_p));
    min_p.push_back(float(p.min_p));
    uniform.push_back(float(CounterUniform(p.seed, r.samples[m].position)));
    penalty.push_back(float(p.repetition_penalty));
    top_n.push_back(int(r.top_n[m]));
    history_length.push_back(H);
    for (int64_t t : r.histories[m]) history.push_back(int(t));
  }
  auto floats = [](const std::vector<float>& v) {
    return at::tensor(v, at::kFloat).to(at::kCUDA);
  };
  auto ints = [](const std::vector<int>& v) {
    return at::tensor(v, at::kInt).to(at::kCUDA);
  };
  const at::Tensor t = floats(inverse_temperature), pp = floats(top_p),
                   mp = floats(min_p), u = floats(uniform),
                   pen = floats(penalty), k = ints(top_k), n = ints(top_n),
                   h = ints(history), hl = ints(history_length);
  const auto int_options =
      at::TensorOptions().device(at::kCUDA).dtype(at::kInt);
  Choices c;
  c.token = at::full({rows}, -1, int_options);
  c.logprob = Nan({rows}, at::kFloat);
  c.alternative_ids =
      at::full({rows, decode::kMaxAlternatives}, -1, int_options);
  c.alternative_logprobs = Nan({rows, decode::kMaxAlternatives}, at::kFloat);
  decode::SamplingArgs a;
  a.rows = rows;
  a.vocab = V;
  a.logits = Ptr<float>(logits) + int64_t(begin) * V;
  a.logits_stride = V;
  a.inverse_temperature = Ptr<float>(t);
  a.top_k = Ptr<int>(k);
  a.top_p = Ptr<float>(pp);
  a.min_p = Ptr<float>(mp);
  a.uniform = Ptr<float>(u);
  a.penalty = Ptr<float>(pen);
  a.history = Ptr<int>(h);
  a.history_length = Ptr<int>(hl);
  a.history_stride = H;
  a.token = Ptr<int>(c.token);
  a.logprob = Ptr<float>(c.logprob);
  a.top_n = Ptr<int>(n);
  a.alternative_ids = Ptr<int>(c.alternative_ids);
  a.alternative_logprobs = Ptr<float>(c.alternative_logprobs);
  a.alternative_stride = decode::kMaxAlternatives;
  EXPECT_EQ(decode::ValidateSampling(a), "");
  Finish(decode::LaunchSampling(a, Stream(), /*pdl=*/false));
  return c;
}

// The row's penalized logits in float, as SampleTokens computes them.
at::Tensor Penalized(const at::Tensor& row, const SampleRow& sample) {
  if (sample.params.repetition_penalty == 1.0) return row;
  const float pen = float(sample.params.repetition_penalty);
  const at::Tensor ids =
      at::tensor(*sample.history, at::kLong).to(row.device());
  const at::Tensor hit = at::zeros_like(row, row.options().dtype(at::kBool))
                             .index_fill_(0, ids, true);
  return at::where(hit, at::where(row > 0, row / pen, row * pen), row);
}

// Whether `got` is a draw that SampleTokens' rule allows once sums may
// move by kMassRounding: its rank in the stable descending order lies
// between the picks of the smallest kept prefix at u - ε and of the
// largest at u + ε (the pick grows with both).
bool DrawWithinRounding(const at::Tensor& row, const SampleRow& sample,
                        int64_t got) {
  const SamplingParams& p = sample.params;
  const int64_t V = row.size(0);
  const at::Tensor z =
      (Penalized(row, sample) * float(1.0 / p.temperature)).to(at::kDouble);
  const auto sorted = at::sort(z, /*stable=*/true, 0, /*descending=*/true);
  const at::Tensor probs = at::softmax(std::get<0>(sorted), 0).cpu();
  const at::Tensor order = std::get<1>(sorted).cpu();
  const double* pr = probs.data_ptr<double>();
  const int64_t k_bound = p.top_k > 0 ? std::min<int64_t>(p.top_k, V) : V;
  double k_mass = 0;
  for (int64_t r = 0; r < k_bound; ++r) k_mass += pr[r];
  auto kept = [&](double eps) {  // prefix length with the cuts moved by eps
    double before = 0;
    int64_t n = 0;
    while (n < k_bound && before / k_mass < p.top_p + eps &&
           pr[n] >= p.min_p * pr[0] * (1 - eps)) {
      before += pr[n++];
    }
    return std::max<int64_t>(n, 1);
  };
  auto pick = [&](int64_t n, double u) {
    double total = 0;
    for (int64_t r = 0; r < n; ++r) total += pr[r];
    double cdf = 0;
    int64_t below = 0;
    for (int64_t r = 0; r < n; ++r) {
      cdf += pr[r];
      if (cdf <= u * total) ++below;
    }
    return std::min(below, n - 1);
  };
  const double u = CounterUniform(p.seed, sample.position);
  const int64_t lo = pick(kept(-kMassRounding), u - kMassRounding);
  const int64_t hi = pick(kept(kMassRounding), u + kMassRounding);
  const int64_t rank = (order == got).nonzero().flatten()[0].item<int64_t>();
  return lo <= rank && rank <= hi;
}

TEST(Sampling, ChoicesAreSampleTokensChoices) {
  TINYLM_SKIP_WITHOUT_GPU();
  at::manual_seed(5);
  // 1003 and 8000 tokens take the 512-thread block, 12000 the 1024-thread
  // one; flatter logits keep long prefixes.
  for (auto [V, scale] : std::vector<std::pair<int, double>>{
           {8000, 3.0}, {1003, 1.0}, {12000, 2.0}}) {
    const int M = 24;
    at::Tensor logits = Randn({M, V}, scale, at::kFloat);
    // Exact ties: row 0 (greedy) has two equal maxima, row 2 (sampling)
    // two equal tokens holding nearly all the mass: the lower index wins
    // argmax, and the draw splits them in index order.
    logits[0][5] = logits[0].max() + 1;
    logits[0][77] = logits[0][5];
    logits[2][10] = 50.0;
    logits[2][900] = 50.0;
    const Rows r = MakeRows(M, V);
    const Choices c = RunSampler(logits, r, 0, M);
    std::vector<SampledToken> expected =
        SampleTokens(logits, r.samples, decode::kMaxAlternatives);
    // LibTorch's topk leaves the order of equal values open; the sampler
    // gives them in index order (equal logits have equal logprobs).
    for (SampledToken& e : expected) {
      std::stable_sort(e.alternatives.begin(), e.alternatives.end(),
                       [](const TokenLogprob& x, const TokenLogprob& y) {
                         return x.logprob > y.logprob ||
                                (x.logprob == y.logprob && x.id < y.id);
                       });
    }
    const at::Tensor token = c.token.cpu(), logprob = c.logprob.cpu();
    const at::Tensor alt_ids = c.alternative_ids.cpu();
    const at::Tensor alt_logprobs = c.alternative_logprobs.cpu();
    int equal = 0, near = 0;
    double worst = 0;
    for (int m = 0; m < M; ++m) {
      const std::string name =
          "V=" + std::to_string(V) + " row " + std::to_string(m);
      const int64_t got = token[m].item<int>();
      ASSERT_GE(got, 0) << name;
      ASSERT_LT(got, V) << name;
      if (got == expected[m].id) {
        ++equal;
      } else {
        // Only a draw may differ, and only within rounding of a boundary.
        ASSERT_FALSE(IsGreedy(r.samples[m].params))
            << name << ": argmax " << got << " != " << expected[m].id;
        EXPECT_TRUE(DrawWithinRounding(logits[m], r.samples[m], got))
            << name << ": drew " << got << ", SampleTokens " << expected[m].id;
        ++near;
      }
      worst = std::max(worst, std::abs(double(logprob[m].item<float>()) -
                                       expected[m].logprob));
      for (int64_t i = 0; i < r.top_n[m]; ++i) {
        EXPECT_EQ(alt_ids[m][i].item<int>(), expected[m].alternatives[i].id)
            << name << " alternative " << i;
        worst =
            std::max(worst, std::abs(double(alt_logprobs[m][i].item<float>()) -
                                     expected[m].alternatives[i].logprob));
      }
      // Past top_n nothing is written.
      for (int64_t i = r.top_n[m]; i < decode::kMaxAlternatives; ++i) {
        EXPECT_EQ(alt_ids[m][i].item<int>(), -1) << name << " slot " << i;
      }
    }
    EXPECT_EQ(token[0].item<int>(), 5) << "first of equal maxima";
    ExpectAtMost("sampling logprobs V=" + std::to_string(V), worst, 1e-4);
    std::printf(
        "CHECK sampling V=%d: %d/%d ids as SampleTokens', %d within "
        "rounding of a boundary\n",
        V, equal, M, near);

    // Batch invariance: rows alone and a window give the batch's bits.
    for (auto [begin, rows] :
         std::vector<std::pair<int, int>>{{2, 1}, {6, 1}, {9, 1}, {3, 7}}) {
      const Choices part = RunSampler(logits, r, begin, rows);
      EXPECT_TRUE(at::equal(part.token, c.token.narrow(0, begin, rows)));
      EXPECT_TRUE(at::equal(part.logprob, c.logprob.narrow(0, begin, rows)));
      EXPECT_TRUE(at::equal(part.alternative_ids,
                            c.alternative_ids.narrow(0, begin, rows)));
    }
  }
}

// One row under 128 uniforms (positions): each draw is SampleTokens' (or
// within rounding of a boundary), all lie in the top-k, and they vary.
TEST(Sampling, ManyDrawsOfOneRow) {
  TINYLM_SKIP_WITHOUT_GPU();
  at::manual_seed(7);
  const int M = 128, V = 1003;
  const at::Tensor row = Randn({1, V}, 1.5, at::kFloat);
  const at::Tensor logits = row.expand({M, V}).contiguous();
  Rows r = MakeRows(M, V);
  for (int m = 0; m < M; ++m) {
    r.samples[m].params = SamplingParams();
    r.samples[m].params.temperature = 0.8;
    r.samples[m].params.top_k = 8;
    r.samples[m].params.seed = 3;
    r.samples[m].position = m;
    r.top_n[m] = 0;
  }
  const Choices c = RunSampler(logits, r, 0, M);
  const std::vector<SampledToken> expected = SampleTokens(logits, r.samples);
  const at::Tensor top = std::get<1>(at::topk(row[0], 8)).cpu();
  const at::Tensor token = c.token.cpu();
  int equal = 0;
  std::vector<int64_t> seen;
  for (int m = 0; m < M; ++m) {
    const int64_t got = token[m].item<int>();
    EXPECT_TRUE((top == got).any().item<bool>()) << "row " << m << ": " << got;
    if (got == expected[m].id) {
      ++equal;
    } else {
      EXPECT_TRUE(DrawWithinRounding(logits[m], r.samples[m], got))
          << "row " << m << ": drew " << got << ", SampleTokens "
          << expected[m].id;
    }
    if (std::find(seen.begin(), seen.end(), got) == seen.end()) {
      seen.push_back(got);
    }
  }
  EXPECT_GE(seen.size(), 4u) << "128 draws over 8 tokens";
  std::printf(
      "CHECK sampling draws: %d/%d as SampleTokens', %zu distinct "
      "tokens, all in the top 8\n",
      equal, M, seen.size());
}

}  // namespace
}  // namespace tinylm::decode_test
