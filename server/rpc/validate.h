// Request validation: every field of every API request is checked here and
// turned into the engine's plain types. Errors name the field and the value:
// INVALID_ARGUMENT for a bad field, NOT_FOUND for an unknown model,
// RESOURCE_EXHAUSTED for a response past a size bound.
#ifndef TINYLM_SERVER_RPC_VALIDATE_H_
#define TINYLM_SERVER_RPC_VALIDATE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/engine/model_registry.h"
#include "server/engine/request.h"
#include "server/rpc/service_limits.h"
#include "tinylm/v1/tinylm.pb.h"

namespace tinylm {

// A request ready for a model's scheduler.
struct ValidRequest {
  ServedModel* model = nullptr;
  GenerationRequest request;
};

absl::StatusOr<ValidRequest> ValidateGenerate(
    const v1::GenerateRequest& in, const ModelRegistry& registry,
    const ServiceLimits& limits, absl::Time deadline);

absl::StatusOr<ValidRequest> ValidateTopK(const v1::TopKRequest& in,
                                          const ModelRegistry& registry,
                                          const ServiceLimits& limits,
                                          absl::Time deadline);

absl::StatusOr<ValidRequest> ValidateAttentionMaps(
    const v1::AttentionMapsRequest& in, const ModelRegistry& registry,
    const ServiceLimits& limits, absl::Time deadline);

// As AttentionMaps, bounded by --max_streamed_attention_bytes in all, and
// each row by one message.
absl::StatusOr<ValidRequest> ValidateStreamAttentionMaps(
    const v1::AttentionMapsRequest& in, const ModelRegistry& registry,
    const ServiceLimits& limits, absl::Time deadline);

absl::StatusOr<ValidRequest> ValidateLogitLens(
    const v1::LogitLensRequest& in, const ModelRegistry& registry,
    const ServiceLimits& limits, absl::Time deadline);

// One request per scored model, in request (or registry) order.
absl::StatusOr<std::vector<ValidRequest>> ValidateScore(
    const v1::ScoreRequest& in, const ModelRegistry& registry,
    const ServiceLimits& limits, absl::Time deadline);

// One request per compared model, in request (or registry) order.
absl::StatusOr<std::vector<ValidRequest>> ValidateCompare(
    const v1::CompareRequest& in, const ModelRegistry& registry,
    const ServiceLimits& limits, absl::Time deadline);

absl::StatusOr<ServedModel*> ValidateTokenize(const v1::TokenizeRequest& in,
                                              const ModelRegistry& registry,
                                              const ServiceLimits& limits);

struct ValidDetokenize {
  ServedModel* model = nullptr;
  std::vector<int64_t> ids;
};
absl::StatusOr<ValidDetokenize> ValidateDetokenize(
    const v1::DetokenizeRequest& in, const ModelRegistry& registry);

}  // namespace tinylm

#endif  // TINYLM_SERVER_RPC_VALIDATE_H_
