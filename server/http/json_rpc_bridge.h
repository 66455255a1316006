// Calls of tinylm.v1.TinyLM with messages in protobuf's canonical JSON
// mapping, made over the server's in-process gRPC channel: authentication,
// admission, limits, validation, metrics and request logs are those of any
// gRPC call, so the HTTP face implements no RPC a second time.
#ifndef TINYLM_SERVER_HTTP_JSON_RPC_BRIDGE_H_
#define TINYLM_SERVER_HTTP_JSON_RPC_BRIDGE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/sync_stream.h>
#include <grpcpp/support/status.h>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tinylm/v1/tinylm.grpc.pb.h"

namespace tinylm {

// What an HTTP request passes on to its gRPC call.
struct CallOptions {
  std::vector<std::pair<std::string, std::string>> metadata;
  std::optional<absl::Duration> timeout;  // none: the server's default
};

// A ClientContext carrying `options`.
std::unique_ptr<grpc::ClientContext> MakeContext(const CallOptions& options);

// A server-streaming call in progress.
class JsonStream {
 public:
  virtual ~JsonStream() = default;
  // The next reply as JSON; false once the stream has ended (then Finish).
  virtual bool Next(std::string* reply_json) = 0;
  virtual grpc::Status Finish() = 0;
  // Ends the call early (the HTTP client went away): AbandonStream.
  virtual void Abandon() = 0;
};

// Ends a server-streaming call before its end: cancels it, reads what is
// still in flight and finishes it, as a ClientReader must be.
template <typename Reply>
void AbandonStream(grpc::ClientContext& context,
                   grpc::ClientReader<Reply>& reader) {
  context.TryCancel();
  Reply rest;
  while (reader.Read(&rest)) {
  }
  reader.Finish();
}

class JsonRpcBridge {
 public:
  explicit JsonRpcBridge(std::shared_ptr<grpc::Channel> channel);

  // Whether `method` (e.g. "TopK") is a method of the service, and streams.
  bool HasMethod(absl::string_view method) const;
  bool IsServerStreaming(absl::string_view method) const;

  // A unary call: `request_json` parsed (unknown fields refused), sent, and
  // the reply written as JSON.
  grpc::Status Unary(absl::string_view method, const CallOptions& options,
                     absl::string_view request_json, std::string* reply_json);

  // Starts a server-streaming call; a request that does not parse is
  // INVALID_ARGUMENT, before anything is sent.
  grpc::Status StartStream(absl::string_view method,
                           const CallOptions& options,
                           absl::string_view request_json,
                           std::unique_ptr<JsonStream>* stream);

  v1::TinyLM::Stub& stub() { return *stub_; }

  struct Method;

 private:
  std::unique_ptr<v1::TinyLM::Stub> stub_;
  std::map<std::string, std::shared_ptr<const Method>, std::less<>> methods_;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_HTTP_JSON_RPC_BRIDGE_H_
