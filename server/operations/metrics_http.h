// MetricsEndpoint: a small HTTP server (cpp-httplib, on its own port and
// threads, apart from gRPC) that answers GET /metrics with the Prometheus
// text exposition of the server's metrics.
#ifndef TINYLM_SERVER_OPERATIONS_METRICS_HTTP_H_
#define TINYLM_SERVER_OPERATIONS_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace tinylm {

class MetricsEndpoint {
 public:
  // The text of one scrape; called on an HTTP thread.
  using Render = std::function<std::string()>;

  // Listens on `listen` ("HOST:PORT", "[IPv6]:PORT"; port 0 picks a free
  // one). INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it
  // cannot be bound, FAILED_PRECONDITION in a build without metrics.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& listen, Render render);

  // Stops listening and joins the HTTP threads.
  ~MetricsEndpoint();

  int port() const { return port_; }

 private:
  struct Impl;
  explicit MetricsEndpoint(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_OPERATIONS_METRICS_HTTP_H_
