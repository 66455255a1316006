// The serving engine's static decode step on the fused CUDA kernels
// (server/engine/fused_decode_steps.h) against the same runner on
// LibTorch's ops, for the four shipped checkpoints in bfloat16 on the GPU,
// both captured as CUDA graphs: five prompts of different lengths in
// scattered slots, prefilled by each runner into its own cache, then 48
// decode steps fed the reference's greedy tokens. Also: a row decoded alone
// gives the bits it gives in the batch, in every bucket size; a prompt
// prefilled in one step gives the bits of feeding it token by token; and
// the tokens chosen on the device inside the graph are SampleTokens'
// choices.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "models/checkpoint.h"
#include "models/sampler.h"
#include "server/engine/step_runner.h"

namespace tinylm {
namespace {

constexpr int64_t kSlots = 8;
// |fused - ref| / |ref| over a step's logits: the bound the kernel tests
// hold the fused step to against the bf16 reference (decode_step_test).
constexpr double kRelativeTolerance = 5e-2;
// A greedy choice may differ only where the reference's best two logits
// are closer than this (a few bf16 steps at logit magnitudes of ~10).
constexpr float kNearTie = 0.25f;

class FusedDecodeStepsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto loaded =
        LoadCheckpoint(std::string(TINYLM_CHECKPOINTS_DIR) + "/" + GetParam(),
                       c10::Device(c10::kCUDA, 0), at::kBFloat16);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    model_ = loaded->model;
    model_->eval();
    // Prompts of 1 to 40 tokens (ids spread over the vocabulary).
    const int64_t vocab = model_->config().vocab_size;
    int64_t next = 7;
    for (int64_t length : {3, 17, 40, 1, 9}) {
      std::vector<int64_t> prompt;
      for (int64_t i = 0; i < length; ++i) {
        next = (next * 1103 + 12345) % vocab;
        prompt.push_back(next);
      }
      sequences_.push_back(prompt);
    }
  }

  std::vector<StepRow> Rows() const {
    const int64_t slots[] = {6, 0, 3, 7, 2};  // scattered, not in row order
    std::vector<StepRow> rows;
    for (size_t b = 0; b < sequences_.size(); ++b) {
      rows.push_back({&sequences_[b], slots[b]});
    }
    return rows;
  }

  // Holds `actual` to `expected` (logits of the same rows): the relative
  // error, and each row's greedy token unless the reference's best two
  // are a near-tie. Counts into the running figures of a CHECK line.
  void ExpectClose(const at::Tensor& actual, const at::Tensor& expected,
                   const std::string& label) {
    ASSERT_EQ(actual.sizes(), expected.sizes()) << label;
    const double relative =
        ((actual - expected).norm() / expected.norm()).item<double>();
    EXPECT_LE(relative, kRelativeTolerance) << label;
    worst_ = std::max(worst_, relative);
    for (int64_t b = 0; b < expected.size(0); ++b) {
      const auto top2 = expected[b].topk(2);
      const at::Tensor values = std::get<0>(top2);
      const float margin = (values[0] - values[1]).item<float>();
      const bool same = actual[b].argmax().item<int64_t>() ==
                        std::get<1>(top2)[0].item<int64_t>();
      ++compared_;
      if (!same) ++differ_;
      EXPECT_TRUE(same || margin < kNearTie)
          << label << " row " << b << ": the fused step's greedy "
          << "token differs with a margin of " << margin;
    }
  }

  c10::NoGradGuard no_grad_;
  Transformer model_{nullptr};
  std::vector<std::vector<int64_t>> sequences_;
  double worst_ = 0;
  int compared_ = 0, differ_ = 0;
};

TEST_P(FusedDecodeStepsTest, AgreesWithTheLibTorchStep) {
  auto fused = MakeStaticStepRunner(model_, kSlots, /*capture_graphs=*/true,
                                    /*fused_decode=*/true);
  auto reference = MakeStaticStepRunner(model_, kSlots, true, false);
  ASSERT_NE(fused->Describe().find("fused decode step"), std::string::npos)
      << fused->Describe();
  ASSERT_EQ(reference->Describe().find("fused decode step"), std::string::npos);
  at::Tensor expected = reference->Prefill(Rows());
  ExpectClose(fused->Prefill(Rows()), expected, "prefill");
  for (int step = 0; step < 48; ++step) {
    for (size_t b = 0; b < sequences_.size(); ++b) {
      sequences_[b].push_back(expected[b].argmax().item<int64_t>());
    }
    expected = reference->Decode(Rows());
    ExpectClose(fused->Decode(Rows()), expected,
                "step " + std::to_string(step));
  }
  std::printf(
      "CHECK %s: prefill and 48 steps, max |fused-ref|/|ref| %.3e <= %.1e; "
      "greedy %d/%d equal (the rest near-ties)\n",
      GetParam().c_str(), worst_, kRelativeTolerance, compared_ - differ_,
      compared_);
}

