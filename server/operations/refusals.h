// The statuses the server makes of its own accord, in one place: refusals
// for load (with the retry hint clients read back), for shutdown and for a
// response past a size bound, and the status of a call that ended without
// one. Field validation has its own (rpc/validate.cc); grpc_status.h maps
// every absl::Status to gRPC once.
#ifndef TINYLM_SERVER_OPERATIONS_REFUSALS_H_
#define TINYLM_SERVER_OPERATIONS_REFUSALS_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tinylm {

// RESOURCE_EXHAUSTED for load ("<what>; retry after N ms"), with N attached
// for RetryAfter() to find: the queue or the calls in flight are full, and
// a later attempt may pass.
absl::Status LoadRefusal(absl::string_view what, absl::Duration retry_after);

// The hint LoadRefusal attached, if any.
std::optional<absl::Duration> RetryAfter(const absl::Status& status);

// UNAVAILABLE: the server stops and takes no more work (retry elsewhere).
absl::Status ShuttingDown();

// RESOURCE_EXHAUSTED: the response to `what` would take `bytes`, past
// `limit` (named by `flag`); `advice` says how to ask for less.
absl::Status ResponseTooLarge(absl::string_view what, int64_t bytes,
                              int64_t limit, absl::string_view flag,
                              absl::string_view advice);

// CANCELLED: the call ended before the server sent a status (the client
// went away before its reactor finished).
absl::Status EndedWithoutStatus();

}  // namespace tinylm

#endif  // TINYLM_SERVER_OPERATIONS_REFUSALS_H_
