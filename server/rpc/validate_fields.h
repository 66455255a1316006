// The field checks every validator shares (validate.cc,
// validate_inspection.cc, validate_interventions.cc): models, prompts as
// text or ids, token counts, sampling parameters, layer and head indices.
// Each error is INVALID_ARGUMENT naming the field (NOT_FOUND for an unknown
// model). Only the validate*.cc files include this.
#ifndef TINYLM_SERVER_RPC_VALIDATE_FIELDS_H_
#define TINYLM_SERVER_RPC_VALIDATE_FIELDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/engine/model_registry.h"
#include "server/rpc/service_limits.h"
#include "server/rpc/validate.h"
#include "tinylm/v1/tinylm.pb.h"
#include "util/status_macros.h"

namespace tinylm {

// INVALID_ARGUMENT "<field>: <message>".
absl::Status Invalid(absl::string_view field, absl::string_view message);

// The model named `name` (required).
absl::StatusOr<ServedModel*> FindModel(const ModelRegistry& registry,
                                       const std::string& name,
                                       absl::string_view field);

// At most `max_bytes` of valid UTF-8.
absl::Status CheckText(absl::string_view field, absl::string_view text,
                       int64_t max_bytes);

// At most --max_prompt_tokens.
absl::Status CheckPromptTokens(absl::string_view field, int64_t tokens,
                               const ServiceLimits& limits);

// Non-empty text that fits the model's context, encoded.
absl::StatusOr<std::vector<int64_t>> EncodeText(absl::string_view field,
                                                const std::string& text,
                                                const ServedModel& model,
                                                const ServiceLimits& limits);

// Every id inside the model's vocabulary ("<field>[i]" names a bad one).
absl::Status CheckIds(absl::string_view field,
                      const google::protobuf::RepeatedField<int32_t>& ids,
                      const ServedModel& model);

// A non-empty list of in-vocabulary ids within --max_prompt_tokens.
absl::StatusOr<std::vector<int64_t>> IdList(
    absl::string_view field,
    const google::protobuf::RepeatedField<int32_t>& ids,
    const ServedModel& model, const ServiceLimits& limits);

// The prompt oneof shared by Generate, TopK, AttentionMaps and LogitLens.
template <typename Request>
absl::StatusOr<std::vector<int64_t>> PromptIds(const Request& in,
                                               const ServedModel& model,
                                               const ServiceLimits& limits) {
  switch (in.prompt_case()) {
    case Request::kText:
      return EncodeText("prompt.text", in.text(), model, limits);
    case Request::kTokenIds:
      return IdList("prompt.token_ids", in.token_ids().ids(), model, limits);
    default:
      return Invalid("prompt", "set text or token_ids");
  }
}

// The prompt must leave room for `min_new` generated tokens.
absl::Status CheckPromptFits(int64_t prompt, int64_t min_new,
                             const ServedModel& model);

// What every request with a prompt shares: its model, the prompt's ids,
// room for `min_new` generated tokens, and the call's deadline.
template <typename Request>
absl::StatusOr<ValidRequest> ValidPrompt(const Request& in,
                                         const ModelRegistry& registry,
                                         const ServiceLimits& limits,
                                         int64_t min_new, absl::Time deadline) {
  ValidRequest out;
  TINYLM_ASSIGN_OR_RETURN(out.model, FindModel(registry, in.model(), "model"));
  GenerationRequest& r = out.request;
  TINYLM_ASSIGN_OR_RETURN(r.prompt, PromptIds(in, *out.model, limits));
  TINYLM_RETURN_IF_ERROR(CheckPromptFits(r.prompt.size(), min_new, *out.model));
  r.deadline = deadline;
  return out;
}

// `requested` new tokens (0: min(default_cap, room left)) after `prompt`.
absl::StatusOr<int64_t> NewTokens(absl::string_view field, int64_t requested,
                                  int64_t default_cap, int64_t prompt,
                                  const ServedModel& model,
                                  const ServiceLimits& limits);

// The models of a multi-model request (Compare, Score): `names` (each
// once), else every loaded one.
absl::StatusOr<std::vector<ServedModel*>> ModelsOf(
    const google::protobuf::RepeatedPtrField<std::string>& names,
    const ModelRegistry& registry);

uint64_t RandomSeed();

// Unset temperature: greedy when `greedy_default`, else 1. An unset seed
// is picked (RandomSeed).
absl::StatusOr<SamplingParams> ToSampling(const v1::SamplingParams& in,
                                          int64_t vocab, bool greedy_default);

// Indices below `count` (of `what`s of the model); empty = all of them.
absl::StatusOr<std::vector<int64_t>> Indices(
    absl::string_view field, const google::protobuf::RepeatedField<uint32_t>& in,
    int64_t count, absl::string_view what, const ServedModel& model);

}  // namespace tinylm

#endif  // TINYLM_SERVER_RPC_VALIDATE_FIELDS_H_
