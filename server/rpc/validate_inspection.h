// Validation of the inspection fields the requests share: interventions
// (ablations and patches) and attention statistics. Used by validate.cc
// and validate_inspection.cc; errors are INVALID_ARGUMENT naming the field.
#ifndef TINYLM_SERVER_RPC_VALIDATE_INSPECTION_H_
#define TINYLM_SERVER_RPC_VALIDATE_INSPECTION_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "models/intervention_spec.h"
#include "server/engine/model_registry.h"
#include "server/engine/request.h"
#include "server/rpc/service_limits.h"
#include "tinylm/v1/tinylm.pb.h"

namespace tinylm {

// At most --max_interventions, each on a layer (and heads) the model has,
// at a site its kind allows; a patch's source tokenizes to exactly
// `prompt_tokens` tokens and its positions lie inside them.
absl::StatusOr<std::vector<InterventionSpec>> ValidInterventions(
    const google::protobuf::RepeatedPtrField<v1::Intervention>& in,
    int64_t prompt_tokens, const ServedModel& model,
    const ServiceLimits& limits);

// Attention statistics (ValidStats: when the request sets them): top_keys
// within range and layers x heads x `tokens` x top_keys within
// --max_attention_stat_values.
absl::StatusOr<std::optional<AttentionStatsOptions>> StatsOptions(
    const v1::AttentionStatsOptions& in, int64_t tokens,
    const ServedModel& model, const ServiceLimits& limits);

template <typename Request>
absl::StatusOr<std::optional<AttentionStatsOptions>> ValidStats(
    const Request& in, int64_t tokens, const ServedModel& model,
    const ServiceLimits& limits) {
  if (!in.has_attention_stats()) return std::nullopt;
  return StatsOptions(in.attention_stats(), tokens, model, limits);
}

}  // namespace tinylm

#endif  // TINYLM_SERVER_RPC_VALIDATE_INSPECTION_H_
