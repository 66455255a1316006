#include "server/http/json_rpc_bridge.h"

#include <functional>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "util/quote.h"

namespace tinylm {

using Stub = v1::TinyLM::Stub;

struct JsonRpcBridge::Method {
  bool streaming = false;
  std::function<grpc::Status(Stub&, grpc::ClientContext*, absl::string_view,
                             std::string*)>
      unary;
  std::function<grpc::Status(Stub&, std::unique_ptr<grpc::ClientContext>,
                             absl::string_view, std::unique_ptr<JsonStream>*)>
      start;
};

namespace {

template <typename Message>
grpc::Status FromJson(absl::string_view json, Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message,
      options);
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(
      grpc::StatusCode::INVALID_ARGUMENT,
      absl::StrCat("the request is not a JSON ", message->GetTypeName(), ": ",
                   Quote(std::string(status.message()))));
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  // Cannot fail for a message that serialized: the mapping is total.
  (void)google::protobuf::util::MessageToJsonString(message, &json);
  return json;
}

template <typename Request, typename Reply>
std::shared_ptr<const JsonRpcBridge::Method> UnaryMethod(
    grpc::Status (Stub::*call)(grpc::ClientContext*, const Request&, Reply*)) {
  auto method = std::make_shared<JsonRpcBridge::Method>();
  method->unary = [call](Stub& stub, grpc::ClientContext* context,
                         absl::string_view json, std::string* reply_json) {
    Request request;
    if (grpc::Status s = FromJson(json, &request); !s.ok()) return s;
    Reply reply;
    grpc::Status status = (stub.*call)(context, request, &reply);
    if (status.ok()) *reply_json = ToJson(reply);
    return status;
  };
  return method;
}

template <typename Reply>
class ReaderStream : public JsonStream {
 public:
  ReaderStream(std::unique_ptr<grpc::ClientContext> context,
               std::function<std::unique_ptr<grpc::ClientReader<Reply>>(
                   grpc::ClientContext*)>
                   start)
      : context_(std::move(context)), reader_(start(context_.get())) {}

  bool Next(std::string* reply_json) override {
    Reply reply;
    if (!reader_->Read(&reply)) return false;
    *reply_json = ToJson(reply);
    return true;
  }
  grpc::Status Finish() override { return reader_->Finish(); }
  void Abandon() override { AbandonStream(*context_, *reader_); }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReader<Reply>> reader_;
};

template <typename Request, typename Reply>
std::shared_ptr<const JsonRpcBridge::Method> StreamingMethod(
    std::unique_ptr<grpc::ClientReader<Reply>> (Stub::*call)(
        grpc::ClientContext*, const Request&)) {
  auto method = std::make_shared<JsonRpcBridge::Method>();
  method->streaming = true;
  method->start = [call](Stub& stub,
                         std::unique_ptr<grpc::ClientContext> context,
                         absl::string_view json,
                         std::unique_ptr<JsonStream>* stream) {
    auto request = std::make_shared<Request>();
    if (grpc::Status s = FromJson(json, request.get()); !s.ok()) return s;
    *stream = std::make_unique<ReaderStream<Reply>>(
        std::move(context), [&stub, call, request](grpc::ClientContext* c) {
          return (stub.*call)(c, *request);
        });
    return grpc::Status::OK;
  };
  return method;
}

}  // namespace

std::unique_ptr<grpc::ClientContext> MakeContext(const CallOptions& options) {
  auto context = std::make_unique<grpc::ClientContext>();
  for (const auto& [key, value] : options.metadata) {
    context->AddMetadata(key, value);
  }
  if (options.timeout.has_value()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + *options.timeout));
  }
  return context;
}

JsonRpcBridge::JsonRpcBridge(std::shared_ptr<grpc::Channel> channel)
    : stub_(v1::TinyLM::NewStub(std::move(channel))) {
  methods_ = {
      {"Generate", StreamingMethod(&Stub::Generate)},
      {"TopK", UnaryMethod(&Stub::TopK)},
      {"AttentionMaps", UnaryMethod(&Stub::AttentionMaps)},
      {"StreamAttentionMaps", StreamingMethod(&Stub::StreamAttentionMaps)},
      {"Compare", UnaryMethod(&Stub::Compare)},
      {"LogitLens", UnaryMethod(&Stub::LogitLens)},
      {"Score", UnaryMethod(&Stub::Score)},
      {"Tokenize", UnaryMethod(&Stub::Tokenize)},
      {"Detokenize", UnaryMethod(&Stub::Detokenize)},
      {"ListModels", UnaryMethod(&Stub::ListModels)},
  };
}

bool JsonRpcBridge::HasMethod(absl::string_view method) const {
  return methods_.find(method) != methods_.end();
}

bool JsonRpcBridge::IsServerStreaming(absl::string_view method) const {
  auto it = methods_.find(method);
  return it != methods_.end() && it->second->streaming;
}

grpc::Status JsonRpcBridge::Unary(absl::string_view method,
                                  const CallOptions& options,
                                  absl::string_view request_json,
                                  std::string* reply_json) {
  auto it = methods_.find(method);
  if (it == methods_.end() || it->second->streaming) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        absl::StrCat(Quote(method), " is not a unary method"));
  }
  std::unique_ptr<grpc::ClientContext> context = MakeContext(options);
  return it->second->unary(*stub_, context.get(), request_json, reply_json);
}

grpc::Status JsonRpcBridge::StartStream(absl::string_view method,
                                        const CallOptions& options,
                                        absl::string_view request_json,
                                        std::unique_ptr<JsonStream>* stream) {
  auto it = methods_.find(method);
  if (it == methods_.end() || !it->second->streaming) {
    return grpc::Status(
        grpc::StatusCode::UNIMPLEMENTED,
        absl::StrCat(Quote(method), " is not a server-streaming method"));
  }
  return it->second->start(*stub_, MakeContext(options), request_json,
                           stream);
}

}  // namespace tinylm
