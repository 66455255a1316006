#include "client/rpc/health_check.h"

#include "grpc_health_v1/health.grpc.pb.h"

namespace tinylm {

using grpc::health::v1::HealthCheckResponse;

std::string ServingStatusName(ServingStatus status) {
  if (!HealthCheckResponse::ServingStatus_IsValid(status)) return "UNKNOWN";
  return HealthCheckResponse::ServingStatus_Name(status);
}

grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                         grpc::ClientContext* context,
                         const std::string& service, ServingStatus* status) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  const grpc::Status result = grpc::health::v1::Health::NewStub(channel)->Check(
      context, request, &response);
  if (result.ok()) *status = response.status();
  return result;
}

}  // namespace tinylm
