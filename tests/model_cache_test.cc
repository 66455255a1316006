// KV-cache decoding equals the full forward, for every variant: one
// sequence (prefill, then one token at a time), a batch of sequences of
// different lengths in arbitrary slots, and a prefill batched together
// with another sequence's decoding step (continuous batching). Logits and
// attention maps are both compared.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include "models/config.h"
#include "models/kv_cache.h"
#include "models/model.h"
#include "tests/model_test_util.h"

namespace tinylm {
namespace {

using testutil::MakeRandomModel;
using testutil::MaxAbsDiff;
using testutil::RandomTokens;
using testutil::TinyConfig;

constexpr double kTolerance = 1e-5;

// Noise instead of zeros, so that reading an entry that was never written
// (or should be masked) changes the result.
void FillWithNoise(KvCache& cache, int64_t n_layer) {
  for (int64_t l = 0; l < n_layer; ++l) {
    cache.keys(l).normal_(0.0, 3.0);
    cache.values(l).normal_(0.0, 3.0);
  }
}

ForwardOutput Full(Transformer& model, const at::Tensor& tokens) {
  ForwardInput input;
  input.tokens = tokens;
  input.return_attention = true;
  return model->Forward(input);
}

ForwardOutput Cached(Transformer& model, KvCache& cache,
                     const at::Tensor& tokens, const at::Tensor& positions,
                     const std::vector<int64_t>& slots, int64_t kv_length) {
  ForwardInput input;
  input.tokens = tokens;
  input.positions = positions;
  input.cache = &cache;
  input.slots = slots;
  input.kv_length = kv_length;
  input.return_attention = true;
  return model->Forward(input);
}

// Query t of cached maps `got` [H, L] (row b, query t already selected)
// equals query `position` of the full maps `want` [H, T, T]: the same
// weights on keys 0..position and exactly zero on later keys.
void ExpectSameRow(const at::Tensor& got, const at::Tensor& want,
                   int64_t position) {
  EXPECT_LE(MaxAbsDiff(got.narrow(-1, 0, position + 1),
                       want.select(1, position).narrow(-1, 0, position + 1)),
            kTolerance)
      << "position " << position;
  const int64_t rest = got.size(-1) - position - 1;
  EXPECT_EQ(got.narrow(-1, position + 1, rest).abs().sum().item<double>(),
            0.0)
      << "position " << position;
}

class ModelCacheTest : public ::testing::TestWithParam<std::string> {
 protected:
  ModelCacheTest() : config_(TinyConfig(GetParam())) {}

