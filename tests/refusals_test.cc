// The server's own statuses (server/operations/refusals.h): codes, wording,
// and the retry hint only load refusals carry.
#include <gtest/gtest.h>

#include "server/operations/refusals.h"

namespace tinylm {
namespace {

TEST(RefusalsTest, LoadRefusalCarriesItsRetryHint) {
  const absl::Status refused = LoadRefusal("queue full", absl::Seconds(2));
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.message(), "queue full; retry after 2000 ms");
  EXPECT_EQ(RetryAfter(refused), absl::Seconds(2));
}

TEST(RefusalsTest, OnlyLoadRefusalsCarryARetryHint) {
  EXPECT_FALSE(RetryAfter(absl::ResourceExhaustedError("too big")));
  EXPECT_FALSE(RetryAfter(absl::OkStatus()));
  EXPECT_FALSE(
      RetryAfter(ResponseTooLarge("x", 10, 5, "--flag", "ask for less")));
}

TEST(RefusalsTest, CodesSayWhatHappened) {
  EXPECT_EQ(ShuttingDown().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(EndedWithoutStatus().code(), absl::StatusCode::kCancelled);
  const absl::Status large = ResponseTooLarge(
      "the Tokenize response", 5000, 4096, "--max_send_message_bytes",
      "tokenize shorter text");
  EXPECT_EQ(large.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(large.message(),
            "the Tokenize response: 5000 bytes exceed the limit of 4096 bytes "
            "(--max_send_message_bytes); tokenize shorter text");
}

}  // namespace
}  // namespace tinylm
