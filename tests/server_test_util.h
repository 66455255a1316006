// Shared fixture of the server tests: one in-process server per test
// process on a loopback port picked by the OS, serving the test checkpoints
// (test_checkpoints.h), and small client helpers.
#ifndef TINYLM_TESTS_SERVER_TEST_UTIL_H_
#define TINYLM_TESTS_SERVER_TEST_UTIL_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "server/server.h"
#include "tinylm/v1/tinylm.grpc.pb.h"

namespace tinylm {

struct GenerateResult {
  grpc::Status status;
  std::vector<v1::GeneratedToken> tokens;
  int64_t token_messages = 0;  // messages that carried them
  size_t most_per_message = 0;
  v1::GenerateSummary summary;
  bool has_summary = false;

  std::string Text() const;        // concatenated token text
  std::string Raw() const;         // concatenated raw bytes
  std::vector<int32_t> Ids() const;
};

// The device the fixture's server uses: $TINYLM_TEST_DEVICE, default "cpu";
// its dtype is $TINYLM_TEST_DTYPE, default the server's for that device;
// $TINYLM_TEST_STEP_SHAPES=static makes it run static steps (step_runner.h)
// where it would otherwise choose.
std::string TestDevice();

// How far two log-probabilities of one token may differ when computed by
// different kernels (a generation step and an analysis forward): float32
// agrees to 1e-4; bfloat16 (the CUDA default) rounds differently per kernel.
double LogprobTolerance();

// The limits the fixture's server runs with (small attention bound so that
// a too-large request is easy to make).
ServiceLimits TestLimits();

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

  static v1::TinyLM::Stub& stub() { return *stub_; }
  static std::shared_ptr<grpc::Channel> channel() { return channel_; }
  static TinyLmServer& server() { return *server_; }
  static const std::string& checkpoints() { return *checkpoints_; }
  static constexpr int64_t kMaxBatch = 4;

  // A model's info from ListModels.
  static v1::ModelInfo Info(const std::string& model);

  static GenerateResult Generate(const v1::GenerateRequest& request,
                                 std::chrono::milliseconds deadline =
                                     std::chrono::minutes(2));
  // A greedy request for `text` on `model`.
  static v1::GenerateRequest Greedy(const std::string& model,
                                    const std::string& text,
                                    uint32_t max_new_tokens);

 private:
  static std::string* scratch_;
  static std::string* checkpoints_;
  static TinyLmServer* server_;
  static std::shared_ptr<grpc::Channel> channel_;
  static std::unique_ptr<v1::TinyLM::Stub> stub_;
};

// Deadline helper for unary calls.
void SetDeadline(grpc::ClientContext& context,
                 std::chrono::milliseconds timeout = std::chrono::minutes(2));

}  // namespace tinylm

#endif  // TINYLM_TESTS_SERVER_TEST_UTIL_H_
