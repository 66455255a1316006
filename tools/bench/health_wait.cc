#include "tools/bench/health_wait.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <future>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace tinylm {
namespace bench {
namespace {

using google::protobuf::internal::WireFormatLite;

constexpr char kCheckMethod[] = "/grpc.health.v1.Health/Check";
constexpr uint32_t kServing = 1;  // HealthCheckResponse.ServingStatus

// The status field of a HealthCheckResponse; -1 if the bytes do not parse.
int64_t ParseStatus(const std::string& bytes) {
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(bytes.size()));
  uint32_t status = 0;
  while (const uint32_t tag = in.ReadTag()) {
    if (tag == WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_VARINT)) {
      if (!in.ReadVarint32(&status)) return -1;
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return -1;
    }
  }
  return in.ConsumedEntireMessage() ? status : -1;
}

// One Check of service "": the status number, or the call's error.
absl::Status CheckOnce(grpc::GenericStub& stub, int64_t* status) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(2));
  // HealthCheckRequest{service: ""} is zero bytes, but the buffer must
  // still hold a slice: a default ByteBuffer is "no message".
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, kCheckMethod, grpc::StubOptions(), &request,
                 &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  const grpc::Status result = done.get_future().get();
  if (!result.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(result.error_code()),
                        result.error_message());
  }
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) {
    return absl::DataLossError("health answer could not be read");
  }
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  *status = ParseStatus(bytes);
  if (*status < 0) return absl::DataLossError("health answer does not parse");
  return absl::OkStatus();
}

}  // namespace

absl::Status WaitForServing(const std::shared_ptr<grpc::Channel>& channel,
                            absl::Duration timeout, absl::Duration interval) {
  grpc::GenericStub stub(channel);
  const absl::Time give_up = absl::Now() + timeout;
  std::string last = "no answer";
  while (true) {
    int64_t status = 0;
    const absl::Status call = CheckOnce(stub, &status);
    if (call.ok() && status == kServing) return absl::OkStatus();
    last = call.ok() ? absl::StrCat("status ", status, " (not SERVING)")
                     : call.ToString();
    if (absl::Now() + interval > give_up) break;
    absl::SleepFor(interval);  // polling a remote state; nothing to wait on
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "server not SERVING after ", absl::FormatDuration(timeout), ": ", last));
}

}  // namespace bench
}  // namespace tinylm
