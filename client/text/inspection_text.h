// Terminal tables (and JSON) of the inspection answers:
//
//   LensTable (one position)           StatsTable (per layer and head)
//   layer | 1        | 2    | KL       layer | head | entropy | first | ...
//   emb   | 0.01 町  | ...  | 5.21     0     | 0    | 2.11    | 0.31  | ...
//   9     | 0.17 \n  | ...  | 0.00
//
//   ScoreTable (several models that tokenize alike): one row per token,
//   each model's loss (-logprob, nats) and the model that predicts it best.
#ifndef TINYLM_CLIENT_TEXT_INSPECTION_TEXT_H_
#define TINYLM_CLIENT_TEXT_INSPECTION_TEXT_H_

#include "client/text/text_table.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "nlohmann/json.hpp"
#include "tinylm/v1/tinylm.pb.h"

namespace tinylm {

// Layers as "emb" (the embeddings) and the block index; probabilities with
// two decimals, pieces escaped; KL from the final layer in nats.
TextTable LensTable(const v1::LensPosition& position);

// Means over the query rows, as HeadAttentionStats has them.
TextTable StatsTable(
    const google::protobuf::RepeatedPtrField<v1::HeadAttentionStats>& stats);

// Needs response.comparable().
TextTable ScoreTable(const v1::ScoreResponse& response);

// [{"layer", "head", "entropy", "first_token_mass", "mean_distance",
//   "diagonal_mass", "top_keys": [{"query", "keys", "weights"}]}]
nlohmann::json StatsJson(
    const google::protobuf::RepeatedPtrField<v1::HeadAttentionStats>& stats);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_TEXT_INSPECTION_TEXT_H_
