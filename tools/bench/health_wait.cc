#include "tools/bench/health_wait.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/rpc/health_check.h"

namespace tinylm {
namespace bench {
namespace {

// One Check of service "": the status, or the call's error.
absl::Status CheckOnce(const std::shared_ptr<grpc::Channel>& channel,
                       ServingStatus* status) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(2));
  const grpc::Status result = CheckHealth(channel, &context, "", status);
  if (!result.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(result.error_code()),
                        result.error_message());
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WaitForServing(const std::shared_ptr<grpc::Channel>& channel,
                            absl::Duration timeout, absl::Duration interval) {
  const absl::Time give_up = absl::Now() + timeout;
  std::string last = "no answer";
  while (true) {
    ServingStatus status = grpc::health::v1::HealthCheckResponse::UNKNOWN;
    const absl::Status call = CheckOnce(channel, &status);
    if (call.ok() && status == grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::OkStatus();
    }
    last = call.ok() ? absl::StrCat("status ", static_cast<int>(status),
                                    " (not SERVING)")
                     : call.ToString();
    if (absl::Now() + interval > give_up) break;
    absl::SleepFor(interval);  // polling a remote state; nothing to wait on
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "server not SERVING after ", absl::FormatDuration(timeout), ": ", last));
}

}  // namespace bench
}  // namespace tinylm
