// The HTTP face's translations without a server: gRPC codes to HTTP
// statuses and Connect names, Connect envelopes, and OpenAI completion
// requests and responses. (tests/http_api_test.py runs them end to end.)
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/http/connect_protocol.h"
#include "server/http/openai_completions.h"
#include "server/http/status_mapping.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

TEST(StatusMappingTest, CodesTheIssueNames) {
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::OK), 200);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::INVALID_ARGUMENT), 400);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::UNAUTHENTICATED), 401);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::NOT_FOUND), 404);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::RESOURCE_EXHAUSTED), 429);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::CANCELLED), 499);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::INTERNAL), 500);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::UNIMPLEMENTED), 501);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::UNAVAILABLE), 503);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::DEADLINE_EXCEEDED), 504);
  EXPECT_EQ(ConnectCodeName(grpc::StatusCode::CANCELLED), "canceled");
  EXPECT_EQ(ConnectCodeName(grpc::StatusCode::RESOURCE_EXHAUSTED),
            "resource_exhausted");
}

TEST(ConnectProtocolTest, EnvelopesRoundTrip) {
  const std::string payload = R"({"model":"base"})";
  const std::string frame = Envelope(0, payload);
  ASSERT_EQ(frame.size(), payload.size() + 5);
  EXPECT_EQ(frame.substr(0, 5), std::string("\0\0\0\0\x10", 5));
  EXPECT_EQ(*SingleEnvelopePayload(frame), payload);
  EXPECT_THAT(SingleEnvelopePayload(frame + "x").status().message(),
              HasSubstr("exactly one message"));
  EXPECT_EQ(SingleEnvelopePayload("{}").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SingleEnvelopePayload(Envelope(kEnvelopeCompressed, payload))
                .status()
                .code(),
            absl::StatusCode::kUnimplemented);
}

TEST(ConnectProtocolTest, ErrorsAndEndOfStream) {
  const grpc::Status missing(grpc::StatusCode::NOT_FOUND, "no model 'x'");
  EXPECT_EQ(json::parse(ConnectErrorJson(missing)),
            json({{"code", "not_found"}, {"message", "no model 'x'"}}));
  EXPECT_EQ(EndOfStreamJson(grpc::Status::OK), "{}");
  EXPECT_EQ(json::parse(EndOfStreamJson(missing))["error"]["code"],
            "not_found");
}

TEST(OpenAiCompletionsTest, RequestDefaultsAndForms) {
  std::string param;
  absl::StatusOr<CompletionRequest> r =
      ParseCompletionRequest(R"({"model":"base","prompt":"猫は"})", &param);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->generate.model(), "base");
  EXPECT_EQ(r->generate.text(), "猫は");
  EXPECT_EQ(r->generate.max_new_tokens(), 16u);
  EXPECT_FALSE(r->generate.sampling().has_temperature());
  EXPECT_EQ(r->prompt_chars, 2);
  EXPECT_EQ(r->logprobs, -1);

  r = ParseCompletionRequest(
      R"({"model":"base","prompt":[[5,6,7]],"max_tokens":3,"temperature":0,
          "stop":["。","\n"],"seed":9,"logprobs":2,"stream":true,
          "stream_options":{"include_usage":true},"n":1,"user":"me"})",
      &param);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->generate.token_ids().ids(), ::testing::ElementsAre(5, 6, 7));
  EXPECT_EQ(r->generate.max_new_tokens(), 3u);
  EXPECT_EQ(r->generate.sampling().temperature(), 0.0f);
  EXPECT_EQ(r->generate.sampling().seed(), 9u);
  EXPECT_EQ(r->generate.stop_size(), 2);
  EXPECT_EQ(r->generate.top_n(), 2u);
  EXPECT_TRUE(r->stream && r->include_usage);
}

TEST(OpenAiCompletionsTest, RefusalsNameTheParameter) {
  const struct {
    const char* body;
    const char* param;
  } cases[] = {
      {R"({"prompt":"a"})", "model"},
      {R"({"model":"base"})", "prompt"},
      {R"({"model":"base","prompt":["a","b"]})", "prompt"},
      {R"({"model":"base","prompt":"a","n":2})", "n"},
      {R"({"model":"base","prompt":"a","temperature":3})", "temperature"},
      {R"({"model":"base","prompt":"a","logprobs":9})", "logprobs"},
      {R"({"model":"base","prompt":"a","max_tokens":0})", "max_tokens"},
      {R"({"model":"base","prompt":"a","frequency_penalty":1})",
       "frequency_penalty"},
      {R"({"model":"base","prompt":"a","stream_options":{}})",
       "stream_options"},
      {R"({"model":"base","prompt":"a","tempreature":1})", "tempreature"},
  };
  for (const auto& c : cases) {
    std::string param;
    absl::StatusOr<CompletionRequest> r = ParseCompletionRequest(c.body, &param);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_EQ(param, c.param) << c.body;
  }
  std::string param;
  EXPECT_THAT(ParseCompletionRequest("[1", &param).status().message(),
              HasSubstr("not a JSON object"));
}

TEST(OpenAiCompletionsTest, ResponseFromTheTokensAndSummary) {
  std::string param;
  const CompletionRequest request = *ParseCompletionRequest(
      R"({"model":"base","prompt":"猫","logprobs":1})", &param);
  CompletionBuilder builder(request, "cmpl-1", 7);
  v1::GeneratedToken a;
  a.set_text("は");
  a.set_raw("は");
  a.set_logprob(-0.5);
  v1::TokenLogprob* alt = a.add_alternatives();
  alt->set_piece("は");
  alt->set_logprob(-0.5);
  v1::GeneratedToken b;  // the first byte of a character: no text yet
  b.set_raw("\xe3");
  b.set_logprob(-2);
  builder.Add(a);
  builder.Add(b);
  v1::GenerateSummary summary;
  summary.set_finish_reason(v1::FINISH_REASON_LENGTH);
  summary.set_prompt_tokens(1);
  summary.set_generated_tokens(2);
  const json out = builder.Completion(summary);
  EXPECT_EQ(out["id"], "cmpl-1");
  EXPECT_EQ(out["object"], "text_completion");
  const json& choice = out["choices"][0];
  EXPECT_EQ(choice["text"], "は");
  EXPECT_EQ(choice["finish_reason"], "length");
  EXPECT_EQ(choice["logprobs"]["tokens"], json({"は", "bytes:\\xe3"}));
  EXPECT_EQ(choice["logprobs"]["text_offset"], json({1, 2}));
  EXPECT_EQ(choice["logprobs"]["top_logprobs"][0], json({{"は", -0.5}}));
  EXPECT_EQ(out["usage"]["total_tokens"], 3);
}

}  // namespace
}  // namespace tinylm
