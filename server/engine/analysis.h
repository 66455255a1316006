// Analysis of a finished sequence: one forward pass without the KV cache
// over prompt + continuation, from which TopK, AttentionMaps, Compare,
// LogitLens, Score and Generate's statistics take what they asked for.
// With interventions that pass applies them, and a second one without
// them gives their effect. Runs on the scheduler thread.
#ifndef TINYLM_SERVER_ENGINE_ANALYSIS_H_
#define TINYLM_SERVER_ENGINE_ANALYSIS_H_

#include <cstdint>
#include <vector>

#include "models/intervention_spec.h"
#include "models/model.h"
#include "server/engine/request.h"

namespace tinylm {

// tokens: prompt followed by the continuation (prompt_tokens >= 1).
// May throw c10::Error (the scheduler catches it).
AnalysisResult Analyze(Transformer& model, const std::vector<int64_t>& tokens,
                       int64_t prompt_tokens, const AnalysisOptions& options,
                       const std::vector<InterventionSpec>& interventions);

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_ANALYSIS_H_
