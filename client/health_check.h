// A client of the standard gRPC health service (grpc.health.v1.Health).
//
// Debian ships no health.proto, so there is no generated stub to link:
// the call goes through gRPC's generic stub and the two tiny messages
// (a string field and an enum field) are encoded here with Protobuf's wire
// format primitives.
#ifndef TINYLM_CLIENT_HEALTH_CHECK_H_
#define TINYLM_CLIENT_HEALTH_CHECK_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tinylm {

// grpc.health.v1.HealthCheckResponse.ServingStatus, same numbers.
enum class ServingStatus {
  kUnknown = 0,
  kServing = 1,
  kNotServing = 2,
  kServiceUnknown = 3,
};

// "SERVING", "NOT_SERVING", ... as the proto spells them.
const char* ServingStatusName(ServingStatus status);

// HealthCheckRequest{service} in wire format.
std::string EncodeHealthCheckRequest(absl::string_view service);

// The status of a HealthCheckResponse in wire format (unknown fields are
// skipped); DATA_LOSS for bytes that do not parse.
absl::StatusOr<ServingStatus> DecodeHealthCheckResponse(
    absl::string_view bytes);

// Calls Health/Check for `service` ("" = the whole server) and waits for
// the answer. `context` carries deadline and cancellation.
grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                         grpc::ClientContext* context,
                         const std::string& service, ServingStatus* status);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_HEALTH_CHECK_H_
