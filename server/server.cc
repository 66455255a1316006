#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"
#include "server/http/http_endpoint.h"
#include "server/operations/auth.h"
#include "server/operations/metrics.h"
#include "server/operations/metrics_http.h"
#include "server/rpc/service.h"

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

std::shared_ptr<grpc::ServerCredentials> Credentials(const TlsPem& tls) {
  if (tls.cert_chain.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(
      tls.client_ca.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = tls.client_ca;
  ssl.pem_key_cert_pairs.push_back({tls.private_key, tls.cert_chain});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

std::string ModelHealthName(const std::string& model) {
  return absl::StrCat(kServiceName, "/", model);
}

absl::StatusOr<std::unique_ptr<TinyLmServer>> TinyLmServer::Start(
    const ServerOptions& options) {
  std::unique_ptr<TinyLmServer> server(new TinyLmServer());
  RegistryOptions registry = options.registry;
  if (!options.metrics_listen.empty()) {
    if (!MetricsAvailable()) {
      // The same refusal as the endpoint's, before the models load.
      TINYLM_RETURN_IF_ERROR(
          MetricsEndpoint::Start(options.metrics_listen, nullptr).status());
    }
    server->metrics_ = std::make_unique<ServerMetrics>();
    ServerMetrics* metrics = server->metrics_.get();
    const int64_t slots = registry.scheduler.max_batch;
    registry.metrics = [metrics, slots](const std::string& model) {
      return metrics->ForModel(model, slots);
    };
  }
  TINYLM_ASSIGN_OR_RETURN(server->registry_, ModelRegistry::Load(registry));
  if (!options.auth_token.empty()) {
    server->auth_ = std::make_unique<BearerAuth>(options.auth_token);
  }
  server->log_ =
      std::make_unique<RequestLog>(options.log_format, options.log_stream);
  ServiceHooks hooks;
  hooks.auth = server->auth_.get();
  hooks.observers = {server->metrics_.get(), server->log_.get()};
  server->service_ = std::make_unique<TinyLmService>(server->registry_.get(),
                                                     options.limits, hooks);

  if (server->metrics_ != nullptr) {
    TinyLmServer* self = server.get();
    TINYLM_ASSIGN_OR_RETURN(
        server->metrics_endpoint_,
        MetricsEndpoint::Start(options.metrics_listen,
                               [self] { return self->RenderMetrics(); }));
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, Credentials(options.tls),
                           &server->port_);
  // gRPC sets SO_REUSEPORT by default: a second server on a busy port would
  // start and take half of the connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT,
                             options.reuse_port ? 1 : 0);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(options.limits.max_receive_message_bytes));
  builder.SetMaxSendMessageSize(
      static_cast<int>(options.limits.max_send_message_bytes));
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.listen,
        ": the address is not available or the port is in use (by another "
        "tinylm-server? --reuse_port lets servers share a port on purpose)"));
  }
  if (!options.http_listen.empty()) {
    grpc::ChannelArguments args;
    // The server bounds what it sends; its in-process client takes all.
    args.SetMaxReceiveMessageSize(-1);
    HttpOptions http;
    http.listen = options.http_listen;
    http.tls = options.tls;
    http.max_body_bytes = options.limits.max_receive_message_bytes;
    http.threads = options.http_threads;
    TINYLM_ASSIGN_OR_RETURN(
        server->http_,
        HttpEndpoint::Start(http, server->server_->InProcessChannel(args)));
  }
  SetHealth(*server->server_, *server->registry_, true);
  return server;
}

TinyLmServer::~TinyLmServer() { Shutdown(absl::ZeroDuration()); }

int TinyLmServer::http_port() const {
  return http_ == nullptr ? 0 : http_->port();
}

int TinyLmServer::metrics_port() const {
  return metrics_endpoint_ == nullptr ? 0 : metrics_endpoint_->port();
}

std::string TinyLmServer::RenderMetrics() const {
  std::vector<ModelLoad> loads;
  for (const auto& model : registry_->models()) {
    loads.push_back({model->name, model->engine->queued(),
                     service_->InFlight(model->name)});
  }
  return metrics_->Render(loads);
}

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
  // Every HTTP request's call has ended: its handler returns at once.
  http_.reset();
  // Scrapes were answered to the end; the endpoint reads what follows.
  metrics_endpoint_.reset();
}

}  // namespace tinylm
