#include "client/exit_codes.h"

namespace tinylm {

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitInvalidArgument;
    case absl::StatusCode::kUnavailable:
      return kExitUnreachable;
    case absl::StatusCode::kNotFound:
      return kExitUnknownModel;
    case absl::StatusCode::kDeadlineExceeded:
      return kExitTimeout;
    case absl::StatusCode::kResourceExhausted:
      return kExitBusy;
    case absl::StatusCode::kFailedPrecondition:
      return kExitNotServing;
    case absl::StatusCode::kCancelled:
      return kExitInterrupted;
    case absl::StatusCode::kUnauthenticated:
      return kExitUnauthenticated;
    default:
      return kExitError;
  }
}

}  // namespace tinylm
