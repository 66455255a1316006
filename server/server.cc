#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "models/status_macros.h"
#include "server/service.h"

namespace tinylm {
namespace {

constexpr char kServiceName[] = "tinylm.v1.TinyLM";

void SetHealth(grpc::Server& server, const ModelRegistry& registry,
               bool serving) {
  grpc::HealthCheckServiceInterface* health = server.GetHealthCheckService();
  health->SetServingStatus("", serving);
  health->SetServingStatus(kServiceName, serving);
  for (const auto& model : registry.models()) {
    health->SetServingStatus(ModelHealthName(model->name), serving);
  }
}

}  // namespace

std::string ModelHealthName(const std::string& model) {
  return absl::StrCat(kServiceName, "/", model);
}

absl::StatusOr<std::unique_ptr<TinyLmServer>> TinyLmServer::Start(
    const ServerOptions& options) {
  std::unique_ptr<TinyLmServer> server(new TinyLmServer());
  TINYLM_ASSIGN_OR_RETURN(server->registry_,
                          ModelRegistry::Load(options.registry));
  server->service_ =
      std::make_unique<TinyLmService>(server->registry_.get(), options.limits);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(),
                           &server->port_);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen));
  }
  SetHealth(*server->server_, *server->registry_, true);
  return server;
}

TinyLmServer::~TinyLmServer() { Shutdown(absl::ZeroDuration()); }

void TinyLmServer::Shutdown(absl::Duration grace) {
  if (stopped_) return;
  stopped_ = true;
  if (server_ != nullptr) {
    SetHealth(*server_, *registry_, false);
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  }
  // The schedulers run until every call has ended: cancelled streams are
  // ended by them, and Shutdown above waits for those calls.
  if (registry_ != nullptr) registry_->Shutdown();
  if (server_ != nullptr) server_->Wait();
}

}  // namespace tinylm