  ModelConfig config_;
  torch::NoGradGuard no_grad_;
};

TEST_P(ModelCacheTest, PrefillThenDecodeEqualsFullForward) {
  Transformer model = MakeRandomModel(config_, 10);
  const int64_t T = 10, prefix = 4, max_len = 16;
  const at::Tensor tokens = RandomTokens(1, T, config_.vocab_size);
  const ForwardOutput full = Full(model, tokens);

  // Exact kv_length, and the largest one (more masked keys to ignore).
  for (bool read_all : {false, true}) {
    SCOPED_TRACE(read_all ? "kv_length = max_len" : "kv_length = position+1");
    KvCache cache(config_, 3, max_len, at::kCPU, at::kFloat);
    FillWithNoise(cache, config_.n_layer);
    const ForwardOutput prefill =
        Cached(model, cache, tokens.narrow(1, 0, prefix),
               at::arange(prefix, at::kLong).unsqueeze(0), {1},
               read_all ? max_len : prefix);
    EXPECT_LE(MaxAbsDiff(prefill.logits, full.logits.narrow(1, 0, prefix)),
              kTolerance);
    for (int64_t l = 0; l < config_.n_layer; ++l) {
      for (int64_t t = 0; t < prefix; ++t) {
        ExpectSameRow(prefill.attention[l][0].select(1, t),
                      full.attention[l][0], t);
      }
    }
    for (int64_t p = prefix; p < T; ++p) {
      const ForwardOutput step =
          Cached(model, cache, tokens.narrow(1, p, 1),
                 at::full({1, 1}, p, at::kLong), {1},
                 read_all ? max_len : p + 1);
      EXPECT_LE(MaxAbsDiff(step.logits, full.logits.narrow(1, p, 1)),
                kTolerance)
          << "position " << p;
      for (int64_t l = 0; l < config_.n_layer; ++l) {
        EXPECT_EQ(step.attention[l].size(3), read_all ? max_len : p + 1);
        ExpectSameRow(step.attention[l][0].select(1, 0),
                      full.attention[l][0], p);
      }
    }
  }
}

TEST_P(ModelCacheTest, BatchOfDifferentLengthsEqualsEachAlone) {
  Transformer model = MakeRandomModel(config_, 11);
  const std::vector<int64_t> lengths = {5, 8, 3};  // prompt lengths
  const int64_t B = 3, steps = 4, longest = 8, max_len = 16;
  std::vector<at::Tensor> seqs;  // [1, length + steps] each
  std::vector<ForwardOutput> full;
  for (int64_t b = 0; b < B; ++b) {
    seqs.push_back(RandomTokens(1, lengths[b] + steps, config_.vocab_size));
    full.push_back(Full(model, seqs[b]));
  }
  // Unordered, non-consecutive slots; then consecutive ones (the cache
  // reads a contiguous range of rows in that case).
  for (const std::vector<int64_t>& slots :
       {std::vector<int64_t>{3, 0, 4}, std::vector<int64_t>{1, 2, 3}}) {
    SCOPED_TRACE("slots " + std::to_string(slots[0]) + "," +
                 std::to_string(slots[1]) + "," + std::to_string(slots[2]));
    KvCache cache(config_, 5, max_len, at::kCPU, at::kFloat);
    FillWithNoise(cache, config_.n_layer);

    // Right-padded prefill: pad tokens are random, at positions after the
    // prompt; their cache entries are overwritten by later steps.
    at::Tensor tokens = RandomTokens(B, longest, config_.vocab_size);
    for (int64_t b = 0; b < B; ++b) {
      tokens[b].narrow(0, 0, lengths[b]).copy_(
          seqs[b][0].narrow(0, 0, lengths[b]));
    }
    const at::Tensor positions =
        at::arange(longest, at::kLong).unsqueeze(0).repeat({B, 1});
    const ForwardOutput prefill =
        Cached(model, cache, tokens, positions, slots, longest);
    for (int64_t b = 0; b < B; ++b) {
      SCOPED_TRACE("row " + std::to_string(b));
      EXPECT_LE(MaxAbsDiff(prefill.logits[b].narrow(0, 0, lengths[b]),
                           full[b].logits[0].narrow(0, 0, lengths[b])),
                kTolerance);
      for (int64_t l = 0; l < config_.n_layer; ++l) {
        for (int64_t t = 0; t < lengths[b]; ++t) {
          ExpectSameRow(prefill.attention[l][b].select(1, t),
                        full[b].attention[l][0], t);
        }
      }
    }

    // Each row decodes its own continuation at its own position.
    for (int64_t k = 0; k < steps; ++k) {
      at::Tensor step_tokens = at::zeros({B, 1}, at::kLong);
      at::Tensor step_positions = at::zeros({B, 1}, at::kLong);
      int64_t kv_length = 0;
      for (int64_t b = 0; b < B; ++b) {
        const int64_t p = lengths[b] + k;
        step_tokens[b][0].copy_(seqs[b][0][p]);
        step_positions[b][0].fill_(p);
        kv_length = std::max(kv_length, p + 1);
      }
      const ForwardOutput step = Cached(model, cache, step_tokens,
                                        step_positions, slots, kv_length);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t p = lengths[b] + k;
        SCOPED_TRACE("row " + std::to_string(b));
        EXPECT_LE(MaxAbsDiff(step.logits[b][0], full[b].logits[0][p]),
                  kTolerance)
            << "position " << p;
        for (int64_t l = 0; l < config_.n_layer; ++l) {
          ExpectSameRow(step.attention[l][b].select(1, 0),
                        full[b].attention[l][0], p);
        }
      }
    }
  }
}

TEST_P(ModelCacheTest, PrefillBatchedWithAnotherSequencesDecodeStep) {
  // Sequence A (slot 2) is mid-generation when sequence B (slot 0)
  // arrives; one call carries A's next token (padded to B's length) and
  // B's whole prompt, then both decode together.
  Transformer model = MakeRandomModel(config_, 12);
  const at::Tensor a = RandomTokens(1, 9, config_.vocab_size);
  const at::Tensor b = RandomTokens(1, 6, config_.vocab_size);
  const ForwardOutput full_a = Full(model, a), full_b = Full(model, b);
  KvCache cache(config_, 3, 12, at::kCPU, at::kFloat);
  FillWithNoise(cache, config_.n_layer);

  const ForwardOutput first =
      Cached(model, cache, a.narrow(1, 0, 6),
             at::arange(6, at::kLong).unsqueeze(0), {2}, 6);
  EXPECT_LE(MaxAbsDiff(first.logits, full_a.logits.narrow(1, 0, 6)),
            kTolerance);

  at::Tensor tokens = RandomTokens(2, 4, config_.vocab_size);
  tokens[0][0].copy_(a[0][6]);
  tokens[1].copy_(b[0].narrow(0, 0, 4));
  const at::Tensor positions =
      at::stack({at::arange(6, 10, at::kLong), at::arange(4, at::kLong)});
  const ForwardOutput mixed =
      Cached(model, cache, tokens, positions, {2, 0}, 10);
  EXPECT_LE(MaxAbsDiff(mixed.logits[0][0], full_a.logits[0][6]), kTolerance);
  EXPECT_LE(MaxAbsDiff(mixed.logits[1], full_b.logits[0].narrow(0, 0, 4)),
            kTolerance);
  for (int64_t l = 0; l < config_.n_layer; ++l) {
    ExpectSameRow(mixed.attention[l][0].select(1, 0), full_a.attention[l][0],
                  6);
    for (int64_t t = 0; t < 4; ++t) {
      ExpectSameRow(mixed.attention[l][1].select(1, t),
                    full_b.attention[l][0], t);
    }
  }

  for (int64_t k = 0; k < 2; ++k) {
    at::Tensor step_tokens = at::stack({a[0].narrow(0, 7 + k, 1),
                                        b[0].narrow(0, 4 + k, 1)});
    at::Tensor step_positions = at::tensor({7 + k, 4 + k}, at::kLong)
                                    .view({2, 1});
    const ForwardOutput step =
        Cached(model, cache, step_tokens, step_positions, {2, 0}, 8 + k);
    EXPECT_LE(MaxAbsDiff(step.logits[0][0], full_a.logits[0][7 + k]),
              kTolerance);
    EXPECT_LE(MaxAbsDiff(step.logits[1][0], full_b.logits[0][4 + k]),
              kTolerance);
  }
}

TEST_P(ModelCacheTest, BatchRowsAreIndependentWithoutACache) {
  Transformer model = MakeRandomModel(config_, 13);
  const at::Tensor tokens = RandomTokens(3, 7, config_.vocab_size);
  const at::Tensor batched = model->Forward(ForwardInput(tokens)).logits;
  for (int64_t b = 0; b < 3; ++b) {
    EXPECT_LE(MaxAbsDiff(batched[b], model->Forward(ForwardInput(tokens.narrow(0, b, 1))).logits[0]),
              kTolerance);
  }
}

INSTANTIATE_TEST_SUITE_P(AllVariants, ModelCacheTest,
                         ::testing::ValuesIn(VariantNames()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           return i.param;
                         });

}  // namespace
}  // namespace tinylm
