// Waiting for a tinylm server to report SERVING on the standard health
// service (grpc.health.v1.Health/Check, service "" = the whole server).
// The probe itself is the client's CheckHealth (client/rpc/health_check.h).
#ifndef TINYLM_TOOLS_BENCH_HEALTH_WAIT_H_
#define TINYLM_TOOLS_BENCH_HEALTH_WAIT_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace tinylm {
namespace bench {

// Polls Health/Check every `interval` until the server answers SERVING
// (OK) or `timeout` has passed (DEADLINE_EXCEEDED, with the last answer
// or error in the message). Each probe has its own short deadline, so a
// server that is not listening yet only costs a failed connect.
absl::Status WaitForServing(const std::shared_ptr<grpc::Channel>& channel,
                            absl::Duration timeout,
                            absl::Duration interval = absl::Milliseconds(100));

}  // namespace bench
}  // namespace tinylm

#endif  // TINYLM_TOOLS_BENCH_HEALTH_WAIT_H_
