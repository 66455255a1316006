#include "server/operations/metrics_http.h"

#include <chrono>
#include <future>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "util/status_macros.h"
#include "server/operations/listen_address.h"

namespace tinylm {
namespace {

// Scrapes are rare and cheap; two threads serve a scraper and a person.
constexpr size_t kHttpThreads = 2;
constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

struct MetricsEndpoint::Impl {
  httplib::Server http;
  std::thread thread;
  std::future<void> stopped;
};

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& listen, Render render) {
  TINYLM_ASSIGN_OR_RETURN(const ListenAddress address,
                          ParseListenAddress("metrics_listen", listen));
  auto impl = std::make_unique<Impl>();
  httplib::Server& http = impl->http;
  http.new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  http.Get("/metrics", [render = std::move(render)](const httplib::Request&,
                                                    httplib::Response& res) {
    res.set_content(render(), kContentType);
  });
  int port = address.port;
  if (port == 0) {
    port = http.bind_to_any_port(address.host);
  } else if (!http.bind_to_port(address.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError(
        absl::StrCat("--metrics_listen=", listen, ": cannot listen there"));
  }
  std::promise<void> done;
  impl->stopped = done.get_future();
  impl->thread = std::thread([&http, done = std::move(done)]() mutable {
    http.listen_after_bind();
    done.set_value();
  });
  return std::unique_ptr<MetricsEndpoint>(
      new MetricsEndpoint(std::move(impl), port));
}

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

MetricsEndpoint::~MetricsEndpoint() {
  // stop() has no effect until the listening loop has begun, and the
  // thread may not have reached it yet: repeat until the loop has ended.
  do {
    impl_->http.stop();
  } while (impl_->stopped.wait_for(std::chrono::milliseconds(10)) !=
           std::future_status::ready);
  impl_->thread.join();
}

}  // namespace tinylm
