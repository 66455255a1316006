#include "client/health_check.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <future>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"

namespace tinylm {
namespace {

using google::protobuf::internal::WireFormatLite;

constexpr char kCheckMethod[] = "/grpc.health.v1.Health/Check";
constexpr int kServiceField = 1;  // HealthCheckRequest.service
constexpr int kStatusField = 1;   // HealthCheckResponse.status

}  // namespace

const char* ServingStatusName(ServingStatus status) {
  switch (status) {
    case ServingStatus::kUnknown:
      return "UNKNOWN";
    case ServingStatus::kServing:
      return "SERVING";
    case ServingStatus::kNotServing:
      return "NOT_SERVING";
    case ServingStatus::kServiceUnknown:
      return "SERVICE_UNKNOWN";
  }
  return "UNKNOWN";
}

std::string EncodeHealthCheckRequest(absl::string_view service) {
  std::string out;
  if (service.empty()) return out;  // proto3 leaves default fields out
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.WriteTag(WireFormatLite::MakeTag(
      kServiceField, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  coded.WriteVarint32(service.size());
  coded.WriteRaw(service.data(), service.size());
  return out;
}

absl::StatusOr<ServingStatus> DecodeHealthCheckResponse(
    absl::string_view bytes) {
  google::protobuf::io::CodedInputStream coded(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  uint32_t status = 0;
  while (const uint32_t tag = coded.ReadTag()) {
    if (tag == WireFormatLite::MakeTag(kStatusField,
                                       WireFormatLite::WIRETYPE_VARINT)) {
      if (!coded.ReadVarint32(&status)) break;
    } else if (!WireFormatLite::SkipField(&coded, tag)) {
      return absl::DataLossError("health check answer: malformed field");
    }
  }
  if (!coded.ConsumedEntireMessage() ||
      coded.CurrentPosition() != static_cast<int>(bytes.size())) {
    return absl::DataLossError("health check answer: malformed message");
  }
  if (status > 3) return ServingStatus::kUnknown;
  return static_cast<ServingStatus>(status);
}

grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                         grpc::ClientContext* context,
                         const std::string& service, ServingStatus* status) {
  const std::string request_bytes = EncodeHealthCheckRequest(service);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::GenericStub stub(channel);
  std::promise<grpc::Status> done;
  stub.UnaryCall(context, kCheckMethod, grpc::StubOptions(), &request,
                 &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status result = done.get_future().get();
  if (!result.ok()) return result;

  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS,
                        "health check answer could not be read");
  }
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  absl::StatusOr<ServingStatus> decoded = DecodeHealthCheckResponse(bytes);
  if (!decoded.ok()) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS,
                        std::string(decoded.status().message()));
  }
  *status = *decoded;
  return grpc::Status::OK;
}

}  // namespace tinylm
