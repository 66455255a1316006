// Engine results -> API messages (server/rpc/convert.h,
// convert_inspection.h).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "server/rpc/convert.h"
#include "server/rpc/convert_inspection.h"
#include "tests/scratch_dir.h"
#include "tests/test_checkpoints.h"

namespace tinylm {
namespace {

class ConvertTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const absl::StatusOr<std::string> dir =
        TestCheckpointsDir(ScratchDir() + "/checkpoints");
    ASSERT_TRUE(dir.ok()) << dir.status();
    auto loaded = Tokenizer::Load(*dir + "/base/tokenizer.model");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    tokenizer_ = loaded->release();
  }
  static void TearDownTestSuite() { delete tokenizer_; }
  static const Tokenizer& tokenizer() { return *tokenizer_; }

 private:
  static Tokenizer* tokenizer_;
};

Tokenizer* ConvertTest::tokenizer_ = nullptr;

TEST_F(ConvertTest, SummaryCountsGeneratedTokensWithoutEndOfSequence) {
  Summary summary;
  summary.prompt_tokens = 4;
  summary.generated = {17, 23, 2};  // the last is end-of-sequence
  summary.reason = FinishReason::kEos;
  summary.seed = 1ull << 63;
  v1::GenerateSummary out;
  FillSummary(summary, tokenizer(), &out);
  EXPECT_EQ(out.finish_reason(), v1::FINISH_REASON_EOS);
  EXPECT_EQ(out.prompt_tokens(), 4u);
  EXPECT_EQ(out.generated_tokens(), 2u);
  EXPECT_EQ(out.seed(), 1ull << 63);
  EXPECT_FALSE(out.has_effect());

  summary.reason = FinishReason::kLength;  // the same ids, all counted
  FillSummary(summary, tokenizer(), &out);
  EXPECT_EQ(out.generated_tokens(), 3u);
}

TEST_F(ConvertTest, MapRowsAreCutFromTheRowsTheEngineSent) {
  AttentionMatrix m;
  m.layer = 3;
  m.head = 1;
  m.size = 4;       // 4 keys
  m.row_begin = 1;  // rows 1..2 were sent
  m.rows = 2;
  m.bytes = std::string(2 * 4 * 4, '\0');
  for (size_t i = 0; i < m.bytes.size(); ++i) m.bytes[i] = char(i);
  v1::AttentionMap out;
  FillMapRows(m, /*half=*/false, /*row_begin=*/2, /*rows=*/1, &out);
  EXPECT_EQ(out.layer(), 3u);
  EXPECT_EQ(out.head(), 1u);
  EXPECT_EQ(out.row_begin(), 2u);
  ASSERT_EQ(out.shape_size(), 2);
  EXPECT_EQ(out.shape(0), 1u);
  EXPECT_EQ(out.shape(1), 4u);
  EXPECT_EQ(out.data(), m.bytes.substr(16, 16));  // the second row sent
}

TEST_F(ConvertTest, ScoresLeaveTheFirstTokenUnscored) {
  Summary summary;
  summary.analysis.emplace();
  TokenScores scores;
  scores.logprobs = {-1.5f, -0.25f};
  scores.mean_loss = 0.875;
  summary.analysis->scores = scores;
  v1::ModelScore out;
  FillModelScore("m", tokenizer(), {5, 6, 7}, summary, &out);
  EXPECT_EQ(out.model(), "m");
  ASSERT_EQ(out.tokens_size(), 3);
  EXPECT_FALSE(out.tokens(0).has_logprob());
  EXPECT_FLOAT_EQ(out.tokens(1).logprob(), -1.5f);
  EXPECT_FLOAT_EQ(out.tokens(2).logprob(), -0.25f);
  EXPECT_FALSE(out.tokens(2).has_clean_logprob());
  EXPECT_DOUBLE_EQ(out.mean_loss(), 0.875);
  EXPECT_NEAR(out.perplexity(), 2.398875, 1e-5);
  EXPECT_FALSE(out.has_effect());
}

}  // namespace
}  // namespace tinylm
