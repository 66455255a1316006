// Attention maps from the wire: decoding (float32, float16), shape checks,
// and the CSV and JSON exports.
#include "client/pictures/attention_data.h"

#include <cmath>
#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

v1::AttentionMapsResponse TwoTokenAnswer(bool half) {
  v1::AttentionMapsResponse r;
  r.add_token_ids(5);
  r.add_token_ids(6);
  r.add_tokens("彼女");
  r.add_tokens("a,\"b\"");
  r.set_prompt_tokens(2);
  v1::AttentionMap* m = r.add_maps();
  m->set_layer(3);
  m->set_head(1);
  m->add_shape(2);
  m->add_shape(2);
  if (half) {
    // 1.0, 0, 0.25, 0.75 as IEEE binary16.
    const uint16_t values[] = {0x3C00, 0x0000, 0x3400, 0x3A00};
    m->set_dtype(v1::TENSOR_DTYPE_FLOAT16);
    m->set_data(std::string(reinterpret_cast<const char*>(values), 8));
  } else {
    const float values[] = {1.0f, 0.0f, 0.25f, 0.75f};
    m->set_dtype(v1::TENSOR_DTYPE_FLOAT32);
    m->set_data(std::string(reinterpret_cast<const char*>(values), 16));
  }
  return r;
}

TEST(AttentionDataTest, DecodesFloat32AndFloat16Alike) {
  for (bool half : {false, true}) {
    absl::StatusOr<AttentionSet> set =
        DecodeAttention("base", TwoTokenAnswer(half));
    ASSERT_TRUE(set.ok()) << set.status();
    ASSERT_EQ(set->maps.size(), 1u);
    EXPECT_EQ(set->maps[0].layer, 3u);
    EXPECT_EQ(set->maps[0].head, 1u);
    EXPECT_THAT(set->maps[0].values,
                ::testing::ElementsAre(1.0f, 0.0f, 0.25f, 0.75f));
  }
  EXPECT_EQ(HalfToFloat(0xC000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));  // subnormal
  EXPECT_TRUE(std::isinf(HalfToFloat(0x7C00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7E00)));
}

TEST(AttentionDataTest, RejectsMapsThatDisagreeWithTheTokens) {
  v1::AttentionMapsResponse shape = TwoTokenAnswer(false);
  shape.mutable_maps(0)->set_shape(1, 3);
  EXPECT_THAT(DecodeAttention("base", shape).status().message(),
              HasSubstr("shape [2, 3]"));
  v1::AttentionMapsResponse bytes = TwoTokenAnswer(false);
  bytes.mutable_maps(0)->mutable_data()->pop_back();
  EXPECT_EQ(DecodeAttention("base", bytes).status().code(),
            absl::StatusCode::kDataLoss);
  v1::AttentionMapsResponse pieces = TwoTokenAnswer(false);
  pieces.add_tokens("extra");
  EXPECT_FALSE(DecodeAttention("base", pieces).ok());
}

TEST(AttentionDataTest, CsvQuotesPiecesAndJsonNestsRows) {
  absl::StatusOr<AttentionSet> set =
      DecodeAttention("base", TwoTokenAnswer(false));
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(AttentionCsv(*set, set->maps[0]),
            "query\\key,彼女,\"a,\"\"b\"\"\"\n"
            "彼女,1,0\n"
            "\"a,\"\"b\"\"\",0.25,0.75\n");
  const nlohmann::json json = AttentionJson(*set);
  EXPECT_EQ(json["model"], "base");
  EXPECT_EQ(json["tokens"].size(), 2u);
  EXPECT_EQ(json["maps"][0]["layer"], 3);
  EXPECT_EQ(json["maps"][0]["values"][1][1], 0.75);
}

TEST(AttentionDataTest, StreamJoinsTheRowBlocksOfAMap) {
  v1::AttentionMapsResponse whole = TwoTokenAnswer(false);
  std::vector<v1::AttentionMapsChunk> chunks(3);
  v1::AttentionMapsHeader* header = chunks[0].mutable_header();
  *header->mutable_token_ids() = whole.token_ids();
  *header->mutable_tokens() = whole.tokens();
  header->set_prompt_tokens(1);
  header->set_messages(2);
  for (int row = 0; row < 2; ++row) {  // one row per message
    v1::AttentionMap* m = chunks[row + 1].mutable_map();
    m->set_layer(3);
    m->set_head(1);
    m->add_shape(1);
    m->add_shape(2);
    m->set_row_begin(row);
    m->set_data(whole.maps(0).data().substr(row * 8, 8));
  }
  absl::StatusOr<AttentionSet> set = DecodeAttentionStream("base", chunks);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->maps.size(), 1u);
  EXPECT_EQ(set->maps[0].rows, 2u);
  EXPECT_EQ(set->prompt_tokens, 1u);
  EXPECT_THAT(set->maps[0].values,
              ::testing::ElementsAre(1.0f, 0.0f, 0.25f, 0.75f));
  // Only the second row: the CSV labels it with its own token.
  std::vector<v1::AttentionMapsChunk> last = {chunks[0], chunks[2]};
  last[0].mutable_header()->set_messages(1);
  set = DecodeAttentionStream("base", last);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT(AttentionCsv(*set, set->maps[0]),
              HasSubstr("\n\"a,\"\"b\"\"\",0.25,0.75\n"));
  chunks.pop_back();  // fewer messages than announced
  EXPECT_EQ(DecodeAttentionStream("base", chunks).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tinylm
