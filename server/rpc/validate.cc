#include "server/rpc/validate.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/operations/refusals.h"
#include "server/rpc/validate_fields.h"
#include "server/rpc/validate_inspection.h"
#include "util/quote.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

constexpr int64_t kDefaultNewTokens = 64;
constexpr int64_t kDefaultCompareTokens = 32;
constexpr int64_t kDefaultCompareTopK = 5;

absl::StatusOr<std::vector<std::string>> StopStrings(
    const google::protobuf::RepeatedPtrField<std::string>& stops,
    const ServiceLimits& limits) {
  if (stops.size() > limits.max_stop_strings) {
    return Invalid("stop", absl::StrCat(stops.size(), " strings exceed the "
                                        "limit of ", limits.max_stop_strings));
  }
  for (int i = 0; i < stops.size(); ++i) {
    const std::string field = absl::StrCat("stop[", i, "]");
    if (stops[i].empty()) return Invalid(field, "must not be empty");
    TINYLM_RETURN_IF_ERROR(CheckText(field, stops[i], limits.max_stop_bytes));
  }
  return std::vector<std::string>(stops.begin(), stops.end());
}

int64_t ElementBytes(const AnalysisOptions& options) {
  return options.half ? 2 : 4;
}

// The maps of `tokens` tokens within `limit` bytes (the flag `flag`).
absl::Status CheckAttentionBytes(const AnalysisOptions& options, int64_t tokens,
                                 int64_t limit, absl::string_view flag) {
  const int64_t element = ElementBytes(options);
  const int64_t rows = options.row_end - options.row_begin;
  const int64_t bytes = int64_t(options.layers.size()) *
                        int64_t(options.heads.size()) * rows * tokens *
                        element;
  if (bytes <= limit) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "attention maps: ", options.layers.size(), " layers x ",
      options.heads.size(), " heads x ", rows, " rows x ", tokens,
      " tokens x ", element, " bytes = ", bytes, " bytes exceed the limit of ",
      limit, " bytes (", flag,
      "); ask for fewer layers, heads or rows, a shorter prompt or "
      "continuation, or dtype FLOAT16"));
}

// Query rows [row_begin, row_end) of maps over `tokens` tokens.
absl::Status SetRows(const v1::AttentionMapsRequest& in, int64_t tokens,
                     AnalysisOptions& analysis) {
  const int64_t end = in.row_end() == 0 ? tokens : in.row_end();
  if (end > tokens) {
    return Invalid("row_end",
                   absl::StrCat(in.row_end(), " is past the ", tokens,
                                " tokens of prompt + continuation"));
  }
  if (in.row_begin() >= end) {
    return Invalid("row_begin", absl::StrCat(in.row_begin(),
                                             " must be below row_end ", end));
  }
  analysis.row_begin = in.row_begin();
  analysis.row_end = end;
  return absl::OkStatus();
}

// AttentionMaps and StreamAttentionMaps: all but the bound on the bytes.
absl::StatusOr<ValidRequest> ValidMaps(const v1::AttentionMapsRequest& in,
                                       const ModelRegistry& registry,
                                       const ServiceLimits& limits,
                                       absl::Time deadline) {
  TINYLM_ASSIGN_OR_RETURN(ValidRequest out,
                          ValidPrompt(in, registry, limits, 0, deadline));
  const ServedModel& model = *out.model;
  GenerationRequest& r = out.request;
  const int64_t prompt = r.prompt.size();
  const int64_t continuation = in.continuation_tokens();
  if (continuation > 0) {
    TINYLM_ASSIGN_OR_RETURN(
        r.max_new_tokens, NewTokens("continuation_tokens", continuation, 0,
                                    prompt, model, limits));
  }
  TINYLM_ASSIGN_OR_RETURN(
      r.sampling, ToSampling(in.sampling(), model.config.vocab_size,
                             /*greedy_default=*/!in.has_sampling()));
  AnalysisOptions analysis;
  analysis.attention = true;
  TINYLM_ASSIGN_OR_RETURN(analysis.layers,
                          Indices("layers", in.layers(),
                                  model.config.n_layer, "layer", model));
  TINYLM_ASSIGN_OR_RETURN(analysis.heads,
                          Indices("heads", in.heads(), model.config.n_head,
                                  "head", model));
  if (in.dtype() != v1::TENSOR_DTYPE_UNSPECIFIED &&
      in.dtype() != v1::TENSOR_DTYPE_FLOAT32 &&
      in.dtype() != v1::TENSOR_DTYPE_FLOAT16) {
    return Invalid("dtype", absl::StrCat("unknown value ", in.dtype()));
  }
  analysis.half = in.dtype() == v1::TENSOR_DTYPE_FLOAT16;
  const int64_t tokens = prompt + r.max_new_tokens;
  TINYLM_RETURN_IF_ERROR(SetRows(in, tokens, analysis));
  TINYLM_ASSIGN_OR_RETURN(analysis.stats,
                          ValidStats(in, tokens, model, limits));
  r.analysis = analysis;
  r.stream_tokens = false;
  return out;
}

}  // namespace

