// Text shown as its tokens, each on a box coloured by a value: the Score
// picture (colour = the token's loss, -log p in nats). One paragraph per
// model, stacked, so that the same tokens of several models line up; a
// token without a value (the first, which has no prediction) is grey; a
// newline token ends its line. Knows nothing of gRPC.
#ifndef TINYLM_CLIENT_PICTURES_TOKEN_TEXT_H_
#define TINYLM_CLIENT_PICTURES_TOKEN_TEXT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tinylm {

struct TokenTextParagraph {
  std::string title;                   // e.g. "base: loss 4.31, ppl 74.5"
  std::vector<std::string> pieces;     // [T]
  std::vector<std::optional<float>> values;  // [T]
};

struct TokenTextSpec {
  std::string title;
  std::vector<TokenTextParagraph> paragraphs;
  std::string font_family = "Noto Sans CJK JP";
  float scale_max = 1.0f;  // values map to colours over [0, scale_max]
  std::string scale_caption = "loss (nats)";
  int text_width = 900;  // pixels before a line wraps
};

// INVALID_ARGUMENT for a paragraph whose values do not match its pieces;
// PERMISSION_DENIED when the file cannot be written.
absl::Status WriteTokenTextPng(const TokenTextSpec& spec,
                               const std::string& path);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_PICTURES_TOKEN_TEXT_H_
