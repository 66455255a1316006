// HttpEndpoint for builds without cpp-httplib.
#include "server/http/http_endpoint.h"

namespace tinylm {

struct HttpEndpoint::Impl {};

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(
    const HttpOptions&, std::shared_ptr<grpc::Channel>) {
  return absl::FailedPreconditionError(
      "--http_listen: this tinylm-server was built without cpp-httplib "
      "(install libcpp-httplib-dev, then rebuild)");
}

HttpEndpoint::HttpEndpoint(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

HttpEndpoint::~HttpEndpoint() = default;

}  // namespace tinylm
