// The article's top-k lines and their JSON form.
#include "client/text/topk_format.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

TokenProbabilities ArticleTopK() {
  // The article's list after "…海の見える小さな".
  const std::pair<float, const char*> entries[] = {{0.33f, "町"},
                                                   {0.23f, "街"},
                                                   {0.19f, "お"},
                                                   {0.16f, "村"},
                                                   {0.10f, "温泉"}};
  TokenProbabilities tokens;
  int id = 100;
  for (const auto& [p, piece] : entries) {
    v1::TokenProbability* t = tokens.Add();
    t->set_id(id++);
    t->set_piece(piece);
    t->set_probability(p);
    t->set_logprob(std::log(p));
  }
  return tokens;
}

TEST(TopKFormatTest, PrintsTheArticlesForm) {
  EXPECT_EQ(FormatTopK(ArticleTopK()),
            "p:0.33, 町\n"
            "p:0.23, 街\n"
            "p:0.19, お\n"
            "p:0.16, 村\n"
            "p:0.10, 温泉\n");
}

TEST(TopKFormatTest, RoundsToTwoDecimalsAndKeepsOneLinePerToken) {
  v1::TokenProbability t;
  t.set_probability(0.996f);
  t.set_piece("\n");
  EXPECT_EQ(FormatTopKLine(t), "p:1.00, \\n");
  t.set_probability(0.004f);
  t.set_piece(" the");
  EXPECT_EQ(FormatTopKLine(t), "p:0.00,  the");
  EXPECT_EQ(FormatTopK(TokenProbabilities()), "");
}

TEST(TopKFormatTest, JsonKeepsIdsAndExactValues) {
  const nlohmann::json json = TopKJson(ArticleTopK());
  ASSERT_EQ(json.size(), 5u);
  EXPECT_EQ(json[0]["id"], 100);
  EXPECT_EQ(json[0]["piece"], "町");
  EXPECT_FLOAT_EQ(json[4]["probability"].get<float>(), 0.10f);
  EXPECT_FLOAT_EQ(json[4]["logprob"].get<float>(), std::log(0.10f));
}

}  // namespace
}  // namespace tinylm