// Prefill runs a prompt's positions as rows of the decode kernels: the
// logits after a prompt, prefilled with the others in two steps (180
// positions; the longest prompt spans both), are the bits of feeding each
// prompt one token a step.
TEST_P(FusedDecodeStepsTest, PrefillGivesTheBitsOfDecodingTokenByToken) {
  const int64_t vocab = model_->config().vocab_size;
  sequences_[2].clear();
  for (int64_t i = 0; i < 150; ++i) {
    sequences_[2].push_back((i * 7919 + 3) % vocab);
  }
  auto together = MakeStaticStepRunner(model_, kSlots, true, true);
  const at::Tensor prefilled = together->Prefill(Rows());

  auto by_token = MakeStaticStepRunner(model_, kSlots, true, true);
  const std::vector<std::vector<int64_t>> prompts = sequences_;
  const std::vector<StepRow> all = Rows();
  std::vector<at::Tensor> last(prompts.size());
  for (size_t b = 0; b < prompts.size(); ++b) {
    sequences_[b].resize(1);
    last[b] = by_token->Prefill({all[b]})[0];  // a one-token prompt
  }
  for (size_t length = 2;; ++length) {
    std::vector<StepRow> rows;
    std::vector<size_t> which;
    for (size_t b = 0; b < prompts.size(); ++b) {
      if (prompts[b].size() < length) continue;
      sequences_[b].push_back(prompts[b][length - 1]);
      rows.push_back(all[b]);
      which.push_back(b);
    }
    if (rows.empty()) break;
    const at::Tensor logits = by_token->Decode(rows);
    for (size_t i = 0; i < which.size(); ++i) last[which[i]] = logits[i];
  }
  int equal = 0;
  for (size_t b = 0; b < prompts.size(); ++b) {
    const bool same = at::equal(prefilled[b], last[b]);
    EXPECT_TRUE(same) << "prompt " << b << " of " << prompts[b].size()
                      << " tokens";
    if (same) ++equal;
  }
  std::printf(
      "CHECK %s prefill: %d/%zu prompts give the bits of decoding "
      "them token by token\n",
      GetParam().c_str(), equal, prompts.size());
}

TEST_P(FusedDecodeStepsTest, ARowAloneGivesTheBitsItGivesInTheBatch) {
  auto steps = MakeStaticStepRunner(model_, kSlots, true, true);
  const at::Tensor first = steps->Prefill(Rows());
  for (size_t b = 0; b < sequences_.size(); ++b) {
    sequences_[b].push_back(first[b].argmax().item<int64_t>());
  }
  // The same position decoded again rewrites the same keys and values.
  const std::vector<StepRow> rows = Rows();
  const at::Tensor together = steps->Decode(rows);  // bucket of 8
  for (size_t b = 0; b < rows.size(); ++b) {
    EXPECT_TRUE(at::equal(steps->Decode({rows[b]})[0], together[b]))
        << "row " << b << " alone (bucket of 1)";
    const std::vector<StepRow> pair = {rows[b], rows[(b + 1) % rows.size()]};
    EXPECT_TRUE(at::equal(steps->Decode(pair)[0], together[b]))
        << "row " << b << " in a pair (bucket of 2)";
  }
}

