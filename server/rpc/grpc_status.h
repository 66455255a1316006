// The one mapping from absl::Status (engine, validation) to grpc::Status.
// absl and gRPC share code numbers; the mapping is still spelled out so
// that a code that has no meaning for clients can never leak through.
#ifndef TINYLM_SERVER_RPC_GRPC_STATUS_H_
#define TINYLM_SERVER_RPC_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace tinylm {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace tinylm

#endif  // TINYLM_SERVER_RPC_GRPC_STATUS_H_
