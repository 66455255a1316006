#include "server/operations/metrics_http.h"

#include <utility>

#include "httplib.h"
#include "server/operations/http_thread.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

// Scrapes are rare and cheap; two threads serve a scraper and a person.
constexpr size_t kHttpThreads = 2;
constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

struct MetricsEndpoint::Impl {
  std::unique_ptr<HttpThread> http;
};

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& listen, Render render) {
  auto http = std::make_unique<httplib::Server>();
  http->new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  http->Get("/metrics", [render = std::move(render)](const httplib::Request&,
                                                     httplib::Response& res) {
    res.set_content(render(), kContentType);
  });
  auto impl = std::make_unique<Impl>();
  TINYLM_ASSIGN_OR_RETURN(
      impl->http, HttpThread::Start(std::move(http), "metrics_listen", listen));
  const int port = impl->http->port();
  return std::unique_ptr<MetricsEndpoint>(
      new MetricsEndpoint(std::move(impl), port));
}

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

MetricsEndpoint::~MetricsEndpoint() = default;

}  // namespace tinylm