TEST_P(FusedDecodeStepsTest, DeviceChoicesAreSampleTokensChoices) {
  auto steps = MakeStaticStepRunner(model_, kSlots, true, true);
  const at::Tensor first = steps->Prefill(Rows());
  for (size_t b = 0; b < sequences_.size(); ++b) {
    sequences_[b].push_back(first[b].argmax().item<int64_t>());
  }
  // Every row on the device: greedy; greedy with a repetition penalty;
  // greedy by top_k 1; greedy with alternatives; sampling with top-k,
  // top-p, min-p, a penalty and alternatives.
  std::vector<SampleRow> samples(sequences_.size());
  std::vector<int64_t> top_n = {0, 0, 0, 3, 2};
  for (size_t b = 0; b < samples.size(); ++b) {
    samples[b].params.temperature = 0.0;
    samples[b].history = &sequences_[b];
  }
  samples[1].params.repetition_penalty = 1.8;
  samples[2].params.temperature = 0.7;
  samples[2].params.top_k = 1;
  SamplingParams& sampled = samples[4].params;
  sampled.temperature = 0.9;
  sampled.top_k = 40;
  sampled.top_p = 0.95;
  sampled.min_p = 0.01;
  sampled.repetition_penalty = 1.2;
  sampled.seed = 11;
  double worst = 0;
  int compared = 0, equal = 0;
  for (int step = 0; step < 16; ++step) {
    for (size_t b = 0; b < samples.size(); ++b) {
      samples[b].position = sequences_[b].size();
    }
    // Decoding a position again rewrites the same keys: the same logits.
    const at::Tensor logits = steps->Decode(Rows());
    const std::vector<SampledToken> expected = SampleTokens(logits, samples, 3);
    const std::vector<SampledToken> actual =
        steps->DecodeAndSample(Rows(), samples, top_n);
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t b = 0; b < actual.size(); ++b) {
      EXPECT_EQ(actual[b].id, expected[b].id)
          << "step " << step << " row " << b;
      ++compared;
      if (actual[b].id == expected[b].id) ++equal;
      EXPECT_NEAR(actual[b].logprob, expected[b].logprob, 1e-4)
          << "step " << step << " row " << b;
      worst = std::max(
          worst, double(std::abs(actual[b].logprob - expected[b].logprob)));
      EXPECT_EQ(actual[b].alternatives.size(), size_t(top_n[b]));
      for (size_t i = 0; i < actual[b].alternatives.size(); ++i) {
        EXPECT_EQ(actual[b].alternatives[i].id, expected[b].alternatives[i].id);
      }
      sequences_[b].push_back(actual[b].id);
    }
  }
  std::printf(
      "CHECK %s device sampler: ids %d/%d as SampleTokens', "
      "max |logprob diff| %.2e <= 1e-4\n",
      GetParam().c_str(), equal, compared, worst);
}

// A prompt's first token drawn on the device after its prefill is
// SampleTokens' draw from the same prefill's logits, for every kind of
// row, also while a launched step is unfinished.
TEST_P(FusedDecodeStepsTest, PrefillAndSampleDrawsAsSampleTokens) {
  auto steps = MakeStaticStepRunner(model_, kSlots, true, true);
  std::vector<SampleRow> samples(sequences_.size());
  const std::vector<int64_t> top_n = {0, 2, 0, 5, 1};
  for (size_t b = 0; b < samples.size(); ++b) {
    samples[b].params.temperature = 0.0;
    samples[b].params.seed = 20 + b;
    samples[b].position = sequences_[b].size();
    samples[b].history = &sequences_[b];
  }
  samples[1].params.temperature = 0.8;
  samples[2].params.temperature = 1.0;
  samples[2].params.top_p = 0.9;
  samples[2].params.repetition_penalty = 1.3;
  samples[3].params.repetition_penalty = 1.5;
  samples[4].params.temperature = 1.2;
  samples[4].params.top_k = 30;
  samples[4].params.min_p = 0.02;
  // Prefilling again rewrites the same keys: the same logits.
  const at::Tensor logits = steps->Prefill(Rows());
  const std::vector<SampledToken> expected =
      SampleEachRow(logits, samples, top_n);
  for (bool launched : {false, true}) {
    if (launched) steps->Launch({{5, 3, 17, -1}});  // a free slot
    const std::vector<SampledToken> actual =
        steps->PrefillAndSample(Rows(), samples, top_n);
    if (launched) steps->Finish();
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t b = 0; b < actual.size(); ++b) {
      EXPECT_EQ(actual[b].id, expected[b].id) << "row " << b;
      EXPECT_NEAR(actual[b].logprob, expected[b].logprob, 1e-4) << "row " << b;
      ASSERT_EQ(actual[b].alternatives.size(), size_t(top_n[b]));
      for (size_t i = 0; i < actual[b].alternatives.size(); ++i) {
        EXPECT_EQ(actual[b].alternatives[i].id, expected[b].alternatives[i].id)
            << "row " << b << " alternative " << i;
      }
    }
  }
  std::printf(
      "CHECK %s prefill then device draw: ids and alternatives as "
      "SampleTokens'\n",
      GetParam().c_str());
}

