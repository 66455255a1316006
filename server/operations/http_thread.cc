#include "server/operations/http_thread.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "server/operations/listen_address.h"
#include "util/status_macros.h"

namespace tinylm {

absl::StatusOr<std::unique_ptr<HttpThread>> HttpThread::Start(
    std::unique_ptr<httplib::Server> server, const std::string& flag,
    const std::string& listen) {
  TINYLM_ASSIGN_OR_RETURN(const ListenAddress address,
                          ParseListenAddress(flag, listen));
  int port = address.port;
  if (!server->is_valid()) {
    port = -1;
  } else if (port == 0) {
    port = server->bind_to_any_port(address.host);
  } else if (!server->bind_to_port(address.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError(
        absl::StrCat("--", flag, "=", listen, ": cannot listen there"));
  }
  return std::unique_ptr<HttpThread>(new HttpThread(std::move(server), port));
}

HttpThread::HttpThread(std::unique_ptr<httplib::Server> server, int port)
    : server_(std::move(server)), port_(port) {
  std::promise<void> done;
  stopped_ = done.get_future();
  thread_ = std::thread([this, done = std::move(done)]() mutable {
    server_->listen_after_bind();
    done.set_value();
  });
}

HttpThread::~HttpThread() {
  // stop() has no effect until the listening loop has begun, and the
  // thread may not have reached it yet: repeat until the loop has ended.
  do {
    server_->stop();
  } while (stopped_.wait_for(std::chrono::milliseconds(10)) !=
           std::future_status::ready);
  thread_.join();
}

}  // namespace tinylm
