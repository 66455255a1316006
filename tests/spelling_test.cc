// Edit distance and the "did you mean" suggestion for mistyped names.
#include "client/text/spelling.h"

#include "gtest/gtest.h"

namespace tinylm {
namespace {

TEST(SpellingTest, CountsEditsWithASwapAsOne) {
  EXPECT_EQ(EditDistance("", ""), 0);
  EXPECT_EQ(EditDistance("server", "server"), 0);
  EXPECT_EQ(EditDistance("servr", "server"), 1);    // a letter left out
  EXPECT_EQ(EditDistance("serverr", "server"), 1);  // one too many
  EXPECT_EQ(EditDistance("sarver", "server"), 1);   // one wrong
  EXPECT_EQ(EditDistance("modle", "model"), 1);     // two swapped
  EXPECT_EQ(EditDistance("top_p", "top_k"), 1);
  EXPECT_EQ(EditDistance("", "abc"), 3);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
}

TEST(SpellingTest, SuggestsOnlyNamesNearEnoughToBeATypo) {
  const std::vector<std::string> flags = {
      "max_new_tokens", "model", "models", "server", "temperature", "top_k"};
  EXPECT_EQ(ClosestName("servr", flags), "server");
  EXPECT_EQ(ClosestName("temprature", flags), "temperature");
  EXPECT_EQ(ClosestName("modle", flags), "model");
  EXPECT_EQ(ClosestName("max_new_token", flags), "max_new_tokens");
  EXPECT_EQ(ClosestName("model", flags), "model");  // the first of two near
  EXPECT_EQ(ClosestName("frobnicate", flags), std::nullopt);
  EXPECT_EQ(ClosestName("port", flags), std::nullopt);
  EXPECT_EQ(ClosestName("x", {}), std::nullopt);
}

}  // namespace
}  // namespace tinylm
