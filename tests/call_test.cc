// The call ritual: deadlines from the settings, errors worded for a person.
#include "client/rpc/call.h"

#include <chrono>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

TEST(CallTest, SetsTheDeadlineOfTheSettings) {
  const auto before = std::chrono::system_clock::now();
  std::chrono::system_clock::time_point deadline;
  const auto record = [&](grpc::ClientContext* context) {
    deadline = context->deadline();
    return grpc::Status::OK;
  };
  ASSERT_TRUE(Call({"h:1", absl::Seconds(30)}, record).ok());
  EXPECT_GE(deadline, before + std::chrono::seconds(30));
  EXPECT_LE(deadline,
            std::chrono::system_clock::now() + std::chrono::seconds(30));
  // No deadline: gRPC's "infinite future".
  ASSERT_TRUE(Call({"h:1", absl::InfiniteDuration()}, record).ok());
  EXPECT_EQ(deadline, std::chrono::system_clock::time_point::max());
}

TEST(CallTest, WordsTheFailureAndKeepsItsCode) {
  const absl::Status status =
      Call({"h:1", absl::Seconds(3)}, [](grpc::ClientContext*) {
        return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "late");
      });
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("no answer from h:1 within "
                                          "--timeout=3s"));
}

TEST(CallTest, UnaryCallsReturnTheAnswer) {
  // A stand-in stub: a class with a method of a generated stub's shape.
  struct Stub {
    grpc::Status Echo(grpc::ClientContext*, const std::string& request,
                      std::string* response) {
      *response = request + "!";
      return request.empty() ? grpc::Status(grpc::StatusCode::NOT_FOUND, "x")
                             : grpc::Status::OK;
    }
  } stub;
  absl::StatusOr<std::string> answer =
      Call({"h:1"}, stub, &Stub::Echo, std::string("hi"));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(*answer, "hi!");
  EXPECT_EQ(Call({"h:1"}, stub, &Stub::Echo, std::string()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(CallTest, RpcErrorsTellWhatToDo) {
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
