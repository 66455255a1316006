// Admission (server/operations/admission.h): calls in flight per model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "server/operations/admission.h"
#include "server/operations/refusals.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

TEST(AdmissionTest, CountsCallsPerModelUpToTheLimit) {
  Admission admission({"a", "b"}, 2, absl::Milliseconds(300));
  auto first = admission.Acquire("a");
  auto second = admission.Acquire("a");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(admission.InFlight("a"), 2);

  const auto refused = admission.Acquire("a");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("retry after 300 ms"));
  EXPECT_EQ(RetryAfter(refused.status()), absl::Milliseconds(300));
  EXPECT_EQ(admission.InFlight("a"), 2);  // the refusal holds no place

  EXPECT_TRUE(admission.Acquire("b").ok());  // models count apart
  { Admission::Ticket released = std::move(first).value(); }
  EXPECT_EQ(admission.InFlight("a"), 1);
  EXPECT_TRUE(admission.Acquire("a").ok());
  EXPECT_EQ(admission.Acquire("nope").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(AdmissionTest, MovedTicketsReleaseOnce) {
  Admission admission({"a"}, 1, absl::Seconds(1));
  {
    Admission::Ticket ticket = *admission.Acquire("a");
    Admission::Ticket moved = std::move(ticket);
    Admission::Ticket assigned;
    assigned = std::move(moved);
    EXPECT_EQ(admission.InFlight("a"), 1);
  }
  EXPECT_EQ(admission.InFlight("a"), 0);
}

}  // namespace
}  // namespace tinylm
