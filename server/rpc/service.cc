#include "server/rpc/service.h"

#include <chrono>
#include <functional>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/status_macros.h"
#include "server/operations/refusals.h"
#include "server/rpc/convert.h"
#include "server/rpc/convert_inspection.h"
#include "server/rpc/grpc_status.h"
#include "server/rpc/reactors.h"
#include "server/rpc/unary_call.h"
#include "server/rpc/wire.h"
#include "util/quote.h"

namespace tinylm {
namespace {

// Threads that write streamed tokens out (write_pump.h). Each write is
// short and asynchronous; a few keep up with every scheduler at once.
constexpr int kWriteThreads = 4;

std::vector<std::string> ModelNames(const ModelRegistry& registry) {
  std::vector<std::string> names;
  for (const auto& model : registry.models()) names.push_back(model->name);
  return names;
}

}  // namespace

TinyLmService::TinyLmService(ModelRegistry* registry,
                             const ServiceLimits& limits,
                             const ServiceHooks& hooks)
    : registry_(registry),
      limits_(limits),
      hooks_(hooks),
      admission_(ModelNames(*registry), limits.max_streams_per_model,
                 limits.retry_after),
      write_pump_(kWriteThreads) {}

TinyLmService::Call TinyLmService::Begin(grpc::CallbackServerContext* context,
                                         const char* rpc) {
  Call call;
  call.record = std::make_shared<CallRecord>(context, rpc, hooks_.observers);
  if (hooks_.auth != nullptr) {
    call.allowed =
        hooks_.auth->Check(ClientMetadata(*context, "authorization"));
  }
  return call;
}

// The client's deadline, else the server's default (--default_deadline).
absl::Time TinyLmService::Deadline(
    const grpc::CallbackServerContext* context) const {
  const auto deadline = context->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    return absl::FromChrono(deadline);
  }
  if (limits_.default_deadline == absl::InfiniteDuration()) {
    return absl::InfiniteFuture();
  }
  return absl::Now() + limits_.default_deadline;
}

