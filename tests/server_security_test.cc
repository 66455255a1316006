// TLS, mutual TLS and the bearer token, end to end over loopback: servers
// started with the certificates of tests/tls/make_test_certs.sh, clients
// made by the CLI's own channel code (client/rpc/channel.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "client/rpc/channel.h"
#include "client/rpc/health_check.h"
#include "server/operations/tls.h"
#include "tests/ops_test_util.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

constexpr char kToken[] = "s3cret-token_for.tests";

std::shared_ptr<grpc::Channel> Channel(const TinyLmServer& server,
                                       const ChannelSecurity& security) {
  auto channel =
      MakeClientChannel(Address(server), security, grpc::ChannelArguments());
  EXPECT_TRUE(channel.ok()) << channel.status();
  return channel.ok() ? *channel : nullptr;
}

ChannelSecurity Tls() {
  ChannelSecurity security;
  security.tls_ca = CertPath("ca.pem");
  return security;
}

ChannelSecurity WithToken(ChannelSecurity security, const std::string& token) {
  security.auth_token_file = WriteScratchFile("token-" + token, token + "\n");
  return security;
}

// Each TinyLM method, called once with a valid request; its status.
struct NamedCall {
  std::string rpc;
  std::function<grpc::Status(v1::TinyLM::Stub&)> call;
};

std::vector<NamedCall> EveryMethod() {
  std::vector<NamedCall> calls;
  calls.push_back({"Generate", [](v1::TinyLM::Stub& stub) {
                     grpc::ClientContext context;
                     SetTestDeadline(context);
                     return GenerateAll(stub, context, SmallGenerate());
                   }});
  calls.push_back({"TopK", [](v1::TinyLM::Stub& stub) {
                     v1::TopKRequest request;
                     request.set_model(kOpsModel);
                     request.set_text(kOpsPrompt);
                     request.set_k(3);
                     grpc::ClientContext context;
                     SetTestDeadline(context);
                     v1::TopKResponse response;
                     return stub.TopK(&context, request, &response);
                   }});
  calls.push_back({"AttentionMaps", [](v1::TinyLM::Stub& stub) {
                     v1::AttentionMapsRequest request;
                     request.set_model(kOpsModel);
                     request.set_text(kOpsPrompt);
                     request.add_layers(0);
                     grpc::ClientContext context;
                     SetTestDeadline(context);
                     v1::AttentionMapsResponse response;
                     return stub.AttentionMaps(&context, request, &response);
                   }});
  calls.push_back({"Compare", [](v1::TinyLM::Stub& stub) {
                     v1::CompareRequest request;
                     request.set_prompt(kOpsPrompt);
                     request.set_max_new_tokens(2);
                     grpc::ClientContext context;
                     SetTestDeadline(context);
                     v1::CompareResponse response;
                     return stub.Compare(&context, request, &response);
                   }});
  calls.push_back({"Tokenize", [](v1::TinyLM::Stub& stub) {
                     v1::TokenizeRequest request;
                     request.set_model(kOpsModel);
                     request.set_text(kOpsPrompt);
                     grpc::ClientContext context;
                     SetTestDeadline(context);
                     v1::TokenizeResponse response;
                     return stub.Tokenize(&context, request, &response);
                   }});
  calls.push_back({"Detokenize", [](v1::TinyLM::Stub& stub) {
                     v1::DetokenizeRequest request;
                     request.set_model(kOpsModel);
                     request.add_ids(5);
                     grpc::ClientContext context;
                     SetTestDeadline(context);
                     v1::DetokenizeResponse response;
                     return stub.Detokenize(&context, request, &response);
                   }});
  calls.push_back({"ListModels", [](v1::TinyLM::Stub& stub) {
                     grpc::ClientContext context;
                     SetTestDeadline(context);
                     v1::ListModelsResponse response;
                     return stub.ListModels(&context, v1::ListModelsRequest(),
                                            &response);
                   }});
  return calls;
}

grpc::Status ListModels(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext context;
  SetTestDeadline(context);
  // A refused handshake must fail the call, not wait for a retry.
  context.set_wait_for_ready(false);
  v1::ListModelsResponse response;
  return v1::TinyLM::NewStub(channel)->ListModels(
      &context, v1::ListModelsRequest(), &response);
}

ServingStatus Health(const std::shared_ptr<grpc::Channel>& channel,
                     grpc::Status* status) {
  grpc::ClientContext context;
  SetTestDeadline(context);
  ServingStatus serving = grpc::health::v1::HealthCheckResponse::UNKNOWN;
  *status = CheckHealth(channel, &context, "", &serving);
  return serving;
}

// ------------------------------------------------------ TLS + bearer token

class TlsTokenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<TlsPem> tls = LoadTlsFiles(
        CertPath("server.pem"), CertPath("server.key"), /*client_ca=*/"");
    ASSERT_TRUE(tls.ok()) << tls.status();
    ServerOptions options;
    options.tls = *tls;
    options.auth_token = kToken;
    auto server = StartOpsServer(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  static TinyLmServer* server_;
};

TinyLmServer* TlsTokenTest::server_ = nullptr;

