// OpenAI's completions API over HTTP: a whole completion as JSON, or
// `stream: true` as server-sent events ending in `data: [DONE]`.
#include <memory>
#include <optional>
#include <string>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/http/http_routes.h"
#include "server/http/json_text.h"
#include "server/http/openai_completions.h"
#include "server/http/status_mapping.h"
#include "server/rpc/grpc_status.h"
#include "util/quote.h"

namespace tinylm {
namespace {

constexpr char kJson[] = "application/json";

void Fail(const grpc::Status& status, httplib::Response& res,
          const std::string& param = "") {
  res.status = HttpStatusOf(status.error_code());
  res.set_content(DumpJson(OpenAiError(status, param)), kJsonReplyType);
}

std::string CompletionId() {
  static absl::Mutex mu(absl::kConstInit);
  static absl::BitGen* bits = new absl::BitGen();
  absl::MutexLock lock(&mu);
  return absl::StrFormat("cmpl-%016x%08x", absl::Uniform<uint64_t>(*bits),
                         absl::Uniform<uint32_t>(*bits));
}

// One Generate call and what its answer is being built into.
struct Completion {
  explicit Completion(CompletionRequest r)
      : request(std::move(r)),
        builder(request, CompletionId(), absl::ToUnixSeconds(absl::Now())) {}

  CompletionRequest request;
  CompletionBuilder builder;
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader;
  v1::GenerateResponse next;  // read ahead: the first message, then each
  bool has_next = false;
  bool ended = false;

  void Read() { has_next = reader->Read(&next); }
  // The call's status once no message is left: a summary that says the
  // server cancelled the generation (shutdown) is UNAVAILABLE.
  grpc::Status Finish(const v1::GenerateSummary* summary) {
    grpc::Status status = reader->Finish();
    if (status.ok() && summary == nullptr) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          "the generation ended without a summary");
    }
    if (status.ok() &&
        summary->finish_reason() == v1::FINISH_REASON_CANCELLED) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the server cancelled the generation (shutting "
                          "down); retry on another server");
    }
    return status;
  }
};

void Whole(Completion& c, httplib::Response& res) {
  for (; c.has_next; c.Read()) {
    if (c.next.has_token()) {
      c.builder.Add(c.next.token());
      continue;
    }
    const v1::GenerateSummary summary = c.next.summary();
    while (c.reader->Read(&c.next)) {
    }
    const grpc::Status status = c.Finish(&summary);
    if (!status.ok()) return Fail(status, res);
    res.set_content(DumpJson(c.builder.Completion(summary)), kJsonReplyType);
    return;
  }
  Fail(c.Finish(nullptr), res);
}

bool SendEvent(httplib::DataSink& sink, const std::string& data) {
  const std::string event = absl::StrCat("data: ", data, "\n\n");
  return sink.write(event.data(), event.size());
}

void Streamed(std::shared_ptr<Completion> c, httplib::Response& res) {
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [c](size_t, httplib::DataSink& sink) {
        if (c->has_next && c->next.has_token()) {
          // false: the client has gone, and the releaser ends the call.
          if (!SendEvent(sink,
                         DumpJson(c->builder.TokenChunk(c->next.token())))) {
            return false;
          }
          c->Read();
          return true;
        }
        c->ended = true;
        std::optional<v1::GenerateSummary> summary;
        if (c->has_next) summary = c->next.summary();
        while (c->reader->Read(&c->next)) {
        }
        const grpc::Status status =
            c->Finish(summary.has_value() ? &*summary : nullptr);
        if (status.ok()) {
          SendEvent(sink, DumpJson(c->builder.FinalChunk(*summary)));
          if (c->request.include_usage) {
            SendEvent(sink, DumpJson(c->builder.UsageChunk(*summary)));
          }
          SendEvent(sink, "[DONE]");
        } else {
          SendEvent(sink, DumpJson(OpenAiError(status)));
        }
        sink.done();
        return true;
      },
      [c](bool) {
        if (!c->ended) AbandonStream(*c->context, *c->reader);
      });
}

}  // namespace

void HandleCompletions(JsonRpcBridge& bridge, const httplib::Request& req,
                       httplib::Response& res) {
  if (MediaTypeOf(req) != kJson) {
    res.status = 415;
    res.set_content(
        DumpJson(OpenAiError(grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            absl::StrCat("the body must be application/json, not ",
                         Quote(req.get_header_value("Content-Type")))))),
        kJsonReplyType);
    return;
  }
  std::string param;
  absl::StatusOr<CompletionRequest> request =
      ParseCompletionRequest(req.body, &param);
  if (!request.ok()) return Fail(ToGrpcStatus(request.status()), res, param);
  auto c = std::make_shared<Completion>(*std::move(request));
  c->context = MakeContext(CallOptionsOf(req));
  c->reader = bridge.stub().Generate(c->context.get(), c->request.generate);
  c->Read();
  if (!c->has_next) return Fail(c->Finish(nullptr), res);
  if (!c->request.stream) return Whole(*c, res);
  Streamed(std::move(c), res);
}

void HandleModels(JsonRpcBridge& bridge, const httplib::Request& req,
                  httplib::Response& res) {
  std::unique_ptr<grpc::ClientContext> context =
      MakeContext(CallOptionsOf(req));
  v1::ListModelsResponse models;
  const grpc::Status status = bridge.stub().ListModels(
      context.get(), v1::ListModelsRequest(), &models);
  if (!status.ok()) return Fail(status, res);
  res.set_content(DumpJson(OpenAiModelList(models)), kJsonReplyType);
}

}  // namespace tinylm
