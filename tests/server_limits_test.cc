// Limits, backpressure, default deadline, request ids and the request log,
// through in-process servers configured for each case.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tests/ops_test_util.h"

namespace tinylm {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Pair;

std::unique_ptr<TinyLmServer> Start(ServerOptions options) {
  auto server = StartOpsServer(std::move(options));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(server).value() : nullptr;
}

std::unique_ptr<v1::TinyLM::Stub> Stub(const TinyLmServer& server) {
  return v1::TinyLM::NewStub(
      grpc::CreateChannel(Address(server), grpc::InsecureChannelCredentials()));
}

// gRPC sets SO_REUSEPORT by default: a second server once started on a busy
// port and took half of its connections.
TEST(ListenTest, ASecondServerOnABusyPortIsRefused) {
  auto first = Start(ServerOptions());
  ASSERT_NE(first, nullptr);
  auto second = StartOpsServer(ServerOptions(), Address(*first));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("cannot listen on " + Address(*first)));
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("port is in use"));

  // On purpose, both can share it.
  ServerOptions sharing;
  sharing.reuse_port = true;
  auto shared = Start(sharing);
  ASSERT_NE(shared, nullptr);
  auto beside = StartOpsServer(sharing, Address(*shared));
  EXPECT_TRUE(beside.ok()) << beside.status();
}

// Refused before tokenizing, at the bound the tokenizer gives: a text of n
// bytes makes at least n / max_token_bytes tokens.
TEST(LimitsTest, TextThatCannotFitIsRefusedBeforeTokenizing) {
  ServerOptions options;
  options.limits.max_prompt_tokens = 4;
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  auto stub = Stub(*server);
  const int64_t per_token = server->registry()
                                .models()[0]
                                ->tokenizer->max_token_bytes();
  v1::GenerateRequest request = SmallGenerate();
  request.set_text(std::string(4 * per_token + 1, 'a'));
  grpc::ClientContext call;
  SetTestDeadline(call);
  const grpc::Status status = GenerateAll(*stub, call, request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            absl::StrCat("prompt.text: ", 4 * per_token + 1,
                         " bytes make at least 5 tokens (one token stands for "
                         "at most ", per_token, " bytes), more than the "
                         "server limit of 4 (--max_prompt_tokens)"));
  // At the bound the text is tokenized (and then counted exactly).
  request.set_text(std::string(4 * per_token, 'a'));
  grpc::ClientContext at_bound;
  SetTestDeadline(at_bound);
  EXPECT_THAT(GenerateAll(*stub, at_bound, request).error_message(),
              MatchesRegex("prompt.text: [0-9]+ tokens exceed the server "
                           "limit of 4 \\(--max_prompt_tokens\\)"));
}

// gRPC's own answer was a generic "Sent message larger than max".
TEST(LimitsTest, TokenizeResponseOverTheSendLimitNamesTheLimit) {
  ServerOptions options;
  options.limits.max_send_message_bytes = 2048;
  options.limits.max_attention_bytes = 1024;
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  auto stub = Stub(*server);
  v1::TokenizeRequest request;
  request.set_model(kOpsModel);
  for (int i = 0; i < 200; ++i) request.mutable_text()->append(kOpsPrompt);
  grpc::ClientContext call;
  SetTestDeadline(call);
  v1::TokenizeResponse response;
  const grpc::Status status = stub->Tokenize(&call, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              MatchesRegex("the Tokenize response of [0-9]+ tokens: [0-9]+ "
                           "bytes exceed the limit of 2048 bytes "
                           "\\(--max_send_message_bytes\\); tokenize "
                           "shorter text"));
}

