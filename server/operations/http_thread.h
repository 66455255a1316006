// A cpp-httplib server listening on its own thread: what the /metrics
// endpoint and the HTTP face share. Needs cpp-httplib (its header is not
// included here).
#ifndef TINYLM_SERVER_OPERATIONS_HTTP_THREAD_H_
#define TINYLM_SERVER_OPERATIONS_HTTP_THREAD_H_

#include <future>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace tinylm {

class HttpThread {
 public:
  // Binds `server` to `listen` ("HOST:PORT", "[IPv6]:PORT"; port 0 picks a
  // free one) and serves it on a new thread. INVALID_ARGUMENT naming
  // `flag` for a malformed address, UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpThread>> Start(
      std::unique_ptr<httplib::Server> server, const std::string& flag,
      const std::string& listen);

  // Stops listening; joins the thread once the handlers have returned.
  ~HttpThread();

  int port() const { return port_; }
  httplib::Server& server() { return *server_; }

 private:
  HttpThread(std::unique_ptr<httplib::Server> server, int port);

  std::unique_ptr<httplib::Server> server_;
  int port_;
  std::thread thread_;
  std::future<void> stopped_;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_OPERATIONS_HTTP_THREAD_H_
