// Request validation: every field of every API request is checked here and
// turned into the engine's plain types. Errors name the field and the value:
// INVALID_ARGUMENT for a bad field, NOT_FOUND for an unknown model,
// RESOURCE_EXHAUSTED for a response past a size bound.
#ifndef TINYLM_SERVER_VALIDATE_H_
#define TINYLM_SERVER_VALIDATE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/engine/model_registry.h"
#include "server/engine/request.h"
#include "tinylm/v1/tinylm.pb.h"

namespace tinylm {

// The server's limits (flags in server/flags.cc; docs/operations.md).
struct ServiceLimits {
  int64_t max_prompt_tokens = 4096;  // also bounded by each model's context
  int64_t max_new_tokens = 1024;
  // Bound on AttentionMaps payloads; below gRPC's default 4 MiB receive
  // limit of clients, with room for the rest of the message.
  int64_t max_attention_bytes = 3 << 20;
  int64_t max_top_n = 20;
  int64_t max_stop_strings = 8;
  int64_t max_stop_bytes = 256;
  int64_t max_prompt_bytes = 1 << 20;
  // Calls in flight per model (server/admission.h) and the retry hint of a
  // refusal for load.
  int64_t max_streams_per_model = 512;
  absl::Duration retry_after = absl::Seconds(1);
  // The deadline of a call whose client set none; InfiniteDuration: none.
  absl::Duration default_deadline = absl::Minutes(5);
};

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

#endif  // TINYLM_SERVER_VALIDATE_H_
