#include "server/service.h"

#include <chrono>
#include <functional>
#include <memory>
#include <utility>

#include "models/status_macros.h"
#include "server/convert.h"
#include "server/grpc_status.h"
#include "server/reactors.h"
#include "server/wire.h"

namespace tinylm {
namespace {

absl::Time Deadline(const grpc::CallbackServerContext* context) {
  const auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

grpc::ServerUnaryReactor* Finished(grpc::CallbackServerContext* context,
                                   const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Submits every request; on a refusal cancels those already queued.
absl::StatusOr<std::vector<std::shared_ptr<GenerationStream>>> SubmitAll(
    std::vector<ValidRequest> requests) {
  std::vector<std::shared_ptr<GenerationStream>> streams;
  for (ValidRequest& valid : requests) {
    auto job = std::make_shared<Job>();
    job->request = std::move(valid.request);
    job->stream = std::make_shared<GenerationStream>();
    const absl::Status status = valid.model->scheduler->Submit(job);
    if (!status.ok()) {
      for (auto& stream : streams) stream->Cancel();
      return status;
    }
    streams.push_back(job->stream);
  }
  return streams;
}

std::vector<ValidRequest> One(ValidRequest request) {
  std::vector<ValidRequest> out;
  out.push_back(std::move(request));
  return out;
}

// What a unary handler does with a valid request: wait for engine streams
// (none for the synchronous ones), then fill the response from their
// summaries.
template <typename Response>
struct Plan {
  std::vector<std::shared_ptr<GenerationStream>> streams;
  std::function<absl::Status(const std::vector<Summary>&, Response&)> fill;
};

// Parses the request, runs `body` (request -> Plan), and answers with the
// filled response serialized into `raw_response`.
template <typename Request, typename Response, typename Body>
grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context,
                                const grpc::ByteBuffer* raw_request,
                                grpc::ByteBuffer* raw_response, Body body) {
  Request request;
  const absl::Status parsed = ParseRequest(*raw_request, &request);
  if (!parsed.ok()) return Finished(context, parsed);
  absl::StatusOr<Plan<Response>> plan = body(request);
  if (!plan.ok()) return Finished(context, plan.status());
  auto respond = [fill = std::move(plan->fill),
                  raw_response](const std::vector<Summary>& summaries) {
    Response response;
    const absl::Status status = fill(summaries, response);
    if (status.ok()) SerializeResponse(response, raw_response);
    return status;
  };
  if (plan->streams.empty()) return Finished(context, respond({}));
  return CollectReactor::Start(std::move(plan->streams), std::move(respond));
}

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* TinyLmService::Generate(
    grpc::CallbackServerContext* context, const Raw* raw_request) {
  v1::GenerateRequest request;
  const absl::Status parsed = ParseRequest(*raw_request, &request);
  if (!parsed.ok()) return FailedWriter(parsed);
  auto valid =
      ValidateGenerate(request, *registry_, limits_, Deadline(context));
  if (!valid.ok()) return FailedWriter(valid.status());
  const Tokenizer* tokenizer = valid->model->tokenizer.get();
  auto streams = SubmitAll(One(std::move(valid).value()));
  if (!streams.ok()) return FailedWriter(streams.status());
  return GenerateReactor::Start(streams->front(), tokenizer);
}

grpc::ServerUnaryReactor* TinyLmService::TopK(
    grpc::CallbackServerContext* context, const Raw* request, Raw* response) {
  using Out = v1::TopKResponse;
  return Unary<v1::TopKRequest, Out>(
      context, request, response,
      [&](const v1::TopKRequest& in) -> absl::StatusOr<Plan<Out>> {
        TINYLM_ASSIGN_OR_RETURN(
            ValidRequest valid,
            ValidateTopK(in, *registry_, limits_, Deadline(context)));
        const Tokenizer* tokenizer = valid.model->tokenizer.get();
        Plan<Out> plan;
        TINYLM_ASSIGN_OR_RETURN(plan.streams,
                                SubmitAll(One(std::move(valid))));
        plan.fill = [tokenizer](const std::vector<Summary>& s, Out& out) {
          FillTopK(s[0].analysis->top_k, *tokenizer, out.mutable_tokens());
          out.set_prompt_tokens(s[0].prompt_tokens);
          return absl::OkStatus();
        };
        return plan;
      });
}

grpc::ServerUnaryReactor* TinyLmService::AttentionMaps(
    grpc::CallbackServerContext* context, const Raw* request, Raw* response) {
  using Out = v1::AttentionMapsResponse;
  return Unary<v1::AttentionMapsRequest, Out>(
      context, request, response,
      [&](const v1::AttentionMapsRequest& in) -> absl::StatusOr<Plan<Out>> {
        TINYLM_ASSIGN_OR_RETURN(
            ValidRequest valid,
            ValidateAttentionMaps(in, *registry_, limits_, Deadline(context)));
        const Tokenizer* tokenizer = valid.model->tokenizer.get();
        const bool half = valid.request.analysis->half;
        std::vector<int64_t> prompt = valid.request.prompt;
        Plan<Out> plan;
        TINYLM_ASSIGN_OR_RETURN(plan.streams,
                                SubmitAll(One(std::move(valid))));
        plan.fill = [tokenizer, half, prompt = std::move(prompt)](
                        const std::vector<Summary>& s, Out& out) {
          FillAttention(prompt, s[0], half, *tokenizer, &out);
          return absl::OkStatus();
        };
        return plan;
      });
}

grpc::ServerUnaryReactor* TinyLmService::Compare(
    grpc::CallbackServerContext* context, const Raw* request, Raw* response) {
  using Out = v1::CompareResponse;
  return Unary<v1::CompareRequest, Out>(
      context, request, response,
      [&](const v1::CompareRequest& in) -> absl::StatusOr<Plan<Out>> {
        TINYLM_ASSIGN_OR_RETURN(
            std::vector<ValidRequest> valid,
            ValidateCompare(in, *registry_, limits_, Deadline(context)));
        std::vector<const ServedModel*> models;
        for (const ValidRequest& v : valid) models.push_back(v.model);
        const uint64_t seed = valid.front().request.sampling.seed;
        Plan<Out> plan;
        TINYLM_ASSIGN_OR_RETURN(plan.streams, SubmitAll(std::move(valid)));
        plan.fill = [models, seed](const std::vector<Summary>& s, Out& out) {
          out.set_seed(seed);
          for (size_t i = 0; i < models.size(); ++i) {
            FillComparison(*models[i], s[i], out.add_results());
          }
          return absl::OkStatus();
        };
        return plan;
      });
}

grpc::ServerUnaryReactor* TinyLmService::Tokenize(
    grpc::CallbackServerContext* context, const Raw* request, Raw* response) {
  using Out = v1::TokenizeResponse;
  return Unary<v1::TokenizeRequest, Out>(
      context, request, response,
      [&](const v1::TokenizeRequest& in) -> absl::StatusOr<Plan<Out>> {
        TINYLM_ASSIGN_OR_RETURN(ServedModel * model,
                                ValidateTokenize(in, *registry_, limits_));
        const Tokenizer* tokenizer = model->tokenizer.get();
        TINYLM_ASSIGN_OR_RETURN(std::vector<int64_t> ids,
                                tokenizer->Encode(in.text()));
        Plan<Out> plan;
        plan.fill = [tokenizer, ids](const std::vector<Summary>&, Out& out) {
          for (int64_t id : ids) {
            out.add_ids(id);
            out.add_pieces(tokenizer->IdToPiece(id));
          }
          return absl::OkStatus();
        };
        return plan;
      });
}

grpc::ServerUnaryReactor* TinyLmService::Detokenize(
    grpc::CallbackServerContext* context, const Raw* request, Raw* response) {
  using Out = v1::DetokenizeResponse;
  return Unary<v1::DetokenizeRequest, Out>(
      context, request, response,
      [&](const v1::DetokenizeRequest& in) -> absl::StatusOr<Plan<Out>> {
        TINYLM_ASSIGN_OR_RETURN(ValidDetokenize valid,
                                ValidateDetokenize(in, *registry_));
        const Tokenizer* tokenizer = valid.model->tokenizer.get();
        TINYLM_ASSIGN_OR_RETURN(std::string text, tokenizer->Decode(valid.ids));
        std::string raw;
        for (int64_t id : valid.ids) raw += tokenizer->TokenBytes(id);
        Plan<Out> plan;
        plan.fill = [text, raw](const std::vector<Summary>&, Out& out) {
          out.set_text(text);
          out.set_raw(raw);
          return absl::OkStatus();
        };
        return plan;
      });
}

grpc::ServerUnaryReactor* TinyLmService::ListModels(
    grpc::CallbackServerContext* context, const Raw* request, Raw* response) {
  using Out = v1::ListModelsResponse;
  return Unary<v1::ListModelsRequest, Out>(
      context, request, response,
      [&](const v1::ListModelsRequest&) -> absl::StatusOr<Plan<Out>> {
        Plan<Out> plan;
        plan.fill = [this](const std::vector<Summary>&, Out& out) {
          for (const auto& model : registry_->models()) {
            FillModelInfo(*model, out.add_models());
          }
          return absl::OkStatus();
        };
        return plan;
      });
}

}  // namespace tinylm