// Pipelined steps (Launch, Finish) with each step's tokens fed from the
// previous step's device choices: the ids and alternatives of step-by-step
// decoding (greedy rows, seeded sampled rows, rows with a repetition
// penalty over the device's record of the tokens, rows with
// alternatives), also with a prefill of another prompt between two
// launches.
TEST_P(FusedDecodeStepsTest, LaunchedStepsFeedTheirChoicesOnTheDevice) {
  auto steps = MakeStaticStepRunner(model_, kSlots, true, true);
  ASSERT_TRUE(steps->launches_ahead());
  const std::vector<std::vector<int64_t>> prompts = sequences_;
  std::vector<SamplingParams> draws(prompts.size());
  for (SamplingParams& p : draws) p.temperature = 0.0;
  draws[1].temperature = 0.9;
  draws[1].top_p = 0.9;
  draws[1].seed = 7;
  draws[1].repetition_penalty = 1.3;
  draws[2].repetition_penalty = 1.6;
  draws[3].temperature = 1.0;
  draws[3].top_k = 20;
  draws[3].seed = 8;
  const std::vector<int64_t> top_n = {0, 0, 0, 2, 3};
  ASSERT_TRUE(steps->CanLaunch(draws[1], 0));
  ASSERT_TRUE(steps->CanLaunch(draws[2], 0));
  ASSERT_TRUE(steps->CanLaunch(draws[3], 2));
  constexpr int kSteps = 12;
  // Each row's alternative ids, step after step.
  using Alternatives = std::vector<std::vector<int64_t>>;
  auto add_alternatives = [](const SampledToken& token,
                             std::vector<int64_t>& to) {
    for (const TokenLogprob& a : token.alternatives) to.push_back(a.id);
  };

  const at::Tensor first = steps->Prefill(Rows());
  for (size_t b = 0; b < prompts.size(); ++b) {
    sequences_[b].push_back(first[b].argmax().item<int64_t>());
  }
  Alternatives expected_alternatives(prompts.size());
  for (int step = 0; step < kSteps; ++step) {
    std::vector<SampleRow> samples(prompts.size());
    for (size_t b = 0; b < prompts.size(); ++b) {
      samples[b].params = draws[b];
      samples[b].position = sequences_[b].size();
      samples[b].history = &sequences_[b];
    }
    const std::vector<SampledToken> chosen =
        steps->DecodeAndSample(Rows(), samples, top_n);
    for (size_t b = 0; b < prompts.size(); ++b) {
      sequences_[b].push_back(chosen[b].id);
      add_alternatives(chosen[b], expected_alternatives[b]);
    }
  }
  const std::vector<std::vector<int64_t>> expected = sequences_;

  // Again from the prompts, two steps in flight; the rows in reverse order
  // from the second step on, so that feed indices are not the identity.
  sequences_ = prompts;
  const at::Tensor again = steps->Prefill(Rows());
  const std::vector<StepRow> rows = Rows();
  const int64_t B = rows.size();
  std::vector<std::vector<int64_t>> pipelined = prompts;
  Alternatives alternatives(B);
  std::vector<LaunchRow> launch(B);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t token = again[b].argmax().item<int64_t>();
    pipelined[b].push_back(token);
    launch[b] = {rows[b].slot, int64_t(prompts[b].size()), token, -1, draws[b],
                 top_n[b]};
  }
  steps->Launch(launch);
  std::vector<int64_t> order(B);  // the launched step's row -> sequence
  for (int64_t b = 0; b < B; ++b) order[b] = b;
  const std::vector<int64_t> newcomer = {5, 9, 14, 2, 7, 7, 1};
  for (int step = 1; step < kSteps; ++step) {
    if (step == kSteps / 2) steps->Prefill({{&newcomer, 5}});  // a free slot
    std::vector<LaunchRow> next(B);
    std::vector<int64_t> next_order(B);
    for (int64_t r = 0; r < B; ++r) {
      const int64_t b = B - 1 - r;
      const int64_t previous_row =
          std::find(order.begin(), order.end(), b) - order.begin();
      next[r] = {rows[b].slot,
                 int64_t(prompts[b].size()) + step,
                 0,
                 previous_row,
                 draws[b],
                 top_n[b]};
      next_order[r] = b;
    }
    steps->Launch(next);
    const std::vector<SampledToken> done = steps->Finish();
    for (int64_t r = 0; r < B; ++r) {
      pipelined[order[r]].push_back(done[r].id);
      add_alternatives(done[r], alternatives[order[r]]);
    }
    order = next_order;
  }
  const std::vector<SampledToken> last = steps->Finish();
  for (int64_t r = 0; r < B; ++r) {
    pipelined[order[r]].push_back(last[r].id);
    add_alternatives(last[r], alternatives[order[r]]);
  }
  EXPECT_EQ(pipelined, expected);
  EXPECT_EQ(alternatives, expected_alternatives);
  const bool same =
      pipelined == expected && alternatives == expected_alternatives;
  std::printf(
      "CHECK %s pipelined steps (greedy, sampled, alternatives): %s\n",
      GetParam().c_str(),
      same ? "ids and alternatives equal step-by-step decoding" : "IDS DIFFER");
}

INSTANTIATE_TEST_SUITE_P(ShippedCheckpoints, FusedDecodeStepsTest,
                         ::testing::Values("base", "qkv_gelu", "separate_qkv",
                                           "score_fcn"));

}  // namespace
}  // namespace tinylm
