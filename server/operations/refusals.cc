#include "server/operations/refusals.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tinylm {
namespace {

// Where LoadRefusal keeps the delay (milliseconds, decimal).
constexpr char kRetryAfterPayload[] = "tinylm.dev/retry-after-ms";

}  // namespace

absl::Status LoadRefusal(absl::string_view what, absl::Duration retry_after) {
  const int64_t ms = absl::ToInt64Milliseconds(retry_after);
  absl::Status status = absl::ResourceExhaustedError(
      absl::StrCat(what, "; retry after ", ms, " ms"));
  status.SetPayload(kRetryAfterPayload, absl::Cord(absl::StrCat(ms)));
  return status;
}

std::optional<absl::Duration> RetryAfter(const absl::Status& status) {
  const auto payload = status.GetPayload(kRetryAfterPayload);
  int64_t ms = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &ms)) {
    return std::nullopt;
  }
  return absl::Milliseconds(ms);
}

absl::Status ShuttingDown() {
  return absl::UnavailableError("the server is shutting down");
}

absl::Status ResponseTooLarge(absl::string_view what, int64_t bytes,
                              int64_t limit, absl::string_view flag,
                              absl::string_view advice) {
  return absl::ResourceExhaustedError(
      absl::StrCat(what, ": ", bytes, " bytes exceed the limit of ", limit,
                   " bytes (", flag, "); ", advice));
}

absl::Status EndedWithoutStatus() {
  return absl::CancelledError("the call ended without a status");
}

}  // namespace tinylm
