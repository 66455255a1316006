// Terminal tables and JSON of the inspection answers
// (client/text/inspection_text.h).
#include "client/text/inspection_text.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

TEST(InspectionTextTest, LensTableHasALayerPerRowAndTheKl) {
  v1::LensPosition p;
  p.set_position(3);
  for (int layer = -1; layer < 2; ++layer) {
    v1::LensLayer* l = p.add_layers();
    l->set_layer(layer);
    v1::TokenProbability* t = l->add_tokens();
    t->set_piece(layer < 1 ? "町" : "\n");
    t->set_probability(0.25f * (layer + 2));
    l->set_kl_from_final(1.0f - 0.5f * (layer + 1));
  }
  const std::string table = LensTable(p).Render(80);
  // "0.25 町" and "0.75 \n" are 7 columns wide (町 takes two).
  EXPECT_EQ(table,
            "layer | 1       | KL\n"
            "------+---------+-----\n"
            "emb   | 0.25 町 | 1.00\n"
            "0     | 0.50 町 | 0.50\n"
            "1     | 0.75 \\n | 0.00\n");
}

TEST(InspectionTextTest, StatsTableAndJsonCarryEveryHead) {
  google::protobuf::RepeatedPtrField<v1::HeadAttentionStats> stats;
  v1::HeadAttentionStats* s = stats.Add();
  s->set_layer(1);
  s->set_head(0);
  s->set_entropy(1.5f);
  s->set_first_token_mass(0.25f);
  s->set_mean_distance(3.0f);
  s->set_diagonal_mass(0.125f);
  v1::QueryTopKeys* q = s->add_top_keys();
  q->set_query(0);
  q->add_keys(0);
  q->add_weights(1.0f);
  EXPECT_THAT(StatsTable(stats).Render(80),
              HasSubstr("1     | 0    | 1.50    | 0.25        | 3.00     | "
                        "0.12"));
  const nlohmann::json json = StatsJson(stats);
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["mean_distance"], 3.0);
  EXPECT_EQ(json[0]["top_keys"][0]["keys"][0], 0);
}

TEST(InspectionTextTest, ScoreTableNamesTheBestModelPerToken) {
  v1::ScoreResponse r;
  for (const char* model : {"base", "score_fcn"}) {
    v1::ModelScore* m = r.add_results();
    m->set_model(model);
    m->add_tokens()->set_piece("吾");
    m->add_tokens()->set_piece("輩");
  }
  r.set_comparable(true);
  v1::TokenComparison* c = r.add_comparison();
  c->set_position(1);
  c->add_logprobs(-2.0f);
  c->add_logprobs(-0.5f);
  c->set_best(1);
  EXPECT_EQ(ScoreTable(r).Render(80),
            "# | token | base | score_fcn | best\n"
            "--+-------+------+-----------+----------\n"
            "1 | 輩    | 2.00 | 0.50      | score_fcn\n");
}

}  // namespace
}  // namespace tinylm
