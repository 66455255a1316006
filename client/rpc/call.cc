#include "client/rpc/call.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "client/rpc/interrupt.h"

namespace tinylm {

absl::Status Call(const CallSettings& settings,
                  absl::FunctionRef<grpc::Status(grpc::ClientContext*)> rpc) {
  grpc::ClientContext context;
  if (settings.timeout != absl::InfiniteDuration()) {
    context.set_deadline(std::chrono::system_clock::now() +
                         absl::ToChronoMilliseconds(settings.timeout));
  }
  grpc::Status status;
  bool interrupted = false;
  {
    CancelOnInterrupt cancel(&context);
    status = rpc(&context);
    interrupted = cancel.interrupted();
  }
  // Whatever the call made of the cancel, the person pressed Ctrl-C.
  if (interrupted) {
    return absl::CancelledError("interrupted (Ctrl-C): call cancelled");
  }
  return FromRpc(status, settings.server, settings.timeout);
}

absl::Status FromRpc(const grpc::Status& status, const std::string& server,
                     absl::Duration timeout) {
  const std::string details = status.error_message();
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return absl::OkStatus();
    case grpc::StatusCode::UNAVAILABLE:
      return absl::Status(
          code, absl::StrCat("cannot reach a tinylm server at ", server,
                             " (is tinylm-server running there? "
                             "--server=HOST:PORT picks another): ",
                             details));
    case grpc::StatusCode::NOT_FOUND:
      return absl::Status(code, absl::StrCat("unknown model: ", details));
    case grpc::StatusCode::INVALID_ARGUMENT:
      return absl::Status(
          code, absl::StrCat("the server refused the request: ", details));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::Status(
          code, absl::StrCat("no answer from ", server, " within --timeout=",
                             absl::FormatDuration(timeout),
                             " (a longer --timeout, or 0 for none, may "
                             "help)"));
    case grpc::StatusCode::CANCELLED:
      return absl::Status(code, absl::StrCat("cancelled: ", details));
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::Status(
          code, absl::StrCat("the server at ", server,
                             " refused the credentials (--auth_token_file "
                             "gives the token): ",
                             details));
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return absl::Status(code, absl::StrCat("over a server limit: ", details));
    case grpc::StatusCode::UNIMPLEMENTED:
      return absl::Status(
          code, absl::StrCat("the server at ", server,
                             " does not offer this call (not a tinylm.v1 "
                             "server?): ",
                             details));
    default:
      return absl::Status(
          code, absl::StrCat("server error (code ", int(status.error_code()),
                             "): ", details));
  }
}

}  // namespace tinylm
