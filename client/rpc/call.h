// One call to the server, the way every subcommand makes it: a fresh
// ClientContext with the deadline, Ctrl-C cancelling the call (interrupt.h),
// and a failure turned into an absl::Status worded for a person, whose code
// picks the exit code (exit_codes.h). The bearer token needs nothing here:
// the channel adds it to every call (channel.h).
#ifndef TINYLM_CLIENT_RPC_CALL_H_
#define TINYLM_CLIENT_RPC_CALL_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tinylm {

struct CallSettings {
  std::string server;  // the --server target, named in error messages
  // From the start of the call; InfiniteDuration() = no deadline.
  absl::Duration timeout = absl::Seconds(60);
};

// Runs `rpc` (one unary call, or a whole stream up to its Finish) with a
// context prepared as `settings` say, while Ctrl-C cancels it. OK, the
// call's error as FromRpc words it, or CANCELLED "interrupted (Ctrl-C)"
// when Ctrl-C ended it.
absl::Status Call(const CallSettings& settings,
                  absl::FunctionRef<grpc::Status(grpc::ClientContext*)> rpc);

// A unary call of `stub`, e.g. Call(settings, stub, &Stub::TopK, request):
// the answer, or the error as above.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Call(const CallSettings& settings, Stub& stub,
                              grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                           const Request&,
                                                           Response*),
                              const Request& request) {
  Response response;
  const absl::Status status = Call(settings, [&](grpc::ClientContext* context) {
    return (stub.*method)(context, request, &response);
  });
  if (!status.ok()) return status;
  return response;
}

// A failed call as an absl::Status with the same code and a message for a
// person: what went wrong and what to try, then the server's own message.
// `timeout` is the deadline the call had, named when it passed.
absl::Status FromRpc(const grpc::Status& status, const std::string& server,
                     absl::Duration timeout);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_RPC_CALL_H_
