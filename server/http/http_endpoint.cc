#include "server/http/http_endpoint.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "server/http/connect_protocol.h"
#include "server/http/http_routes.h"
#include "server/http/json_rpc_bridge.h"
#include "server/http/json_text.h"
#include "server/http/openai_completions.h"
#include "server/http/workbench_page.h"
#include "server/operations/http_thread.h"
#include "util/quote.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

std::unique_ptr<httplib::Server> MakeServer(const TlsPem& tls) {
  if (tls.cert_chain.empty()) return std::make_unique<httplib::Server>();
  return std::make_unique<httplib::SSLServer>(
      [&tls](SSL_CTX& ctx) { return ConfigureServerTls(ctx, tls); });
}

// `status` as the error body of the path's API: OpenAI's under /v1/,
// Connect's elsewhere.
void SetErrorBody(const httplib::Request& req, const grpc::Status& status,
                  httplib::Response& res) {
  res.set_content(absl::StartsWith(req.path, "/v1/")
                      ? DumpJson(OpenAiError(status))
                      : ConnectErrorJson(status),
                  kJsonReplyType);
}

// A body for the errors cpp-httplib answers itself (no route, a body over
// the limit, a request it cannot read), in the path's own error format.
void DescribeError(const HttpOptions& options, const httplib::Request& req,
                   httplib::Response& res) {
  if (!res.body.empty()) return;  // a handler's own error
  grpc::StatusCode code = grpc::StatusCode::INVALID_ARGUMENT;
  std::string message = absl::StrCat("HTTP ", res.status);
  if (res.status == 404) {
    code = grpc::StatusCode::NOT_FOUND;
    message = absl::StrCat(
        "no such endpoint: ", req.method, " ", Quote(req.path),
        " (POST /tinylm.v1.TinyLM/<Method>, POST /v1/completions, GET "
        "/v1/models)");
  } else if (res.status == 413) {
    code = grpc::StatusCode::RESOURCE_EXHAUSTED;
    message = absl::StrCat("the request body exceeds ", options.max_body_bytes,
                           " bytes (--max_receive_message_bytes)");
  }
  SetErrorBody(req, grpc::Status(code, message), res);
}

}  // namespace

struct HttpEndpoint::Impl {
  explicit Impl(std::shared_ptr<grpc::Channel> channel)
      : bridge(std::move(channel)) {}
  JsonRpcBridge bridge;
  std::unique_ptr<HttpThread> http;  // stopped before the bridge goes
};

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(
    const HttpOptions& options, std::shared_ptr<grpc::Channel> channel) {
  auto impl = std::make_unique<Impl>(std::move(channel));
  JsonRpcBridge* bridge = &impl->bridge;
  std::unique_ptr<httplib::Server> http = MakeServer(options.tls);
  const int threads = options.threads;
  http->new_task_queue = [threads] {
    return new httplib::ThreadPool(threads);
  };
  http->set_payload_max_length(options.max_body_bytes);
  http->Post(R"(/tinylm\.v1\.TinyLM/([A-Za-z]+))",
             [bridge](const httplib::Request& req, httplib::Response& res) {
               HandleConnect(*bridge, req, res);
             });
  http->Post("/v1/completions",
             [bridge](const httplib::Request& req, httplib::Response& res) {
               HandleCompletions(*bridge, req, res);
             });
  http->Get("/v1/models",
            [bridge](const httplib::Request& req, httplib::Response& res) {
              HandleModels(*bridge, req, res);
            });
  http->Get("/", [](const httplib::Request&, httplib::Response& res) {
    const absl::string_view page = WorkbenchPage();
    res.set_content(page.data(), page.size(), "text/html; charset=utf-8");
  });
  http->set_error_handler(
      [options](const httplib::Request& req, httplib::Response& res) {
        DescribeError(options, req, res);
      });
  http->set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res,
         std::exception_ptr) {
        res.status = 500;
        SetErrorBody(req,
                     grpc::Status(grpc::StatusCode::INTERNAL,
                                  "the request failed inside the server"),
                     res);
      });
  TINYLM_ASSIGN_OR_RETURN(
      impl->http, HttpThread::Start(std::move(http), "http_listen",
                                    options.listen));
  const int port = impl->http->port();
  return std::unique_ptr<HttpEndpoint>(new HttpEndpoint(std::move(impl), port));
}

HttpEndpoint::HttpEndpoint(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

HttpEndpoint::~HttpEndpoint() = default;

CallOptions CallOptionsOf(const httplib::Request& req) {
  CallOptions options;
  if (req.has_header("Authorization")) {
    options.metadata.emplace_back("authorization",
                                  req.get_header_value("Authorization"));
  }
  return options;
}

std::string MediaTypeOf(const httplib::Request& req) {
  std::string type = req.get_header_value("Content-Type");
  type = type.substr(0, type.find(';'));
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(type));
}

}  // namespace tinylm
