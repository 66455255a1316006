// How gRPC status codes appear over HTTP: the HTTP status of each code (the
// google.rpc.Code mapping, which the Connect protocol also uses) and the
// Connect protocol's code names.
#ifndef TINYLM_SERVER_HTTP_STATUS_MAPPING_H_
#define TINYLM_SERVER_HTTP_STATUS_MAPPING_H_


#include <grpcpp/support/status.h>

#include "absl/strings/string_view.h"

namespace tinylm {

// e.g. INVALID_ARGUMENT -> 400, RESOURCE_EXHAUSTED -> 429, CANCELLED -> 499.
int HttpStatusOf(grpc::StatusCode code);

// e.g. INVALID_ARGUMENT -> "invalid_argument", CANCELLED -> "canceled".
absl::string_view ConnectCodeName(grpc::StatusCode code);

}  // namespace tinylm

#endif  // TINYLM_SERVER_HTTP_STATUS_MAPPING_H_
