// Compare's per-layer attention entropy as a table: layers down, models
// across, the mean last.
#include "client/text/entropy_table.h"

#include "gtest/gtest.h"

namespace tinylm {
namespace {

v1::ModelComparison Model(const std::string& name,
                          const std::vector<float>& entropy) {
  v1::ModelComparison c;
  c.set_model(name);
  for (float e : entropy) c.add_attention_entropy(e);
  return c;
}

TEST(EntropyTableTest, ALayerPerRowAModelPerColumnAndTheMean) {
  v1::CompareResponse response;
  *response.add_results() = Model("base", {0.0f, 0.693f, 1.5f});
  *response.add_results() = Model("score_fcn", {0.25f, 0.5f});
  const std::optional<TextTable> table = EntropyTable(response);
  ASSERT_TRUE(table.has_value());
  EXPECT_EQ(table->Render(80),
            "layer | base | score_fcn\n"
            "------+------+----------\n"
            "0     | 0.00 | 0.25\n"
            "1     | 0.69 | 0.50\n"
            "2     | 1.50\n"
            "mean  | 0.73 | 0.38\n");
}

TEST(EntropyTableTest, NoTableWithoutEntropies) {
  v1::CompareResponse response;
  EXPECT_FALSE(EntropyTable(response).has_value());
  *response.add_results() = Model("base", {});
  EXPECT_FALSE(EntropyTable(response).has_value());
}

}  // namespace
}  // namespace tinylm
