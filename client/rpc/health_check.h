// A client of the standard gRPC health service (grpc.health.v1.Health),
// through the stub generated from proto/grpc_health_v1/health.proto. Used
// by `tinylm health` and by the benchmark's wait for its server.
#ifndef TINYLM_CLIENT_RPC_HEALTH_CHECK_H_
#define TINYLM_CLIENT_RPC_HEALTH_CHECK_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "grpc_health_v1/health.pb.h"

namespace tinylm {

using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

// "SERVING", "NOT_SERVING", ... as the proto spells them; "UNKNOWN" for a
// number the proto does not name (proto3 enums keep unknown values).
std::string ServingStatusName(ServingStatus status);

// Calls Health/Check for `service` ("" = the whole server) and waits for
// the answer. `context` carries deadline and cancellation.
grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                         grpc::ClientContext* context,
                         const std::string& service, ServingStatus* status);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_RPC_HEALTH_CHECK_H_
