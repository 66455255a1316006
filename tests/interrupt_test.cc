// Ctrl-C during a call: the signal reaches the watcher thread through the
// pipe and the call ends CANCELLED; the previous SIGINT action comes back.
#include "client/rpc/interrupt.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "gtest/gtest.h"
#include "tests/unused_port.h"
#include "tinylm/v1/tinylm.grpc.pb.h"

namespace tinylm {
namespace {

TEST(CancelOnInterruptTest, CtrlCCancelsTheCallInFlight) {
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(UnusedPort()),
                          grpc::InsecureChannelCredentials());
  auto stub = v1::TinyLM::NewStub(channel);
  grpc::ClientContext context;
  // Waits for a server that never comes: only the cancel can end the call
  // before the (generous) deadline.
  context.set_wait_for_ready(true);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::minutes(5));
  v1::ListModelsResponse response;
  grpc::Status status;
  {
    CancelOnInterrupt cancel(&context);
    ASSERT_EQ(kill(getpid(), SIGINT), 0);
    status = stub->ListModels(&context, v1::ListModelsRequest(), &response);
    EXPECT_TRUE(cancel.interrupted());
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED)
      << status.error_message();

  struct sigaction now {};
  ASSERT_EQ(sigaction(SIGINT, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
}

TEST(CancelOnInterruptTest, WithoutCtrlCNothingIsCancelled) {
  grpc::ClientContext context;
  {
    CancelOnInterrupt cancel(&context);
    EXPECT_FALSE(cancel.interrupted());
  }
  struct sigaction now {};
  ASSERT_EQ(sigaction(SIGINT, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
}

}  // namespace
}  // namespace tinylm
