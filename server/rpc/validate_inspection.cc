// ValidateLogitLens, ValidateScore (validate.h) and StatsOptions
// (validate_inspection.h).
#include "server/rpc/validate_inspection.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/rpc/validate_fields.h"
#include "util/quote.h"

namespace tinylm {
namespace {

constexpr int64_t kDefaultLensK = 5;
// Per query row: a short list to read, not a second copy of the map.
constexpr int64_t kMaxTopKeys = 16;

absl::StatusOr<std::vector<int64_t>> ScoredIds(const v1::ScoreRequest& in,
                                               const ServedModel& model,
                                               const ServiceLimits& limits) {
  std::vector<int64_t> ids;
  std::string field;
  switch (in.input_case()) {
    case v1::ScoreRequest::kText: {
      field = "text";
      TINYLM_ASSIGN_OR_RETURN(ids, EncodeText(field, in.text(), model, limits));
      break;
    }
    case v1::ScoreRequest::kTokenIds: {
      field = "token_ids";
      TINYLM_ASSIGN_OR_RETURN(
          ids, IdList(field, in.token_ids().ids(), model, limits));
      break;
    }
    default:
      return Invalid("input", "set text or token_ids");
  }
  if (ids.size() < 2) {
    return Invalid(field, absl::StrCat("needs at least 2 tokens to score "
                                       "(the first has no prediction), got ",
                                       ids.size()));
  }
  const int64_t context = model.config.block_size;
  if (int64_t(ids.size()) > context) {
    return Invalid(field, absl::StrCat(ids.size(), " tokens do not fit the "
                                       "context length ", context,
                                       " of model ", Quote(model.name)));
  }
  return ids;
}

}  // namespace

absl::StatusOr<std::optional<AttentionStatsOptions>> StatsOptions(
    const v1::AttentionStatsOptions& in, int64_t tokens,
    const ServedModel& model, const ServiceLimits& limits) {
  AttentionStatsOptions out;
  out.top_keys = in.top_keys();
  if (out.top_keys > kMaxTopKeys) {
    return Invalid("attention_stats.top_keys",
                   absl::StrCat(out.top_keys, " exceeds ", kMaxTopKeys));
  }
  const ModelConfig& c = model.config;
  const int64_t values = c.n_layer * c.n_head * tokens * out.top_keys;
  if (values > limits.max_attention_stat_values) {
    return Invalid(
        "attention_stats.top_keys",
        absl::StrCat(c.n_layer, " layers x ", c.n_head, " heads x ", tokens,
                     " tokens x ", out.top_keys, " keys = ", values,
                     " exceed the limit of ", limits.max_attention_stat_values,
                     " (--max_attention_stat_values); ask for fewer keys"));
  }
  return out;
}

absl::StatusOr<ValidRequest> ValidateLogitLens(const v1::LogitLensRequest& in,
                                               const ModelRegistry& registry,
                                               const ServiceLimits& limits,
                                               absl::Time deadline) {
  TINYLM_ASSIGN_OR_RETURN(ValidRequest out,
                          ValidPrompt(in, registry, limits, 0, deadline));
  const ServedModel& model = *out.model;
  GenerationRequest& r = out.request;
  const int64_t prompt = r.prompt.size();
  LensOptions lens;
  lens.k = in.k() == 0 ? kDefaultLensK : in.k();
  const int64_t max_k = std::min(limits.max_lens_k, model.config.vocab_size);
  if (lens.k > max_k) {
    return Invalid("k", absl::StrCat(lens.k, " exceeds the limit of ", max_k,
                                     " (--max_lens_k, the vocabulary)"));
  }
  for (int i = 0; i < in.positions_size(); ++i) {
    if (in.positions(i) >= prompt) {
      return Invalid(absl::StrCat("positions[", i, "]"),
                     absl::StrCat("position ", in.positions(i),
                                  " is past the prompt's ", prompt,
                                  " tokens"));
    }
    lens.positions.push_back(in.positions(i));
  }
  if (lens.positions.empty()) lens.positions.push_back(prompt - 1);
  const int64_t layers = model.config.n_layer + 1;
  const int64_t values = int64_t(lens.positions.size()) * layers * lens.k;
  if (values > limits.max_lens_values) {
    return Invalid("positions",
                   absl::StrCat(lens.positions.size(), " positions x ", layers,
                                " layers x ", lens.k, " tokens = ", values,
                                " exceed the limit of ", limits.max_lens_values,
                                " (--max_lens_values); ask for fewer "
                                "positions or a smaller k"));
  }
  AnalysisOptions analysis;
  analysis.lens = lens;
  r.analysis = analysis;
  r.stream_tokens = false;
  return out;
}

absl::StatusOr<std::vector<ValidRequest>> ValidateScore(
    const v1::ScoreRequest& in, const ModelRegistry& registry,
    const ServiceLimits& limits, absl::Time deadline) {
  TINYLM_ASSIGN_OR_RETURN(std::vector<ServedModel*> models,
                          ModelsOf(in.models(), registry));
  std::vector<ValidRequest> out;
  for (ServedModel* model : models) {
    ValidRequest v;
    v.model = model;
    GenerationRequest& r = v.request;
    TINYLM_ASSIGN_OR_RETURN(r.prompt, ScoredIds(in, *model, limits));
    TINYLM_ASSIGN_OR_RETURN(
        r.interventions,
        ValidInterventions(in.interventions(), r.prompt.size(), *model,
                           limits));
    AnalysisOptions analysis;
    analysis.score = true;
    r.analysis = analysis;
    r.stream_tokens = false;
    r.deadline = deadline;
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace tinylm
