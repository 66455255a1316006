// Sampler: greedy, filters, seeds, batch independence, logprobs.
#include "models/sampler.h"

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace tinylm {
namespace {

// logits [1, V] from a float list.
at::Tensor Row(const std::vector<float>& values) {
  return at::tensor(values, at::kFloat).view({1, int64_t(values.size())});
}

SampleRow MakeRow(SamplingParams p, int64_t position = 0) {
  SampleRow row;
  row.params = p;
  row.position = position;
  return row;
}

// Draws `n` tokens at positions 0..n-1 and returns the set of ids seen.
std::set<int64_t> DrawnIds(const at::Tensor& logits, SamplingParams p,
                           int n) {
  std::set<int64_t> seen;
  for (int i = 0; i < n; ++i) {
    seen.insert(SampleTokens(logits, {MakeRow(p, i)})[0].id);
  }
  return seen;
}

TEST(SamplerTest, GreedyIsArgmax) {
  at::manual_seed(1);
  const at::Tensor logits = at::randn({4, 50});
  SamplingParams greedy;
  greedy.temperature = 0.0;
  std::vector<SampleRow> rows(4, MakeRow(greedy));
  const auto out = SampleTokens(logits, rows);
  const at::Tensor argmax = logits.argmax(1);
  for (int b = 0; b < 4; ++b) EXPECT_EQ(out[b].id, argmax[b].item<int64_t>());
}

TEST(SamplerTest, TopKOneIsGreedyWhateverTheSeed) {
  at::manual_seed(2);
  const at::Tensor logits = at::randn({1, 50});
  const int64_t argmax = logits.argmax(1).item<int64_t>();
  SamplingParams p;
  p.top_k = 1;
  p.temperature = 2.0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    p.seed = seed;
    EXPECT_EQ(SampleTokens(logits, {MakeRow(p, 3)})[0].id, argmax);
  }
}

TEST(SamplerTest, SameSeedAndPositionSameToken) {
  const at::Tensor logits = at::zeros({1, 1000});  // uniform distribution
  SamplingParams p;
  p.seed = 42;
  std::vector<int64_t> first, second;
  for (int pos = 0; pos < 30; ++pos) {
    first.push_back(SampleTokens(logits, {MakeRow(p, pos)})[0].id);
    second.push_back(SampleTokens(logits, {MakeRow(p, pos)})[0].id);
  }
  EXPECT_EQ(first, second);
  // A different seed gives a different sequence (30 draws out of 1000).
  p.seed = 43;
  std::vector<int64_t> other;
  for (int pos = 0; pos < 30; ++pos) {
    other.push_back(SampleTokens(logits, {MakeRow(p, pos)})[0].id);
  }
  EXPECT_NE(first, other);
}

TEST(SamplerTest, RowDoesNotDependOnTheRestOfTheBatch) {
  at::manual_seed(3);
  const at::Tensor logits = at::randn({3, 200});
  SamplingParams a;
  a.seed = 7;
  a.top_p = 0.9;
  SamplingParams b;
  b.temperature = 0.0;
  SamplingParams c;
  c.seed = 9;
  c.top_k = 20;
  c.repetition_penalty = 1.3;
  const std::vector<int64_t> history = {1, 2, 3};
  std::vector<SampleRow> rows = {MakeRow(a, 5), MakeRow(b, 9), MakeRow(c, 2)};
  rows[2].history = &history;
  const auto batched = SampleTokens(logits, rows, 3);
  for (int i = 0; i < 3; ++i) {
    const auto alone = SampleTokens(logits.narrow(0, i, 1), {rows[i]}, 3);
    EXPECT_EQ(alone[0].id, batched[i].id) << "row " << i;
    EXPECT_FLOAT_EQ(alone[0].logprob, batched[i].logprob);
    ASSERT_EQ(alone[0].alternatives.size(), 3u);
    EXPECT_EQ(alone[0].alternatives[0].id, batched[i].alternatives[0].id);
  }
}

TEST(SamplerTest, TopKKeepsTheKMostProbable) {
  const at::Tensor logits = Row({5, 4, 3, 2, 1, 0});
  SamplingParams p;
  p.top_k = 3;
  EXPECT_EQ(DrawnIds(logits, p, 300), (std::set<int64_t>{0, 1, 2}));
}

TEST(SamplerTest, TopPKeepsTheSmallestPrefixReachingP) {
  // Probabilities 0.5, 0.3, 0.15, 0.05: top_p = 0.75 keeps {0, 1}
  // (0.5 < 0.75, then 0.8 crosses it with token 1 included).
  const at::Tensor logits =
      Row({std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)});
  SamplingParams p;
  p.top_p = 0.75;
  EXPECT_EQ(DrawnIds(logits, p, 300), (std::set<int64_t>{0, 1}));
  p.top_p = 0.85;
  EXPECT_EQ(DrawnIds(logits, p, 300), (std::set<int64_t>{0, 1, 2}));
}

