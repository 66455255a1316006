// ServerMetrics for builds without prometheus-cpp: nothing is recorded and
// the /metrics endpoint cannot be started (metrics_http_disabled.cc).
#include "server/operations/metrics.h"

namespace tinylm {

bool MetricsAvailable() { return false; }

struct ServerMetrics::Impl {};

ServerMetrics::ServerMetrics() = default;
ServerMetrics::~ServerMetrics() = default;

std::shared_ptr<SchedulerMetrics> ServerMetrics::ForModel(const std::string&,
                                                          int64_t) {
  return nullptr;
}

void ServerMetrics::CountRequest(absl::string_view, absl::string_view,
                                 absl::Duration) {}

std::string ServerMetrics::Render(const std::vector<ModelLoad>&) { return ""; }

}  // namespace tinylm
