// The HTTP face of tinylm-server (--http_listen): on its own port and
// threads (cpp-httplib), every call goes through the gRPC service over the
// in-process channel, so the token, limits, validation, metrics and request
// logs are those of gRPC. It serves
//   POST /tinylm.v1.TinyLM/<Method>   the Connect protocol, JSON codec:
//                                     unary and server-streaming methods;
//   POST /v1/completions, GET /v1/models   OpenAI's completions API;
//   GET /                             the workbench page (workbench.html);
// and answers anything else with 404, in JSON.
#ifndef TINYLM_SERVER_HTTP_HTTP_ENDPOINT_H_
#define TINYLM_SERVER_HTTP_HTTP_ENDPOINT_H_

#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "server/operations/tls.h"

namespace tinylm {

struct HttpOptions {
  std::string listen;  // HOST:PORT; port 0 picks a free one
  TlsPem tls;          // empty cert_chain: plain HTTP
  int64_t max_body_bytes = 4 << 20;  // larger request bodies: 413
  int threads = 32;    // concurrent requests (a stream holds one)
};

class HttpEndpoint {
 public:
  // FAILED_PRECONDITION in a build without cpp-httplib; otherwise as
  // HttpThread::Start.
  static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(
      const HttpOptions& options, std::shared_ptr<grpc::Channel> channel);
  ~HttpEndpoint();

  int port() const { return port_; }

  struct Impl;

 private:
  HttpEndpoint(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_HTTP_HTTP_ENDPOINT_H_
