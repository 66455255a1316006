// TinyLmServer: loads the models, serves the TinyLM service plus standard
// health checking and reflection, and shuts down gracefully. Used by main
// and by the in-process tests, so both run the same start-up path.
//
// Health service names: "" (the whole server), "tinylm.v1.TinyLM", and one
// per model: "tinylm.v1.TinyLM/<model name>". All are SERVING once every
// model is loaded and warmed up, NOT_SERVING from the start of shutdown.
#ifndef TINYLM_SERVER_SERVER_H_
#define TINYLM_SERVER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/engine/model_registry.h"
#include "server/validate.h"

namespace grpc {
class Server;
}

namespace tinylm {

class TinyLmService;

struct ServerOptions {
  std::string listen = "127.0.0.1:50051";  // port 0 picks a free port
  RegistryOptions registry;
  ServiceLimits limits;
};

// The health service name of a model.
std::string ModelHealthName(const std::string& model);

class TinyLmServer {
 public:
  static absl::StatusOr<std::unique_ptr<TinyLmServer>> Start(
      const ServerOptions& options);
  ~TinyLmServer();

  int port() const { return port_; }
  const ModelRegistry& registry() const { return *registry_; }

  // Reports NOT_SERVING, stops accepting calls, lets in-flight calls run
  // for `grace`, then cancels them, and stops the engine. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  TinyLmServer() = default;

  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<TinyLmService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool stopped_ = false;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_SERVER_H_
