// A grid of token pieces on cells coloured by a value: the logit lens
// picture (rows = layers, columns = the k most probable next tokens,
// colour = probability), one panel per position, panels stacked. A note
// column right of each row (the layer's KL from the final distribution).
// Knows nothing of gRPC.
#ifndef TINYLM_CLIENT_PICTURES_TOKEN_GRID_H_
#define TINYLM_CLIENT_PICTURES_TOKEN_GRID_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tinylm {

struct TokenGridPanel {
  std::string title;
  std::vector<std::string> row_labels;           // [R]
  std::vector<std::string> column_labels;        // [K]
  std::vector<std::vector<std::string>> pieces;  // [R][K] token pieces
  std::vector<std::vector<float>> values;        // [R][K]
  std::string note_header;                       // above the notes
  std::vector<std::string> notes;                // [R], may be empty
};

struct TokenGridSpec {
  std::string title;
  std::vector<TokenGridPanel> panels;
  std::string font_family = "Noto Sans CJK JP";
  float scale_max = 1.0f;  // values map to colours over [0, scale_max]
  std::string scale_caption = "probability";
};

// INVALID_ARGUMENT for a panel whose rows or cells do not match its
// labels; PERMISSION_DENIED when the file cannot be written.
absl::Status WriteTokenGridPng(const TokenGridSpec& spec,
                               const std::string& path);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_PICTURES_TOKEN_GRID_H_
