// The Connect protocol's unary and server-streaming calls over HTTP/1.1.
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/http/connect_protocol.h"
#include "server/http/http_routes.h"
#include "server/http/json_text.h"
#include "server/http/status_mapping.h"
#include "server/rpc/grpc_status.h"
#include "util/quote.h"

namespace tinylm {
namespace {

void Fail(const grpc::Status& status, httplib::Response& res) {
  res.status = HttpStatusOf(status.error_code());
  res.set_content(ConnectErrorJson(status), kJsonReplyType);
}

// A streaming call's failure: HTTP 200 and an end-of-stream message that
// carries the error, as the protocol has it.
void FailStream(const grpc::Status& status, httplib::Response& res) {
  res.set_content(Envelope(kEnvelopeEndStream, EndOfStreamJson(status)),
                  kConnectStreamType);
}

grpc::Status InvalidArgument(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

// Connect-Timeout-Ms (at most 10 digits) and Connect-Protocol-Version.
grpc::Status ReadHeaders(const httplib::Request& req, CallOptions& options) {
  if (req.has_header("Connect-Protocol-Version") &&
      req.get_header_value("Connect-Protocol-Version") != "1") {
    return InvalidArgument(absl::StrCat(
        "Connect-Protocol-Version ",
        Quote(req.get_header_value("Connect-Protocol-Version")),
        " is not supported; this server speaks version 1"));
  }
  if (req.has_header("Connect-Timeout-Ms")) {
    const std::string value = req.get_header_value("Connect-Timeout-Ms");
    int64_t ms = 0;
    if (value.size() > 10 || !absl::SimpleAtoi(value, &ms) || ms <= 0) {
      return InvalidArgument(absl::StrCat("Connect-Timeout-Ms ", Quote(value),
                                          " is not a positive integer of at "
                                          "most 10 digits"));
    }
    options.timeout = absl::Milliseconds(ms);
  }
  return grpc::Status::OK;
}

// What a streaming response's provider holds between its calls.
struct StreamState {
  std::unique_ptr<JsonStream> stream;
  bool ended = false;
};

void Stream(std::shared_ptr<StreamState> state, httplib::Response& res) {
  res.set_chunked_content_provider(
      kConnectStreamType,
      [state](size_t, httplib::DataSink& sink) {
        std::string json;
        if (state->stream->Next(&json)) {
          const std::string frame = Envelope(0, json);
          // false: the client has gone, and the releaser ends the call.
          return sink.write(frame.data(), frame.size());
        }
        state->ended = true;
        const std::string end = Envelope(
            kEnvelopeEndStream, EndOfStreamJson(state->stream->Finish()));
        sink.write(end.data(), end.size());
        sink.done();
        return true;
      },
      [state](bool) {
        if (!state->ended) state->stream->Abandon();
      });
}

}  // namespace

void HandleConnect(JsonRpcBridge& bridge, const httplib::Request& req,
                   httplib::Response& res) {
  const std::string method = req.matches[1];
  if (!bridge.HasMethod(method)) {
    return Fail(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                             absl::StrCat("tinylm.v1.TinyLM has no method ",
                                          Quote(method))),
                res);
  }
  CallOptions options = CallOptionsOf(req);
  if (grpc::Status s = ReadHeaders(req, options); !s.ok()) return Fail(s, res);
  const bool streaming = bridge.IsServerStreaming(method);
  const std::string want = streaming ? kConnectStreamType : kConnectUnaryType;
  if (MediaTypeOf(req) != want) {
    res.status = 415;
    res.set_content(
        ConnectErrorJson(InvalidArgument(absl::StrCat(
            method, " takes Content-Type ", want, " (the JSON codec), not ",
            Quote(req.get_header_value("Content-Type"))))),
        kJsonReplyType);
    return;
  }
  if (!streaming) {
    std::string reply;
    const grpc::Status status = bridge.Unary(method, options, req.body, &reply);
    if (!status.ok()) return Fail(status, res);
    res.set_content(reply, kJsonReplyType);
    return;
  }
  absl::StatusOr<std::string> request = SingleEnvelopePayload(req.body);
  if (!request.ok()) return FailStream(ToGrpcStatus(request.status()), res);
  auto state = std::make_shared<StreamState>();
  const grpc::Status started =
      bridge.StartStream(method, options, *request, &state->stream);
  if (!started.ok()) return FailStream(started, res);
  Stream(std::move(state), res);
}

}  // namespace tinylm
