// MetricsEndpoint for builds without cpp-httplib and prometheus-cpp.
#include <utility>

#include "server/operations/metrics_http.h"

namespace tinylm {

struct MetricsEndpoint::Impl {};

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string&, Render) {
  return absl::FailedPreconditionError(
      "--metrics_listen: this tinylm-server was built without metrics "
      "(install prometheus-cpp-dev and libcpp-httplib-dev, then rebuild)");
}

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

MetricsEndpoint::~MetricsEndpoint() = default;

}  // namespace tinylm
