// An attention map too long to label token by token (hundreds of
// positions), drawn whole: query rows down, keys across, at most
// kOverviewPixels a side, each pixel the largest weight of the block of
// cells it covers (a mean would wash out the sharp, sparse weights one
// looks for). Position numbers mark the axes, an orange line the prompt's
// end, a red frame the rows drawn labelled in the zoom picture (the
// ordinary heatmap). One panel per head, side by side. Knows nothing of
// gRPC.
#ifndef TINYLM_CLIENT_PICTURES_ATTENTION_OVERVIEW_H_
#define TINYLM_CLIENT_PICTURES_ATTENTION_OVERVIEW_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tinylm {

inline constexpr size_t kOverviewPixels = 512;

struct OverviewPanel {
  std::string title;
  std::vector<float> values;  // [rows, columns]: query rows from row_begin
  size_t rows = 0, columns = 0;
  size_t row_begin = 0;
  size_t prompt_tokens = 0;             // 0 or columns: no line
  size_t zoom_begin = 0, zoom_end = 0;  // query rows framed; empty: none
};

struct OverviewSpec {
  std::string title;
  std::vector<OverviewPanel> panels;
  std::string font_family = "Noto Sans CJK JP";
};

// values [rows, columns] reduced by `factor` cells a side: [ceil(rows /
// factor), ceil(columns / factor)], each the block's largest value.
std::vector<float> MaxPool(const std::vector<float>& values, size_t rows,
                           size_t columns, size_t factor);

// INVALID_ARGUMENT for a panel whose values do not match its size;
// PERMISSION_DENIED when the file cannot be written.
absl::Status WriteOverviewPng(const OverviewSpec& spec,
                              const std::string& path);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_PICTURES_ATTENTION_OVERVIEW_H_
