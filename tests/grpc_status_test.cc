// The absl -> gRPC status mapping, code by code.
#include "server/rpc/grpc_status.h"

#include <gtest/gtest.h>

namespace tinylm {
namespace {

TEST(GrpcStatusTest, EveryCodeMapsToTheSameMeaning) {
  const std::pair<absl::Status, grpc::StatusCode> cases[] = {
      {absl::CancelledError("c"), grpc::StatusCode::CANCELLED},
      {absl::InvalidArgumentError("c"), grpc::StatusCode::INVALID_ARGUMENT},
      {absl::DeadlineExceededError("c"), grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::NotFoundError("c"), grpc::StatusCode::NOT_FOUND},
      {absl::AlreadyExistsError("c"), grpc::StatusCode::ALREADY_EXISTS},
      {absl::PermissionDeniedError("c"), grpc::StatusCode::PERMISSION_DENIED},
      {absl::ResourceExhaustedError("c"),
       grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::FailedPreconditionError("c"),
       grpc::StatusCode::FAILED_PRECONDITION},
      {absl::AbortedError("c"), grpc::StatusCode::ABORTED},
      {absl::OutOfRangeError("c"), grpc::StatusCode::OUT_OF_RANGE},
      {absl::UnimplementedError("c"), grpc::StatusCode::UNIMPLEMENTED},
      {absl::InternalError("c"), grpc::StatusCode::INTERNAL},
      {absl::UnavailableError("c"), grpc::StatusCode::UNAVAILABLE},
      {absl::DataLossError("c"), grpc::StatusCode::DATA_LOSS},
      {absl::UnauthenticatedError("c"), grpc::StatusCode::UNAUTHENTICATED},
      {absl::UnknownError("c"), grpc::StatusCode::INTERNAL},
  };
  for (const auto& [in, code] : cases) {
    const grpc::Status out = ToGrpcStatus(in);
    EXPECT_EQ(out.error_code(), code) << in;
    EXPECT_EQ(out.error_message(), "c");
  }
}

TEST(GrpcStatusTest, OkStaysOkAndMessagesSurvive) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  const grpc::Status out = ToGrpcStatus(
      absl::InvalidArgumentError("prompt.text: must not be empty (猫)"));
  EXPECT_EQ(out.error_message(), "prompt.text: must not be empty (猫)");
}

}  // namespace
}  // namespace tinylm
