// TinyLmServer: loads the models, serves the TinyLM service plus standard
// health checking and reflection, and shuts down gracefully. Used by main
// and by the in-process tests, so both run the same start-up path.
//
// Health service names: "" (the whole server), "tinylm.v1.TinyLM", and one
// per model: "tinylm.v1.TinyLM/<model name>". All are SERVING once every
// model is loaded and warmed up, NOT_SERVING from the start of shutdown.
// With a bearer token, only TinyLM calls need it: health checks (load
// balancers, orchestrators) and reflection stay open.
#ifndef TINYLM_SERVER_SERVER_H_
#define TINYLM_SERVER_SERVER_H_

#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/engine/model_registry.h"
#include "server/operations/request_log.h"
#include "server/operations/tls.h"
#include "server/rpc/service_limits.h"

namespace grpc {
class Server;
}

namespace tinylm {

class BearerAuth;
class HttpEndpoint;
class MetricsEndpoint;
class ServerMetrics;
class TinyLmService;

struct ServerOptions {
  std::string listen = "127.0.0.1:50051";  // port 0 picks a free port
  RegistryOptions registry;
  ServiceLimits limits;
  // Let other processes listen on the same port (SO_REUSEPORT); without
  // it a port already in use is an error.
  bool reuse_port = false;
  TlsPem tls;                              // empty cert_chain: plaintext
  std::string auth_token;                  // empty: TinyLM calls need no token
  std::string metrics_listen;              // HOST:PORT of /metrics; empty: none
  std::string http_listen;  // HOST:PORT of the HTTP face; empty: none
  int http_threads = 32;    // its concurrent requests
  LogFormat log_format = LogFormat::kOff;  // one line per call
  std::ostream* log_stream = &std::cerr;   // outlives the server
};

// The health service name of a model.
std::string ModelHealthName(const std::string& model);

class TinyLmServer {
 public:
  static absl::StatusOr<std::unique_ptr<TinyLmServer>> Start(
      const ServerOptions& options);
  ~TinyLmServer();

  int port() const { return port_; }
  int metrics_port() const;  // 0 without a metrics endpoint
  int http_port() const;     // 0 without the HTTP face
  const ModelRegistry& registry() const { return *registry_; }

  // Reports NOT_SERVING, stops accepting calls, lets in-flight calls run
  // for `grace`, then cancels them, and stops the engine. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  TinyLmServer() = default;
  std::string RenderMetrics() const;

  // Declared in dependency order: later members use earlier ones, and are
  // destroyed first.
  std::unique_ptr<ServerMetrics> metrics_;  // null: no metrics
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<BearerAuth> auth_;
  std::unique_ptr<RequestLog> log_;
  std::unique_ptr<TinyLmService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MetricsEndpoint> metrics_endpoint_;
  std::unique_ptr<HttpEndpoint> http_;  // calls server_ in-process
  int port_ = 0;
  bool stopped_ = false;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_SERVER_H_
