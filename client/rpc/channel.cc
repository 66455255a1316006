#include "client/rpc/channel.h"

#include <grpcpp/support/client_interceptor.h>

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace tinylm {
namespace {

using grpc::experimental::ClientInterceptorFactoryInterface;
using grpc::experimental::ClientRpcInfo;
using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::Interceptor;
using grpc::experimental::InterceptorBatchMethods;

absl::StatusOr<std::string> ReadFile(const char* flag,
                                     const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  if (in) content << in.rdbuf();
  if (!in || content.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, "=", path, ": cannot read the file, or it is empty"));
  }
  return content.str();
}

// Adds the authorization metadata to every call of the channel, so that no
// call site has to remember it (plain-text channels included, where gRPC's
// call credentials would refuse to send it).
class BearerInterceptor final : public Interceptor {
 public:
  explicit BearerInterceptor(const std::string* header) : header_(header) {}
  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert(
          std::make_pair(std::string("authorization"), *header_));
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class BearerFactory final : public ClientInterceptorFactoryInterface {
 public:
  explicit BearerFactory(const std::string& token)
      : header_(absl::StrCat("Bearer ", token)) {}
  Interceptor* CreateClientInterceptor(ClientRpcInfo*) override {
    return new BearerInterceptor(&header_);
  }

 private:
  const std::string header_;  // lives as long as the channel
};

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const ChannelSecurity& security, grpc::ChannelArguments& arguments) {
  if (!security.uses_tls()) return grpc::InsecureChannelCredentials();
  if (security.tls_cert.empty() != security.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert and --tls_key go together: give both or neither");
  }
  grpc::SslCredentialsOptions ssl;
  if (!security.tls_ca.empty()) {
    absl::StatusOr<std::string> ca = ReadFile("tls_ca", security.tls_ca);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
  }
  if (!security.tls_cert.empty()) {
    absl::StatusOr<std::string> cert = ReadFile("tls_cert", security.tls_cert);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile("tls_key", security.tls_key);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  if (!security.tls_server_name.empty()) {
    arguments.SetSslTargetNameOverride(security.tls_server_name);
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeClientChannel(
    const std::string& target, const ChannelSecurity& security,
    grpc::ChannelArguments arguments) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      Credentials(security, arguments);
  if (!credentials.ok()) return credentials.status();
  std::vector<std::unique_ptr<ClientInterceptorFactoryInterface>> factories;
  if (!security.auth_token_file.empty()) {
    absl::StatusOr<std::string> content =
        ReadFile("auth_token_file", security.auth_token_file);
    if (!content.ok()) return content.status();
    const std::string token(absl::StripAsciiWhitespace(*content));
    if (token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--auth_token_file=", security.auth_token_file,
                       ": the file holds no token"));
    }
    factories.push_back(std::make_unique<BearerFactory>(token));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      target, *credentials, arguments, std::move(factories));
}

}  // namespace tinylm