TEST(SamplerTest, MinPKeepsTokensAboveAFractionOfTheBest) {
  // 0.5, 0.3, 0.15, 0.05 with min_p = 0.5: threshold 0.25 keeps {0, 1}.
  const at::Tensor logits =
      Row({std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)});
  SamplingParams p;
  p.min_p = 0.5;
  EXPECT_EQ(DrawnIds(logits, p, 300), (std::set<int64_t>{0, 1}));
}

TEST(SamplerTest, SamplingFollowsTheDistribution) {
  const at::Tensor logits = Row({std::log(0.7f), std::log(0.3f)});
  SamplingParams p;
  p.seed = 5;
  int zeros = 0;
  for (int pos = 0; pos < 2000; ++pos) {
    zeros += SampleTokens(logits, {MakeRow(p, pos)})[0].id == 0;
  }
  EXPECT_NEAR(zeros / 2000.0, 0.7, 0.05);
}

TEST(SamplerTest, RepetitionPenaltyDemotesSeenTokens) {
  // Token 0 leads by a little; penalizing it hands greedy to token 1.
  const at::Tensor logits = Row({2.0f, 1.8f, 0.5f, -1.0f});
  SamplingParams p;
  p.temperature = 0.0;
  const std::vector<int64_t> history = {0, 0, 3};
  SampleRow row = MakeRow(p);
  row.history = &history;
  EXPECT_EQ(SampleTokens(logits, {row})[0].id, 0);  // penalty 1: no effect
  row.params.repetition_penalty = 1.5;              // 2.0 / 1.5 < 1.8
  EXPECT_EQ(SampleTokens(logits, {row})[0].id, 1);
  // Negative logits get more negative (multiplied), never promoted.
  const at::Tensor negative = Row({-1.0f, -1.2f});
  const std::vector<int64_t> seen_second = {1};
  row.history = &seen_second;
  EXPECT_EQ(SampleTokens(negative, {row})[0].id, 0);
}

TEST(SamplerTest, LogprobsAreTheRawLogSoftmax) {
  at::manual_seed(4);
  const at::Tensor logits = at::randn({2, 30}) * 3;
  const at::Tensor expected = at::log_softmax(logits, -1);
  SamplingParams p;
  p.seed = 11;
  p.temperature = 0.7;
  p.top_k = 10;
  const auto out = SampleTokens(logits, {MakeRow(p, 1), MakeRow(p, 2)}, 5);
  for (int b = 0; b < 2; ++b) {
    EXPECT_NEAR(out[b].logprob, expected[b][out[b].id].item<float>(), 1e-5);
    ASSERT_EQ(out[b].alternatives.size(), 5u);
    const auto top = at::topk(expected[b], 5);
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(out[b].alternatives[i].id,
                std::get<1>(top)[i].item<int64_t>());
      EXPECT_NEAR(out[b].alternatives[i].logprob,
                  std::get<0>(top)[i].item<float>(), 1e-5);
    }
  }
}

TEST(SamplerTest, CounterUniformIsInUnitIntervalAndSpread) {
  double sum = 0.0;
  for (int i = 0; i < 1000; ++i) {
    const double u = CounterUniform(123, i);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 1000.0, 0.5, 0.05);
  EXPECT_EQ(CounterUniform(1, 2), CounterUniform(1, 2));
  EXPECT_NE(CounterUniform(1, 2), CounterUniform(2, 1));
}

}  // namespace
}  // namespace tinylm
