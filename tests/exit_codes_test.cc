// The exit code of each kind of failure.
#include "client/exit_codes.h"

#include "gtest/gtest.h"

namespace tinylm {
namespace {

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

}  // namespace
}  // namespace tinylm