absl::StatusOr<ValidRequest> ValidateGenerate(const v1::GenerateRequest& in,
                                              const ModelRegistry& registry,
                                              const ServiceLimits& limits,
                                              absl::Time deadline) {
  TINYLM_ASSIGN_OR_RETURN(ValidRequest out,
                          ValidPrompt(in, registry, limits, 1, deadline));
  const ServedModel& model = *out.model;
  GenerationRequest& r = out.request;
  TINYLM_ASSIGN_OR_RETURN(
      r.max_new_tokens, NewTokens("max_new_tokens", in.max_new_tokens(),
                                  kDefaultNewTokens, r.prompt.size(), model,
                                  limits));
  TINYLM_ASSIGN_OR_RETURN(
      r.sampling, ToSampling(in.sampling(), model.config.vocab_size, false));
  TINYLM_ASSIGN_OR_RETURN(r.stop, StopStrings(in.stop(), limits));
  const int64_t max_top_n =
      std::min(limits.max_top_n, model.config.vocab_size);
  if (in.top_n() > max_top_n) {
    return Invalid("top_n", absl::StrCat(in.top_n(), " exceeds the limit of ",
                                         max_top_n));
  }
  r.top_n = in.top_n();
  if (in.max_tokens_per_message() > limits.max_tokens_per_message) {
    return Invalid(
        "max_tokens_per_message",
        absl::StrCat(in.max_tokens_per_message(), " exceeds the limit of ",
                     limits.max_tokens_per_message));
  }
  r.max_tokens_per_message = std::max<int64_t>(1, in.max_tokens_per_message());
  TINYLM_ASSIGN_OR_RETURN(
      r.interventions,
      ValidInterventions(in.interventions(), r.prompt.size(), model, limits));
  TINYLM_ASSIGN_OR_RETURN(
      std::optional<AttentionStatsOptions> stats,
      ValidStats(in, r.prompt.size() + r.max_new_tokens, model, limits));
  if (stats) {
    r.analysis = AnalysisOptions();
    r.analysis->stats = stats;
  }
  return out;
}

absl::StatusOr<ValidRequest> ValidateTopK(const v1::TopKRequest& in,
                                          const ModelRegistry& registry,
                                          const ServiceLimits& limits,
                                          absl::Time deadline) {
  TINYLM_ASSIGN_OR_RETURN(ValidRequest out,
                          ValidPrompt(in, registry, limits, 0, deadline));
  const ServedModel& model = *out.model;
  GenerationRequest& r = out.request;
  const int64_t vocab = model.config.vocab_size;
  if (in.k() == 0) return Invalid("k", "must be at least 1");
  if (in.k() > vocab) {
    return Invalid("k", absl::StrCat(in.k(), " exceeds the vocabulary size ",
                                     vocab, " of model ", Quote(model.name)));
  }
  AnalysisOptions analysis;
  analysis.top_k = in.k();
  TINYLM_ASSIGN_OR_RETURN(analysis.stats,
                          ValidStats(in, r.prompt.size(), model, limits));
  r.analysis = analysis;
  TINYLM_ASSIGN_OR_RETURN(
      r.interventions,
      ValidInterventions(in.interventions(), r.prompt.size(), model, limits));
  r.max_new_tokens = 0;
  r.stream_tokens = false;
  return out;
}

absl::StatusOr<ValidRequest> ValidateAttentionMaps(
    const v1::AttentionMapsRequest& in, const ModelRegistry& registry,
    const ServiceLimits& limits, absl::Time deadline) {
  TINYLM_ASSIGN_OR_RETURN(ValidRequest out,
                          ValidMaps(in, registry, limits, deadline));
  const GenerationRequest& r = out.request;
  TINYLM_RETURN_IF_ERROR(CheckAttentionBytes(
      *r.analysis, r.prompt.size() + r.max_new_tokens,
      limits.max_attention_bytes, "--max_attention_bytes"));
  return out;
}

