// Standard services: grpc.health.v1 (overall and per model) and server
// reflection, asked with clients that know nothing of tinylm's code.
#include <future>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <grpcpp/generic/generic_stub.h>
#include <gmock/gmock.h>

#include "grpc_health_v1/health.grpc.pb.h"
#include "tests/server_test_util.h"

namespace tinylm {
namespace {

using HealthResponse = grpc::health::v1::HealthCheckResponse;

class HealthTest : public ServerTest {
 protected:
  static grpc::Status Check(const std::string& service,
                            HealthResponse* response) {
    auto stub = grpc::health::v1::Health::NewStub(channel());
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    return stub->Check(&context, request, response);
  }
};

TEST_F(HealthTest, OverallAndPerModelServing) {
  for (const std::string& service :
       {std::string(""), std::string("tinylm.v1.TinyLM"),
        ModelHealthName("base"), ModelHealthName("score_fcn")}) {
    HealthResponse response;
    const grpc::Status status = Check(service, &response);
    ASSERT_TRUE(status.ok()) << service << ": " << status.error_message();
    EXPECT_EQ(response.status(), HealthResponse::SERVING) << service;
  }
  HealthResponse response;
  EXPECT_EQ(Check(ModelHealthName("nope"), &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// One request, one response over the reflection service's bidi stream,
// with messages built from the descriptors gRPC's reflection library
// registers.
class ReflectionCall
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  ReflectionCall(grpc::GenericStub& stub, const grpc::ByteBuffer& request)
      : request_(request) {
    SetDeadline(context_);
    stub.PrepareBidiStreamingCall(
        &context_,
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override { read_ok_ = ok; }
  void OnDone(const grpc::Status& status) override { done_.set_value(status); }

  grpc::Status Wait() { return done_.get_future().get(); }
  bool read_ok() const { return read_ok_; }
  const grpc::ByteBuffer& response() const { return response_; }

 private:
  grpc::ClientContext context_;
  grpc::ByteBuffer request_, response_;
  bool read_ok_ = false;
  std::promise<grpc::Status> done_;
};

TEST_F(ServerTest, ReflectionListsTheServices) {
  namespace pb = google::protobuf;
  const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
  const pb::Descriptor* request_type = pool->FindMessageTypeByName(
      "grpc.reflection.v1alpha.ServerReflectionRequest");
  const pb::Descriptor* response_type = pool->FindMessageTypeByName(
      "grpc.reflection.v1alpha.ServerReflectionResponse");
  ASSERT_NE(request_type, nullptr);
  ASSERT_NE(response_type, nullptr);
  pb::DynamicMessageFactory factory(pool);
  std::unique_ptr<pb::Message> request(
      factory.GetPrototype(request_type)->New());
  request->GetReflection()->SetString(
      request.get(), request_type->FindFieldByName("list_services"), "*");
  const std::string bytes = request->SerializeAsString();
  grpc::Slice slice(bytes);
  grpc::ByteBuffer buffer(&slice, 1);

  grpc::GenericStub stub(channel());
  ReflectionCall call(stub, buffer);
  const grpc::Status status = call.Wait();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(call.read_ok());
  grpc::Slice reply;
  ASSERT_TRUE(call.response().TrySingleSlice(&reply).ok() ||
              call.response().DumpToSingleSlice(&reply).ok());
  std::unique_ptr<pb::Message> response(
      factory.GetPrototype(response_type)->New());
  ASSERT_TRUE(response->ParseFromArray(reply.begin(), reply.size()));
  const std::string text = response->DebugString();
  EXPECT_THAT(text, ::testing::HasSubstr("tinylm.v1.TinyLM"));
  EXPECT_THAT(text, ::testing::HasSubstr("grpc.health.v1.Health"));
}

}  // namespace
}  // namespace tinylm