// Admits every request (a ticket per model), then queues it; on a refusal
// cancels those already queued. A full queue is a load refusal like the
// admission limit, with the same retry hint.
absl::StatusOr<std::vector<std::shared_ptr<GenerationStream>>>
TinyLmService::Submit(std::vector<ValidRequest> requests, CallRecord& call) {
  std::vector<std::shared_ptr<GenerationStream>> streams;
  auto refuse = [&streams](absl::Status status) {
    for (auto& stream : streams) stream->Cancel();
    return status;
  };
  for (ValidRequest& valid : requests) {
    const std::string& model = valid.model->name;
    call.AddPromptTokens(valid.request.prompt.size());
    absl::StatusOr<Admission::Ticket> ticket = admission_.Acquire(model);
    if (!ticket.ok()) return refuse(ticket.status());
    auto job = std::make_shared<Job>();
    job->request = std::move(valid.request);
    job->stream = std::make_shared<GenerationStream>();
    absl::Status status = valid.model->engine->Submit(job);
    if (status.code() == absl::StatusCode::kResourceExhausted) {
      status = LoadRefusal(absl::StrCat("model ", Quote(model), ": ",
                                        status.message(), " (--max_queued)"),
                           limits_.retry_after);
    }
    if (!status.ok()) return refuse(status);
    call.Hold(std::move(ticket).value());
    streams.push_back(job->stream);
  }
  return streams;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* TinyLmService::Generate(
    grpc::CallbackServerContext* context, const Raw* raw_request) {
  Call call = Begin(context, "Generate");
  CallRecord& record = *call.record;
  if (!call.allowed.ok()) return FailedWriter(record.End(call.allowed));
  v1::GenerateRequest request;
  const absl::Status parsed = ParseRequest(*raw_request, &request);
  if (!parsed.ok()) return FailedWriter(record.End(parsed));
  record.SetModel(request.model());
  auto valid =
      ValidateGenerate(request, *registry_, limits_, Deadline(context));
  if (!valid.ok()) return FailedWriter(record.End(valid.status()));
  const Tokenizer* tokenizer = valid->model->tokenizer.get();
  const int64_t tokens_per_message = valid->request.max_tokens_per_message;
  auto streams = Submit(One(std::move(valid).value()), record);
  if (!streams.ok()) return FailedWriter(record.End(streams.status()));
  return GenerateReactor::Start(streams->front(), tokenizer,
                                std::move(call.record), &write_pump_,
                                tokens_per_message);
}

grpc::ServerUnaryReactor* TinyLmService::TopK(
    grpc::CallbackServerContext* context, const Raw* request, Raw* response) {
  using Out = v1::TopKResponse;
  return Unary<v1::TopKRequest, Out>(
      context, Begin(context, "TopK"), request, response, &write_pump_,
      [&](const v1::TopKRequest& in,
          CallRecord& record) -> absl::StatusOr<Plan<Out>> {
        record.SetModel(in.model());
        TINYLM_ASSIGN_OR_RETURN(
            ValidRequest valid,
            ValidateTopK(in, *registry_, limits_, Deadline(context)));
        const Tokenizer* tokenizer = valid.model->tokenizer.get();
        Plan<Out> plan;
        TINYLM_ASSIGN_OR_RETURN(plan.streams,
                                Submit(One(std::move(valid)), record));
        plan.fill = [tokenizer](const std::vector<Summary>& s, Out& out) {
          const AnalysisResult& analysis = *s[0].analysis;
          FillTopK(analysis.top_k, *tokenizer, out.mutable_tokens());
          out.set_prompt_tokens(s[0].prompt_tokens);
          FillTopK(analysis.clean_top_k, *tokenizer,
                   out.mutable_clean_tokens());
          if (analysis.effect) {
            FillEffect(*analysis.effect, *tokenizer, out.mutable_effect());
          }
          FillStats(analysis.stats, out.mutable_attention_stats());
          return absl::OkStatus();
        };
        return plan;
      });
}

grpc::ServerUnaryReactor* TinyLmService::AttentionMaps(
    grpc::CallbackServerContext* context, const Raw* request, Raw* response) {
  using Out = v1::AttentionMapsResponse;
  return Unary<v1::AttentionMapsRequest, Out>(
      context, Begin(context, "AttentionMaps"), request, response,
      &write_pump_,
      [&](const v1::AttentionMapsRequest& in,
          CallRecord& record) -> absl::StatusOr<Plan<Out>> {
        record.SetModel(in.model());
        TINYLM_ASSIGN_OR_RETURN(
            ValidRequest valid,
            ValidateAttentionMaps(in, *registry_, limits_, Deadline(context)));
        const Tokenizer* tokenizer = valid.model->tokenizer.get();
        const bool half = valid.request.analysis->half;
        std::vector<int64_t> prompt = valid.request.prompt;
        Plan<Out> plan;
        TINYLM_ASSIGN_OR_RETURN(plan.streams,
                                Submit(One(std::move(valid)), record));
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
      context, Begin(context, "Compare"), request, response, &write_pump_,
      [&](const v1::CompareRequest& in,
          CallRecord& record) -> absl::StatusOr<Plan<Out>> {
        record.SetModel(absl::StrJoin(in.models(), ","));
        TINYLM_ASSIGN_OR_RETURN(
            std::vector<ValidRequest> valid,
            ValidateCompare(in, *registry_, limits_, Deadline(context)));
        std::vector<const ServedModel*> models;
        std::vector<std::string> names;
        for (const ValidRequest& v : valid) {
          models.push_back(v.model);
          names.push_back(v.model->name);
        }
        record.SetModel(absl::StrJoin(names, ","));
        const uint64_t seed = valid.front().request.sampling.seed;
        Plan<Out> plan;
        TINYLM_ASSIGN_OR_RETURN(plan.streams, Submit(std::move(valid), record));
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
      context, Begin(context, "Tokenize"), request, response, &write_pump_,
      [&](const v1::TokenizeRequest& in,
          CallRecord& record) -> absl::StatusOr<Plan<Out>> {
        record.SetModel(in.model());
        TINYLM_ASSIGN_OR_RETURN(ServedModel * model,
                                ValidateTokenize(in, *registry_, limits_));
        const Tokenizer* tokenizer = model->tokenizer.get();
        TINYLM_ASSIGN_OR_RETURN(std::vector<int64_t> ids,
                                tokenizer->Encode(in.text()));
        record.AddPromptTokens(ids.size());
        Plan<Out> plan;
        const int64_t limit = limits_.max_send_message_bytes;
        plan.fill = [tokenizer, ids, limit](const std::vector<Summary>&,
                                            Out& out) {
          for (int64_t id : ids) {
            out.add_ids(id);
            out.add_pieces(tokenizer->IdToPiece(id));
          }
          const int64_t bytes = out.ByteSizeLong();
          if (bytes <= limit) return absl::OkStatus();
          return ResponseTooLarge(
              absl::StrCat("the Tokenize response of ", ids.size(),
                           " tokens"),
              bytes, limit, "--max_send_message_bytes",
              "tokenize shorter text");
        };
        return plan;
      });
}

grpc::ServerUnaryReactor* TinyLmService::Detokenize(
    grpc::CallbackServerContext* context, const Raw* request, Raw* response) {
  using Out = v1::DetokenizeResponse;
  return Unary<v1::DetokenizeRequest, Out>(
      context, Begin(context, "Detokenize"), request, response, &write_pump_,
      [&](const v1::DetokenizeRequest& in,
          CallRecord& record) -> absl::StatusOr<Plan<Out>> {
        record.SetModel(in.model());
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
      context, Begin(context, "ListModels"), request, response, &write_pump_,
      [&](const v1::ListModelsRequest&,
          CallRecord&) -> absl::StatusOr<Plan<Out>> {
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
