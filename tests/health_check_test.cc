// The health status names as the CLI prints them.
#include "client/rpc/health_check.h"

#include "gtest/gtest.h"

namespace tinylm {
namespace {

TEST(HealthCheckTest, NamesTheStatusAsTheProtoDoes) {
  using grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(ServingStatusName(HealthCheckResponse::SERVING), "SERVING");
  EXPECT_EQ(ServingStatusName(HealthCheckResponse::NOT_SERVING), "NOT_SERVING");
  // A number from a newer server that the proto does not name.
  EXPECT_EQ(ServingStatusName(static_cast<ServingStatus>(9)), "UNKNOWN");
}

}  // namespace
}  // namespace tinylm
