// The exit code of each failure, and RPC errors worded for a person.
#include "client/exit_codes.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

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
