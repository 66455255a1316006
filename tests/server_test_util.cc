#include "tests/server_test_util.h"

#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "tests/test_checkpoints.h"

namespace tinylm {

std::string* ServerTest::scratch_ = nullptr;
std::string* ServerTest::checkpoints_ = nullptr;
TinyLmServer* ServerTest::server_ = nullptr;
std::shared_ptr<grpc::Channel> ServerTest::channel_;
std::unique_ptr<v1::TinyLM::Stub> ServerTest::stub_;

std::string GenerateResult::Text() const {
  std::string text;
  for (const auto& token : tokens) text += token.text();
  return text;
}

std::string GenerateResult::Raw() const {
  std::string raw;
  for (const auto& token : tokens) raw += token.raw();
  return raw;
}

std::vector<int32_t> GenerateResult::Ids() const {
  std::vector<int32_t> ids;
  for (const auto& token : tokens) ids.push_back(token.id());
  return ids;
}

ServiceLimits TestLimits() {
  ServiceLimits limits;
  limits.max_attention_bytes = 48 << 10;
  return limits;
}

std::string TestDevice() {
  const char* env = std::getenv("TINYLM_TEST_DEVICE");
  return env != nullptr && *env != '\0' ? env : "cpu";
}

double LogprobTolerance() {
  const char* env = std::getenv("TINYLM_TEST_DTYPE");
  const std::string dtype = env != nullptr ? env : "";
  const bool bfloat16 = dtype == "bfloat16" ||
                        (dtype.empty() && TestDevice().rfind("cuda", 0) == 0);
  return bfloat16 ? 2e-2 : 1e-4;
}

void SetDeadline(grpc::ClientContext& context,
                 std::chrono::milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

void ServerTest::SetUpTestSuite() {
  std::string pattern = ::testing::TempDir() + "server_test.XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  scratch_ = new std::string(pattern);
  auto dir = TestCheckpointsDir(*scratch_);
  ASSERT_TRUE(dir.ok()) << dir.status();
  checkpoints_ = new std::string(*dir);

  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.registry.checkpoints_dir = *checkpoints_;
  options.registry.device = TestDevice();
  if (const char* dtype = std::getenv("TINYLM_TEST_DTYPE")) {
    options.registry.dtype = dtype;
  }
  options.registry.scheduler.max_batch = kMaxBatch;
  const char* shapes = std::getenv("TINYLM_TEST_STEP_SHAPES");
  if (shapes != nullptr && std::string(shapes) == "static") {
    options.registry.scheduler.step_shapes = StepShapes::kStatic;
  }
  options.limits = TestLimits();
  auto server = TinyLmServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = server->release();
  channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                 grpc::InsecureChannelCredentials());
  stub_ = v1::TinyLM::NewStub(channel_);
}

void ServerTest::TearDownTestSuite() {
  stub_.reset();
  channel_.reset();
  delete server_;
  server_ = nullptr;
  if (scratch_ != nullptr) {
    std::error_code error;
    std::filesystem::remove_all(*scratch_, error);
  }
  delete scratch_;
  delete checkpoints_;
  scratch_ = checkpoints_ = nullptr;
}

v1::ModelInfo ServerTest::Info(const std::string& model) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::ListModelsResponse response;
  const grpc::Status status =
      stub_->ListModels(&context, v1::ListModelsRequest(), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  for (const auto& info : response.models()) {
    if (info.name() == model) return info;
  }
  ADD_FAILURE() << "no model " << model;
  return v1::ModelInfo();
}

GenerateResult ServerTest::Generate(const v1::GenerateRequest& request,
                                    std::chrono::milliseconds deadline) {
  grpc::ClientContext context;
  SetDeadline(context, deadline);
  GenerateResult result;
  auto reader = stub_->Generate(&context, request);
  v1::GenerateResponse response;
  while (reader->Read(&response)) {
    if (response.has_token() || response.has_tokens()) {
      EXPECT_FALSE(result.has_summary) << "token after the summary";
      ++result.token_messages;
      if (response.has_token()) {
        result.tokens.push_back(response.token());
      } else {
        EXPECT_GE(response.tokens().tokens_size(), 2) << "one token as tokens";
        for (const v1::GeneratedToken& token : response.tokens().tokens()) {
          result.tokens.push_back(token);
        }
      }
      result.most_per_message = std::max<size_t>(
          result.most_per_message,
          response.has_token() ? 1 : response.tokens().tokens_size());
    } else if (response.has_summary()) {
      result.summary = response.summary();
      result.has_summary = true;
    }
  }
  result.status = reader->Finish();
  return result;
}

v1::GenerateRequest ServerTest::Greedy(const std::string& model,
                                       const std::string& text,
                                       uint32_t max_new_tokens) {
  v1::GenerateRequest request;
  request.set_model(model);
  request.set_text(text);
  request.set_max_new_tokens(max_new_tokens);
  request.mutable_sampling()->set_temperature(0.0f);
  return request;
}

}  // namespace tinylm
