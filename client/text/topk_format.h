// Text and JSON forms of a top-k answer.
//
// The text form is the article's, one token per line, most probable first:
//   p:0.33, 町
//   p:0.23, 街
#ifndef TINYLM_CLIENT_TEXT_TOPK_FORMAT_H_
#define TINYLM_CLIENT_TEXT_TOPK_FORMAT_H_

#include <string>

#include "google/protobuf/repeated_ptr_field.h"
#include "nlohmann/json.hpp"
#include "tinylm/v1/tinylm.pb.h"

namespace tinylm {

using TokenProbabilities =
    google::protobuf::RepeatedPtrField<v1::TokenProbability>;

// "p:0.33, 町": the probability with two decimals and the display piece with
// control characters escaped (EscapeControls), so each token is one line.
std::string FormatTopKLine(const v1::TokenProbability& token);

// All lines, each ending in '\n'.
std::string FormatTopK(const TokenProbabilities& tokens);

// [{"id": 12, "piece": "町", "probability": 0.33, "logprob": -1.1}, ...]
nlohmann::json TopKJson(const TokenProbabilities& tokens);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_TEXT_TOPK_FORMAT_H_
