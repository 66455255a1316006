// Engine results -> API messages. Display pieces come from the model's
// tokenizer; nothing here decides anything.
#ifndef TINYLM_SERVER_RPC_CONVERT_H_
#define TINYLM_SERVER_RPC_CONVERT_H_

#include <vector>

#include "server/engine/model_registry.h"
#include "server/engine/request.h"
#include "tinylm/v1/tinylm.pb.h"

namespace tinylm {

v1::FinishReason ToProto(FinishReason reason);

void FillToken(const TokenEvent& in, const Tokenizer& tokenizer,
               v1::GeneratedToken* out);
void FillSummary(const Summary& in, const Tokenizer& tokenizer,
                 v1::GenerateSummary* out);

void FillTokenProbability(const TokenProbability& in,
                          const Tokenizer& tokenizer,
                          v1::TokenProbability* out);
void FillTopK(const std::vector<TokenProbability>& in,
              const Tokenizer& tokenizer,
              google::protobuf::RepeatedPtrField<v1::TokenProbability>* out);

// The tokens of the axes (prompt + continuation) and the selected maps.
void FillAttention(const std::vector<int64_t>& prompt, const Summary& summary,
                   bool half, const Tokenizer& tokenizer,
                   v1::AttentionMapsResponse* out);

void FillComparison(const ServedModel& model, const Summary& summary,
                    v1::ModelComparison* out);

void FillModelInfo(const ServedModel& model, v1::ModelInfo* out);

}  // namespace tinylm

#endif  // TINYLM_SERVER_RPC_CONVERT_H_
