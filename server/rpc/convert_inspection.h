// Engine results of the inspection calls -> API messages: interventions'
// effects, attention statistics, the logit lens, scores, and attention map
// rows. Display pieces come from the model's tokenizer; nothing here
// decides anything.
#ifndef TINYLM_SERVER_RPC_CONVERT_INSPECTION_H_
#define TINYLM_SERVER_RPC_CONVERT_INSPECTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "models/tokenizer.h"
#include "server/engine/model_registry.h"
#include "server/engine/request.h"
#include "server/engine/score_comparison.h"
#include "tinylm/v1/tinylm.pb.h"

namespace tinylm {

void FillEffect(const InterventionEffect& in, const Tokenizer& tokenizer,
                v1::InterventionEffect* out);

void FillStats(const std::vector<HeadStats>& in,
               google::protobuf::RepeatedPtrField<v1::HeadAttentionStats>* out);

// Rows [row_begin, row_begin + rows) of `in` (within its rows).
void FillMapRows(const AttentionMatrix& in, bool half, int64_t row_begin,
                 int64_t rows, v1::AttentionMap* out);

// The prompt's tokens and the lens at each position.
void FillLens(const std::vector<int64_t>& prompt,
              const std::vector<LensPosition>& lens,
              const Tokenizer& tokenizer, v1::LogitLensResponse* out);

// Model `model`'s scores of `tokens` (from summary.analysis).
void FillModelScore(const std::string& model, const Tokenizer& tokenizer,
                    const std::vector<int64_t>& tokens, const Summary& summary,
                    v1::ModelScore* out);

void FillTokenComparisons(
    const std::vector<TokenComparison>& in,
    google::protobuf::RepeatedPtrField<v1::TokenComparison>* out);

}  // namespace tinylm

#endif  // TINYLM_SERVER_RPC_CONVERT_INSPECTION_H_