TEST_F(TlsTokenTest, PlaintextClientCannotConnect) {
  const grpc::Status status =
      ListModels(Channel(*server_, WithToken({}, kToken)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
}

TEST_F(TlsTokenTest, ServerNotTrustedByTheClientIsRefused) {
  ChannelSecurity security = WithToken({}, kToken);
  security.tls_ca = CertPath("other-ca.pem");
  const grpc::Status status = ListModels(Channel(*server_, security));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
}

TEST_F(TlsTokenTest, EveryMethodWorksWithTheToken) {
  auto stub = v1::TinyLM::NewStub(Channel(*server_, WithToken(Tls(), kToken)));
  for (const NamedCall& call : EveryMethod()) {
    const grpc::Status status = call.call(*stub);
    EXPECT_TRUE(status.ok()) << call.rpc << ": " << status.error_message();
  }
}

TEST_F(TlsTokenTest, EveryMethodRefusesAMissingToken) {
  auto stub = v1::TinyLM::NewStub(Channel(*server_, Tls()));
  for (const NamedCall& call : EveryMethod()) {
    const grpc::Status status = call.call(*stub);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << call.rpc;
    EXPECT_THAT(status.error_message(), HasSubstr("requires a bearer token"))
        << call.rpc;
  }
}

TEST_F(TlsTokenTest, EveryMethodRefusesAWrongToken) {
  for (const std::string& wrong :
       {std::string("s3cret-token_for.test"), std::string("x"),
        std::string(kToken) + "x"}) {
    auto stub = v1::TinyLM::NewStub(Channel(*server_, WithToken(Tls(), wrong)));
    for (const NamedCall& call : EveryMethod()) {
      const grpc::Status status = call.call(*stub);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << call.rpc << " with token " << wrong;
      EXPECT_THAT(status.error_message(), HasSubstr("not valid")) << call.rpc;
    }
  }
}

TEST_F(TlsTokenTest, OtherSchemeIsRefused) {
  auto channel = Channel(*server_, Tls());
  grpc::ClientContext context;
  SetTestDeadline(context);
  context.AddMetadata("authorization", std::string("Basic ") + kToken);
  v1::ListModelsResponse response;
  const grpc::Status status = v1::TinyLM::NewStub(channel)->ListModels(
      &context, v1::ListModelsRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("Bearer <token>"));
}

TEST_F(TlsTokenTest, HealthNeedsNoToken) {
  grpc::Status status;
  EXPECT_EQ(Health(Channel(*server_, Tls()), &status),
            grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// ---------------------------------------------------------------- mTLS

class MutualTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<TlsPem> tls = LoadTlsFiles(
        CertPath("server.pem"), CertPath("server.key"), CertPath("ca.pem"));
    ASSERT_TRUE(tls.ok()) << tls.status();
    ServerOptions options;
    options.tls = *tls;
    auto server = StartOpsServer(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  static ChannelSecurity WithClientCert(const std::string& name) {
    ChannelSecurity security = Tls();
    security.tls_cert = CertPath(name + ".pem");
    security.tls_key = CertPath(name + ".key");
    return security;
  }

  static TinyLmServer* server_;
};

TinyLmServer* MutualTlsTest::server_ = nullptr;

TEST_F(MutualTlsTest, ClientWithoutCertificateIsRejected) {
  const grpc::Status status = ListModels(Channel(*server_, Tls()));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  grpc::Status health;
  Health(Channel(*server_, Tls()), &health);
  EXPECT_EQ(health.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(MutualTlsTest, CertificateOfAnotherCaIsRejected) {
  const grpc::Status status =
      ListModels(Channel(*server_, WithClientCert("other-client")));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
}

TEST_F(MutualTlsTest, ClientWithCertificateWorks) {
  auto stub = v1::TinyLM::NewStub(Channel(*server_, WithClientCert("client")));
  for (const NamedCall& call : EveryMethod()) {
    const grpc::Status status = call.call(*stub);
    EXPECT_TRUE(status.ok()) << call.rpc << ": " << status.error_message();
  }
}

// ------------------------------------------------------- start-up checks

TEST(TlsFilesTest, RefusesUnusableFiles) {
  struct Case {
    std::string cert, key, ca, message;
  };
  const std::string missing = ScratchDir() + "/missing.pem";
  const std::string not_pem = WriteScratchFile("not.pem", "hello\n");
  for (const Case& c : std::vector<Case>{
           {CertPath("server.pem"), "", "", "go together"},
           {"", "", CertPath("ca.pem"), "needs --tls_cert"},
           {missing, CertPath("server.key"), "", "--tls_cert=" + missing},
           {not_pem, CertPath("server.key"), "", "no PEM certificate"},
           {CertPath("server.pem"), not_pem, "", "no unencrypted PEM"},
           {CertPath("server.pem"), CertPath("client.key"), "",
            "does not belong"},
           {CertPath("server.pem"), CertPath("server.key"), not_pem,
            "--tls_client_ca"},
       }) {
    absl::StatusOr<TlsPem> tls = LoadTlsFiles(c.cert, c.key, c.ca);
    ASSERT_FALSE(tls.ok()) << c.message;
    EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(tls.status().message()), HasSubstr(c.message));
  }
  EXPECT_TRUE(LoadTlsFiles("", "", "").ok());
}

}  // namespace
}  // namespace tinylm
