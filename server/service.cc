#include "server/service.h"

#include <chrono>
#include <memory>
#include <utility>

#include "server/convert.h"
#include "server/grpc_status.h"
#include "server/reactors.h"

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

// Validated requests -> a CollectReactor answering with `respond`.
grpc::ServerUnaryReactor* Collect(
    grpc::CallbackServerContext* context,
    absl::StatusOr<std::vector<ValidRequest>> requests,
    CollectReactor::Respond respond) {
  if (!requests.ok()) return Finished(context, requests.status());
  auto streams = SubmitAll(std::move(requests).value());
  if (!streams.ok()) return Finished(context, streams.status());
  return CollectReactor::Start(std::move(streams).value(), std::move(respond));
}

absl::StatusOr<std::vector<ValidRequest>> One(
    absl::StatusOr<ValidRequest> request) {
  if (!request.ok()) return request.status();
  std::vector<ValidRequest> out;
  out.push_back(std::move(request).value());
  return out;
}

}  // namespace

grpc::ServerWriteReactor<v1::GenerateResponse>* TinyLmService::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* request) {
  auto valid = ValidateGenerate(*request, *registry_, limits_,
                                Deadline(context));
  if (!valid.ok()) return FailedWriter(valid.status());
  const Tokenizer* tokenizer = valid->model->tokenizer.get();
  auto streams = SubmitAll(One(std::move(valid)).value());
  if (!streams.ok()) return FailedWriter(streams.status());
  return GenerateReactor::Start(streams->front(), tokenizer);
}

grpc::ServerUnaryReactor* TinyLmService::TopK(
    grpc::CallbackServerContext* context, const v1::TopKRequest* request,
    v1::TopKResponse* response) {
  auto valid = ValidateTopK(*request, *registry_, limits_, Deadline(context));
  const Tokenizer* tokenizer =
      valid.ok() ? valid->model->tokenizer.get() : nullptr;
  return Collect(context, One(std::move(valid)),
                 [tokenizer, response](const std::vector<Summary>& s) {
                   FillTopK(s[0].analysis->top_k, *tokenizer,
                            response->mutable_tokens());
                   response->set_prompt_tokens(s[0].prompt_tokens);
                   return absl::OkStatus();
                 });
}

grpc::ServerUnaryReactor* TinyLmService::AttentionMaps(
    grpc::CallbackServerContext* context,
    const v1::AttentionMapsRequest* request,
    v1::AttentionMapsResponse* response) {
  auto valid = ValidateAttentionMaps(*request, *registry_, limits_,
                                     Deadline(context));
  if (!valid.ok()) return Finished(context, valid.status());
  const Tokenizer* tokenizer = valid->model->tokenizer.get();
  const bool half = valid->request.analysis->half;
  std::vector<int64_t> prompt = valid->request.prompt;
  return Collect(context, One(std::move(valid)),
                 [tokenizer, half, prompt = std::move(prompt),
                  response](const std::vector<Summary>& s) {
                   FillAttention(prompt, s[0], half, *tokenizer, response);
                   return absl::OkStatus();
                 });
}

grpc::ServerUnaryReactor* TinyLmService::Compare(
    grpc::CallbackServerContext* context, const v1::CompareRequest* request,
    v1::CompareResponse* response) {
  auto valid = ValidateCompare(*request, *registry_, limits_,
                               Deadline(context));
  if (!valid.ok()) return Finished(context, valid.status());
  std::vector<const ServedModel*> models;
  for (const ValidRequest& v : *valid) models.push_back(v.model);
  response->set_seed(valid->front().request.sampling.seed);
  return Collect(context, std::move(valid),
                 [models, response](const std::vector<Summary>& s) {
                   for (size_t i = 0; i < models.size(); ++i) {
                     FillComparison(*models[i], s[i], response->add_results());
                   }
                   return absl::OkStatus();
                 });
}

grpc::ServerUnaryReactor* TinyLmService::Tokenize(
    grpc::CallbackServerContext* context, const v1::TokenizeRequest* request,
    v1::TokenizeResponse* response) {
  auto model = ValidateTokenize(*request, *registry_, limits_);
  if (!model.ok()) return Finished(context, model.status());
  const Tokenizer& tokenizer = *(*model)->tokenizer;
  auto ids = tokenizer.Encode(request->text());
  if (!ids.ok()) return Finished(context, ids.status());
  for (int64_t id : *ids) {
    response->add_ids(id);
    response->add_pieces(tokenizer.IdToPiece(id));
  }
  return Finished(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* TinyLmService::Detokenize(
    grpc::CallbackServerContext* context, const v1::DetokenizeRequest* request,
    v1::DetokenizeResponse* response) {
  auto valid = ValidateDetokenize(*request, *registry_);
  if (!valid.ok()) return Finished(context, valid.status());
  const Tokenizer& tokenizer = *valid->model->tokenizer;
  auto text = tokenizer.Decode(valid->ids);
  if (!text.ok()) return Finished(context, text.status());
  response->set_text(*text);
  std::string raw;
  for (int64_t id : valid->ids) raw += tokenizer.TokenBytes(id);
  response->set_raw(raw);
  return Finished(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* TinyLmService::ListModels(
    grpc::CallbackServerContext* context, const v1::ListModelsRequest*,
    v1::ListModelsResponse* response) {
  for (const auto& model : registry_->models()) {
    FillModelInfo(*model, response->add_models());
  }
  return Finished(context, absl::OkStatus());
}

}  // namespace tinylm