absl::StatusOr<ValidRequest> ValidateStreamAttentionMaps(
    const v1::AttentionMapsRequest& in, const ModelRegistry& registry,
    const ServiceLimits& limits, absl::Time deadline) {
  TINYLM_ASSIGN_OR_RETURN(ValidRequest out,
                          ValidMaps(in, registry, limits, deadline));
  const GenerationRequest& r = out.request;
  const int64_t tokens = r.prompt.size() + r.max_new_tokens;
  TINYLM_RETURN_IF_ERROR(
      CheckAttentionBytes(*r.analysis, tokens,
                          limits.max_streamed_attention_bytes,
                          "--max_streamed_attention_bytes"));
  // A message carries whole rows: one must fit (with room for the rest).
  const int64_t row = tokens * ElementBytes(*r.analysis);
  if (row + kMapMessageOverhead > limits.max_send_message_bytes) {
    return ResponseTooLarge(
        "one row of an attention map", row + kMapMessageOverhead,
        limits.max_send_message_bytes, "--max_send_message_bytes",
        "ask for dtype FLOAT16 or a shorter prompt or continuation");
  }
  return out;
}

absl::StatusOr<std::vector<ValidRequest>> ValidateCompare(
    const v1::CompareRequest& in, const ModelRegistry& registry,
    const ServiceLimits& limits, absl::Time deadline) {
  TINYLM_ASSIGN_OR_RETURN(std::vector<ServedModel*> models,
                          ModelsOf(in.models(), registry));
  const uint64_t seed =
      in.sampling().has_seed() ? in.sampling().seed() : RandomSeed();
  std::vector<ValidRequest> out;
  for (ServedModel* model : models) {
    ValidRequest v;
    v.model = model;
    GenerationRequest& r = v.request;
    TINYLM_ASSIGN_OR_RETURN(r.prompt,
                            EncodeText("prompt", in.prompt(), *model, limits));
    TINYLM_RETURN_IF_ERROR(CheckPromptFits(r.prompt.size(), 1, *model));
    TINYLM_ASSIGN_OR_RETURN(
        r.max_new_tokens,
        NewTokens("max_new_tokens", in.max_new_tokens(), kDefaultCompareTokens,
                  r.prompt.size(), *model, limits));
    TINYLM_ASSIGN_OR_RETURN(
        r.sampling, ToSampling(in.sampling(), model->config.vocab_size,
                               false));
    r.sampling.seed = seed;
    AnalysisOptions analysis;
    analysis.top_k = in.top_k() == 0 ? kDefaultCompareTopK : in.top_k();
    if (analysis.top_k > model->config.vocab_size) {
      return Invalid("top_k", absl::StrCat(analysis.top_k,
                                           " exceeds the vocabulary size ",
                                           model->config.vocab_size,
                                           " of model ", Quote(model->name)));
    }
    analysis.entropy = true;
    TINYLM_ASSIGN_OR_RETURN(
        analysis.stats,
        ValidStats(in, r.prompt.size() + r.max_new_tokens, *model, limits));
    r.analysis = analysis;
    r.stream_tokens = false;
    r.deadline = deadline;
    out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<ServedModel*> ValidateTokenize(const v1::TokenizeRequest& in,
                                              const ModelRegistry& registry,
                                              const ServiceLimits& limits) {
  TINYLM_ASSIGN_OR_RETURN(ServedModel * model,
                          FindModel(registry, in.model(), "model"));
  TINYLM_RETURN_IF_ERROR(CheckText("text", in.text(), limits.max_prompt_bytes));
  return model;
}

absl::StatusOr<ValidDetokenize> ValidateDetokenize(
    const v1::DetokenizeRequest& in, const ModelRegistry& registry) {
  ValidDetokenize out;
  TINYLM_ASSIGN_OR_RETURN(out.model, FindModel(registry, in.model(), "model"));
  TINYLM_RETURN_IF_ERROR(CheckIds("ids", in.ids(), *out.model));
  out.ids.assign(in.ids().begin(), in.ids().end());
  return out;
}

}  // namespace tinylm
