// The inspection handlers of TinyLmService (service.h): the streamed
// attention maps, the logit lens and scores. Like the others they parse,
// validate, submit to the models' schedulers and answer from the summaries.
#include <memory>
#include <utility>

#include "absl/strings/str_join.h"
#include "server/engine/score_comparison.h"
#include "server/rpc/attention_stream_reactor.h"
#include "server/rpc/convert_inspection.h"
#include "server/rpc/service.h"
#include "server/rpc/unary_call.h"
#include "server/rpc/wire.h"
#include "util/status_macros.h"

namespace tinylm {

grpc::ServerWriteReactor<grpc::ByteBuffer>* TinyLmService::StreamAttentionMaps(
    grpc::CallbackServerContext* context, const Raw* raw_request) {
  Call call = Begin(context, "StreamAttentionMaps");
  CallRecord& record = *call.record;
  if (!call.allowed.ok()) return FailedWriter(record.End(call.allowed));
  v1::AttentionMapsRequest request;
  const absl::Status parsed = ParseRequest(*raw_request, &request);
  if (!parsed.ok()) return FailedWriter(record.End(parsed));
  record.SetModel(request.model());
  auto valid = ValidateStreamAttentionMaps(request, *registry_, limits_,
                                           Deadline(context));
  if (!valid.ok()) return FailedWriter(record.End(valid.status()));
  const Tokenizer* tokenizer = valid->model->tokenizer.get();
  AttentionStreamReactor::Options options;
  options.prompt = valid->request.prompt;
  options.half = valid->request.analysis->half;
  options.max_message_bytes = limits_.max_send_message_bytes;
  auto streams = Submit(One(std::move(valid).value()), record);
  if (!streams.ok()) return FailedWriter(record.End(streams.status()));
  return AttentionStreamReactor::Start(streams->front(), tokenizer,
                                       std::move(options),
                                       std::move(call.record), &write_pump_);
}

grpc::ServerUnaryReactor* TinyLmService::LogitLens(
    grpc::CallbackServerContext* context, const Raw* request, Raw* response) {
  using Out = v1::LogitLensResponse;
  return Unary<v1::LogitLensRequest, Out>(
      context, Begin(context, "LogitLens"), request, response, &write_pump_,
      [&](const v1::LogitLensRequest& in,
          CallRecord& record) -> absl::StatusOr<Plan<Out>> {
        record.SetModel(in.model());
        TINYLM_ASSIGN_OR_RETURN(
            ValidRequest valid,
            ValidateLogitLens(in, *registry_, limits_, Deadline(context)));
        const Tokenizer* tokenizer = valid.model->tokenizer.get();
        std::vector<int64_t> prompt = valid.request.prompt;
        Plan<Out> plan;
        TINYLM_ASSIGN_OR_RETURN(plan.streams,
                                Submit(One(std::move(valid)), record));
        plan.fill = [tokenizer, prompt = std::move(prompt)](
                        const std::vector<Summary>& s, Out& out) {
          FillLens(prompt, s[0].analysis->lens, *tokenizer, &out);
          return absl::OkStatus();
        };
        return plan;
      });
}

grpc::ServerUnaryReactor* TinyLmService::Score(
    grpc::CallbackServerContext* context, const Raw* request, Raw* response) {
  using Out = v1::ScoreResponse;
  return Unary<v1::ScoreRequest, Out>(
      context, Begin(context, "Score"), request, response, &write_pump_,
      [&](const v1::ScoreRequest& in,
          CallRecord& record) -> absl::StatusOr<Plan<Out>> {
        record.SetModel(absl::StrJoin(in.models(), ","));
        TINYLM_ASSIGN_OR_RETURN(
            std::vector<ValidRequest> valid,
            ValidateScore(in, *registry_, limits_, Deadline(context)));
        std::vector<const ServedModel*> models;
        std::vector<std::string> names;
        std::vector<std::vector<int64_t>> tokens;
        for (const ValidRequest& v : valid) {
          models.push_back(v.model);
          names.push_back(v.model->name);
          tokens.push_back(v.request.prompt);
        }
        record.SetModel(absl::StrJoin(names, ","));
        Plan<Out> plan;
        TINYLM_ASSIGN_OR_RETURN(plan.streams, Submit(std::move(valid), record));
        plan.fill = [models, tokens](const std::vector<Summary>& s, Out& out) {
          bool alike = models.size() >= 2;
          std::vector<const TokenScores*> scores;
          for (size_t i = 0; i < models.size(); ++i) {
            FillModelScore(models[i]->name, *models[i]->tokenizer, tokens[i],
                           s[i], out.add_results());
            scores.push_back(&*s[i].analysis->scores);
            alike &= tokens[i] == tokens[0];
          }
          out.set_comparable(alike);
          if (alike) {
            FillTokenComparisons(CompareScores(scores),
                                 out.mutable_comparison());
          }
          return absl::OkStatus();
        };
        return plan;
      });
}

}  // namespace tinylm
