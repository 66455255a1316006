#include "server/http/http_endpoint.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>

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

// Each PEM object of `pem`, in order.
template <typename T, typename Read>
std::vector<T*> ReadPem(const std::string& pem, Read read) {
  std::vector<T*> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (T* item = read(bio, nullptr, nullptr, nullptr)) out.push_back(item);
  BIO_free(bio);
  ERR_clear_error();  // the end of the input reads as an error
  return out;
}

// The certificate chain, key and client CAs of `tls` (already checked by
// LoadTlsPem) into `ctx`.
bool SetUpTls(SSL_CTX& ctx, const TlsPem& tls) {
  std::vector<X509*> chain = ReadPem<X509>(tls.cert_chain, PEM_read_bio_X509);
  std::vector<EVP_PKEY*> keys =
      ReadPem<EVP_PKEY>(tls.private_key, PEM_read_bio_PrivateKey);
  bool ok = !chain.empty() && keys.size() == 1 &&
            SSL_CTX_use_certificate(&ctx, chain[0]) == 1 &&
            SSL_CTX_use_PrivateKey(&ctx, keys[0]) == 1;
  for (size_t i = 1; i < chain.size(); ++i) {
    // The context takes ownership of an extra chain certificate.
    if (SSL_CTX_add_extra_chain_cert(&ctx, chain[i]) != 1) ok = false;
  }
  if (!chain.empty()) X509_free(chain[0]);
  for (EVP_PKEY* key : keys) EVP_PKEY_free(key);
  if (ok && !tls.client_ca.empty()) {
    X509_STORE* store = SSL_CTX_get_cert_store(&ctx);
    for (X509* ca : ReadPem<X509>(tls.client_ca, PEM_read_bio_X509)) {
      X509_STORE_add_cert(store, ca);
      X509_free(ca);
    }
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       nullptr);
  }
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  return ok;
}

std::unique_ptr<httplib::Server> MakeServer(const TlsPem& tls) {
  if (tls.cert_chain.empty()) return std::make_unique<httplib::Server>();
  return std::make_unique<httplib::SSLServer>(
      [&tls](SSL_CTX& ctx) { return SetUpTls(ctx, tls); });
}

bool IsOpenAiPath(const std::string& path) {
  return absl::StartsWith(path, "/v1/");
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
  const grpc::Status status(code, message);
  res.set_content(IsOpenAiPath(req.path) ? DumpJson(OpenAiError(status))
                                         : ConnectErrorJson(status),
                  kJsonReplyType);
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
        const grpc::Status status(grpc::StatusCode::INTERNAL,
                                  "the request failed inside the server");
        res.set_content(IsOpenAiPath(req.path) ? DumpJson(OpenAiError(status))
                                               : ConnectErrorJson(status),
                        kJsonReplyType);
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
