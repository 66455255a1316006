// PlanGradBuckets (train/grad_buckets.h): contiguous ranges of the flat
// buffers, at least the bucket size, sent in the order backward completes
// them.
#include "train/grad_buckets.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

using ::testing::ElementsAre;

// A model as FlatParameters packs it: matrices in buffer 0, norms in
// buffer 1, each buffer in creation order.
//   0 wte 100 | 1 norm 4 | 2 q 20 | 3 k 20 | 4 norm 4 | 5 mlp 60 | 6 head 100
std::vector<GradSlice> Model() {
  return {{0, 0, 100}, {1, 0, 4},    {0, 100, 20}, {0, 120, 20},
          {1, 4, 4},   {0, 140, 60}, {0, 200, 100}};
}

TEST(GradBucketsTest, BucketsAreCutFromTheEndOfEachBuffer) {
  const std::vector<GradBucket> plan = PlanGradBuckets(Model(), 50);
  ASSERT_EQ(plan.size(), 4u);
  // The head's gradient comes first in backward, then the MLP's.
  EXPECT_THAT(plan[0].members, ElementsAre(6));
  EXPECT_EQ(plan[0].buffer, 0);
  EXPECT_EQ(plan[0].begin, 200);
  EXPECT_EQ(plan[0].end, 300);
  EXPECT_THAT(plan[1].members, ElementsAre(5));
  EXPECT_EQ(plan[1].begin, 140);
  EXPECT_EQ(plan[1].end, 200);
  // Both norms (8 floats, the rest of buffer 1) are done before wte, the
  // first parameter, which completes the last bucket: k and q (40 floats)
  // were too few to send alone.
  EXPECT_THAT(plan[2].members, ElementsAre(4, 1));
  EXPECT_EQ(plan[2].buffer, 1);
  EXPECT_EQ(plan[2].begin, 0);
  EXPECT_EQ(plan[2].end, 8);
  EXPECT_THAT(plan[3].members, ElementsAre(3, 2, 0));
  EXPECT_EQ(plan[3].buffer, 0);
  EXPECT_EQ(plan[3].begin, 0);
  EXPECT_EQ(plan[3].end, 140);
}

TEST(GradBucketsTest, SizeDecidesHowManyBuckets) {
  // One bucket per buffer.
  const std::vector<GradBucket> whole = PlanGradBuckets(Model(), 1 << 30);
  ASSERT_EQ(whole.size(), 2u);
  EXPECT_EQ(whole[0].buffer, 1);  // the norms: complete before wte's
  EXPECT_EQ(whole[1].end - whole[1].begin, 300);
  // One per parameter, in reverse creation order.
  std::vector<int> order;
  for (const GradBucket& b : PlanGradBuckets(Model(), 1)) {
    ASSERT_EQ(b.members.size(), 1u);
    order.push_back(b.members[0]);
  }
  EXPECT_THAT(order, ElementsAre(6, 5, 4, 3, 2, 1, 0));
}

}  // namespace
}  // namespace tinylm
