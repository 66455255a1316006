// ServerMetrics: the server's Prometheus metrics (each listed with its type
// and labels in docs/operations.md), rendered in the text exposition format
// for the /metrics endpoint (metrics_http.h).
//
// Built with prometheus-cpp when the build found it; otherwise every method
// is a no-op and Render() returns "" (see server/CMakeLists.txt).
//
// Thread-safety: every method may be called from any thread. Must outlive
// the schedulers it gave hooks to.
#ifndef TINYLM_SERVER_OPERATIONS_METRICS_H_
#define TINYLM_SERVER_OPERATIONS_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/engine/scheduler_metrics.h"

namespace tinylm {

// Whether this build has metrics (prometheus-cpp and cpp-httplib).
bool MetricsAvailable();

// Values read when a scrape comes, one per model.
struct ModelLoad {
  std::string model;
  int64_t queued = 0;     // requests waiting for a KV cache slot
  int64_t in_flight = 0;  // calls holding an admission ticket
};

class ServerMetrics {
 public:
  ServerMetrics();
  ~ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // The scheduler hooks of `model`, whose KV cache has `slots` slots.
  std::shared_ptr<SchedulerMetrics> ForModel(const std::string& model,
                                             int64_t slots);

  // A finished call of `rpc` with gRPC status `code` ("OK", "NOT_FOUND",
  // ...) that took `duration`.
  void CountRequest(absl::string_view rpc, absl::string_view code,
                    absl::Duration duration);

  // Sets the scrape-time gauges (`loads`, the process's resident memory)
  // and renders everything in the Prometheus text format 0.0.4.
  std::string Render(const std::vector<ModelLoad>& loads);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_OPERATIONS_METRICS_H_
