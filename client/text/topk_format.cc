#include "client/text/topk_format.h"

#include "absl/strings/str_format.h"
#include "client/text/display_width.h"

namespace tinylm {

std::string FormatTopKLine(const v1::TokenProbability& token) {
  return absl::StrFormat("p:%.2f, %s", token.probability(),
                         EscapeControls(token.piece()));
}

std::string FormatTopK(const TokenProbabilities& tokens) {
  std::string out;
  for (const v1::TokenProbability& token : tokens) {
    out += FormatTopKLine(token) + "\n";
  }
  return out;
}

nlohmann::json TopKJson(const TokenProbabilities& tokens) {
  nlohmann::json out = nlohmann::json::array();
  for (const v1::TokenProbability& token : tokens) {
    out.push_back({{"id", token.id()},
                   {"piece", token.piece()},
                   {"probability", token.probability()},
                   {"logprob", token.logprob()}});
  }
  return out;
}

}  // namespace tinylm
