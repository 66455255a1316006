// The client's text and wire formats: the article's top-k lines, attention
// matrices (decoding, CSV, JSON), the health status names, exit codes.
#include <cmath>
#include <cstring>
#include <string>

#include "client/attention_data.h"
#include "client/exit_codes.h"
#include "client/health_check.h"
#include "client/topk_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

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

TEST(HealthCheckTest, NamesTheStatusAsTheProtoDoes) {
  using grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(ServingStatusName(HealthCheckResponse::SERVING), "SERVING");
  EXPECT_EQ(ServingStatusName(HealthCheckResponse::NOT_SERVING), "NOT_SERVING");
  // A number from a newer server that the proto does not name.
  EXPECT_EQ(ServingStatusName(static_cast<ServingStatus>(9)), "UNKNOWN");
}

TEST(ExitCodeTest, EachFailureHasItsCode) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("")), kExitInvalidArgument);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("")), kExitUnreachable);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("")), kExitUnknownModel);
  EXPECT_EQ(ExitCodeFor(absl::DeadlineExceededError("")), kExitTimeout);
  EXPECT_EQ(ExitCodeFor(absl::ResourceExhaustedError("")), kExitBusy);
  EXPECT_EQ(ExitCodeFor(absl::FailedPreconditionError("")), kExitNotServing);
  EXPECT_EQ(ExitCodeFor(absl::CancelledError("")), kExitInterrupted);
  EXPECT_EQ(ExitCodeFor(absl::UnauthenticatedError("")), kExitUnauthenticated);
  EXPECT_EQ(ExitCodeFor(absl::InternalError("")), kExitError);
  EXPECT_EQ(ExitCodeFor(absl::PermissionDeniedError("")), kExitError);
}

TEST(ExitCodeTest, RpcErrorsTellWhatToDo) {
  const absl::Status down =
      FromRpc(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connect failed"),
              "127.0.0.1:9", absl::Seconds(60));
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(down.message(), HasSubstr("cannot reach a tinylm server at "
                                        "127.0.0.1:9"));
  EXPECT_THAT(down.message(), HasSubstr("connect failed"));
  const absl::Status slow =
      FromRpc(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, ""), "h:1",
              absl::Seconds(2));
  EXPECT_THAT(slow.message(), HasSubstr("--timeout=2s"));
  const absl::Status model = FromRpc(
      grpc::Status(grpc::StatusCode::NOT_FOUND, "model \"x\" is not loaded"),
      "h:1", absl::Seconds(2));
  EXPECT_THAT(model.message(), HasSubstr("unknown model: model \"x\""));
  EXPECT_TRUE(FromRpc(grpc::Status::OK, "h:1", absl::Seconds(1)).ok());
}

}  // namespace
}  // namespace tinylm