TEST(LimitsTest, PromptTokensOverTheLimitAreRefused) {
  ServerOptions options;
  options.limits.max_prompt_tokens = 2;
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  auto stub = Stub(*server);

  grpc::ClientContext text_call;
  SetTestDeadline(text_call);
  grpc::Status status = GenerateAll(*stub, text_call, SmallGenerate());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Counted, or refused before tokenizing (TextThatCannotFit... below).
  EXPECT_THAT(status.error_message(),
              MatchesRegex("prompt.text: .*the server limit of 2 "
                           "\\(--max_prompt_tokens\\)"));

  v1::GenerateRequest ids = SmallGenerate();
  for (int id : {5, 6, 7}) ids.mutable_token_ids()->add_ids(id);
  grpc::ClientContext ids_call;
  SetTestDeadline(ids_call);
  status = GenerateAll(*stub, ids_call, ids);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("prompt.token_ids: 3 tokens"));

  ids.mutable_token_ids()->mutable_ids()->RemoveLast();
  grpc::ClientContext fits;
  SetTestDeadline(fits);
  status = GenerateAll(*stub, fits, ids);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// A server that admits no call at all makes every model call a refusal for
// load, deterministically.
TEST(LimitsTest, RefusalForLoadCarriesARetryHint) {
  ServerOptions options;
  options.limits.max_streams_per_model = 0;
  options.limits.retry_after = absl::Milliseconds(250);
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  auto stub = Stub(*server);

  grpc::ClientContext generate;
  SetTestDeadline(generate);
  const grpc::Status status = GenerateAll(*stub, generate, SmallGenerate());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("--max_streams_per_model)"));
  EXPECT_THAT(status.error_message(), HasSubstr("retry after 250 ms"));
  EXPECT_THAT(Trailers(generate), Contains(Pair("retry-after-ms", "250")));
  EXPECT_THAT(Trailers(generate),
              Contains(Pair("grpc-retry-pushback-ms", "250")));

  v1::TopKRequest topk;
  topk.set_model(kOpsModel);
  topk.set_text(kOpsPrompt);
  topk.set_k(2);
  grpc::ClientContext unary;
  SetTestDeadline(unary);
  v1::TopKResponse response;
  EXPECT_EQ(stub->TopK(&unary, topk, &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(Trailers(unary), Contains(Pair("retry-after-ms", "250")));

  // Calls that need no model step are not limited.
  grpc::ClientContext tokenize;
  SetTestDeadline(tokenize);
  v1::TokenizeRequest request;
  request.set_model(kOpsModel);
  request.set_text(kOpsPrompt);
  v1::TokenizeResponse tokens;
  EXPECT_TRUE(stub->Tokenize(&tokenize, request, &tokens).ok());
}

// A refusal that retrying cannot fix carries no retry hint.
TEST(LimitsTest, SizeLimitHasNoRetryHint) {
  ServerOptions options;
  options.limits.max_attention_bytes = 16;
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  v1::AttentionMapsRequest request;
  request.set_model(kOpsModel);
  request.set_text(kOpsPrompt);
  grpc::ClientContext context;
  SetTestDeadline(context);
  v1::AttentionMapsResponse response;
  EXPECT_EQ(
      Stub(*server)->AttentionMaps(&context, request, &response).error_code(),
      grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Trailers(context).count("retry-after-ms"), 0u);
  EXPECT_EQ(Trailers(context).count("grpc-retry-pushback-ms"), 0u);
}

TEST(LimitsTest, DefaultDeadlineAppliesOnlyWithoutAClientDeadline) {
  ServerOptions options;
  // Past before the request reaches the scheduler.
  options.limits.default_deadline = absl::Nanoseconds(1);
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  auto stub = Stub(*server);

  grpc::ClientContext none;
  const grpc::Status expired = GenerateAll(*stub, none, SmallGenerate());
  EXPECT_EQ(expired.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << expired.error_message();

  grpc::ClientContext own;
  SetTestDeadline(own);
  const grpc::Status status = GenerateAll(*stub, own, SmallGenerate());
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST(LimitsTest, ReceiveMessageSizeIsBounded) {
  ServerOptions options;
  options.limits.max_receive_message_bytes = 1024;
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  v1::TokenizeRequest request;
  request.set_model(kOpsModel);
  request.set_text(std::string(2000, 'a'));
  grpc::ClientContext context;
  SetTestDeadline(context);
  v1::TokenizeResponse response;
  EXPECT_EQ(Stub(*server)->Tokenize(&context, request, &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// ------------------------------------------------ request ids and the log

class RequestLogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    log_ = new std::ostringstream;
    ServerOptions options;
    options.log_format = LogFormat::kJson;
    options.log_stream = log_;
    server_ = Start(options).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete log_;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  // The logged line holding `request_id`, parsed (null when none). The
  // line is written before the call's status is sent.
  static nlohmann::json LineOf(const std::string& request_id) {
    std::istringstream lines(log_->str());
    for (std::string line; std::getline(lines, line);) {
      nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
      EXPECT_FALSE(parsed.is_discarded()) << line;
      if (parsed.value("request_id", "") == request_id) return parsed;
    }
    return nullptr;
  }

  static TinyLmServer* server_;
  static std::ostringstream* log_;
};

TinyLmServer* RequestLogTest::server_ = nullptr;
std::ostringstream* RequestLogTest::log_ = nullptr;

TEST_F(RequestLogTest, ClientRequestIdIsEchoedAndLogged) {
  auto stub = Stub(*server_);
  grpc::ClientContext context;
  SetTestDeadline(context);
  context.AddMetadata("x-request-id", "trace-42.a_b:c");
  ASSERT_TRUE(GenerateAll(*stub, context, SmallGenerate()).ok());
  EXPECT_THAT(InitialMetadata(context),
              Contains(Pair("x-request-id", "trace-42.a_b:c")));
  EXPECT_THAT(Trailers(context),
              Contains(Pair("x-request-id", "trace-42.a_b:c")));

  const nlohmann::json line = LineOf("trace-42.a_b:c");
  ASSERT_TRUE(line.is_object()) << log_->str();
  EXPECT_EQ(line["rpc"], "Generate");
  EXPECT_EQ(line["model"], kOpsModel);
  EXPECT_EQ(line["code"], "OK");
  EXPECT_GT(line["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(line["generated_tokens"].get<int>(), 3);
  EXPECT_GE(line["ttft_ms"].get<double>(), 0.0);
  EXPECT_GE(line["total_ms"].get<double>(), line["ttft_ms"].get<double>());
  EXPECT_FALSE(line.contains("error"));
}

TEST_F(RequestLogTest, ServerMakesAnIdWhenTheClientSendsNoUsableOne) {
  auto stub = Stub(*server_);
  for (const std::string& sent :
       {std::string(), std::string("has space"), std::string("semi;colon"),
        std::string(200, 'a')}) {
    grpc::ClientContext context;
    SetTestDeadline(context);
    if (!sent.empty()) context.AddMetadata("x-request-id", sent);
    v1::ListModelsResponse response;
    ASSERT_TRUE(
        stub->ListModels(&context, v1::ListModelsRequest(), &response).ok());
    const auto trailers = Trailers(context);
    ASSERT_EQ(trailers.count("x-request-id"), 1u) << sent;
    const std::string id = trailers.find("x-request-id")->second;
    EXPECT_THAT(id, MatchesRegex("[0-9a-f]{32}")) << sent;
    EXPECT_TRUE(LineOf(id).is_object()) << id;
  }
}

TEST_F(RequestLogTest, ErrorsAreLoggedWithTheirCodeAndMessage) {
  auto stub = Stub(*server_);
  v1::GenerateRequest request = SmallGenerate();
  request.set_model("no-such-model");
  grpc::ClientContext context;
  SetTestDeadline(context);
  context.AddMetadata("x-request-id", "bad-model-1");
  EXPECT_EQ(GenerateAll(*stub, context, request).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(Trailers(context), Contains(Pair("x-request-id", "bad-model-1")));
  const nlohmann::json line = LineOf("bad-model-1");
  ASSERT_TRUE(line.is_object()) << log_->str();
  EXPECT_EQ(line["code"], "NOT_FOUND");
  EXPECT_EQ(line["model"], "no-such-model");
  EXPECT_THAT(line["error"].get<std::string>(), HasSubstr("not loaded"));
  EXPECT_TRUE(line["ttft_ms"].is_null());
}

}  // namespace
}  // namespace tinylm
