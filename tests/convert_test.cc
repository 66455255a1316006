// Engine results -> API messages (server/rpc/convert.h).
#include <gtest/gtest.h>

#include "server/rpc/convert.h"

namespace tinylm {
namespace {

TEST(ConvertTest, SummaryCountsGeneratedTokensWithoutEndOfSequence) {
  Summary summary;
  summary.prompt_tokens = 4;
  summary.generated = {17, 23, 2};  // the last is end-of-sequence
  summary.reason = FinishReason::kEos;
  summary.seed = 1ull << 63;
  v1::GenerateSummary out;
  FillSummary(summary, &out);
  EXPECT_EQ(out.finish_reason(), v1::FINISH_REASON_EOS);
  EXPECT_EQ(out.prompt_tokens(), 4u);
  EXPECT_EQ(out.generated_tokens(), 2u);
  EXPECT_EQ(out.seed(), 1ull << 63);

  summary.reason = FinishReason::kLength;  // the same ids, all counted
  FillSummary(summary, &out);
  EXPECT_EQ(out.generated_tokens(), 3u);
}

}  // namespace
}  // namespace tinylm
