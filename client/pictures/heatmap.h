// Attention heatmaps as PNG pictures, drawn with cairo.
//
// A picture holds one or more panels (the heads of a layer, or one layer of
// several models), each a T x T matrix with the query positions down the
// vertical axis and the key positions along the horizontal one, as in the
// article; the token pieces label both axes, a line on both axes marks
// where the prompt ends and generated tokens begin, and one colour scale
// (colour_scale.h) with its legend serves all panels. The renderer knows
// nothing of gRPC: it takes matrices and labels. Its layout is returned so
// that callers (and tests) can see where every label went.
#ifndef TINYLM_CLIENT_PICTURES_HEATMAP_H_
#define TINYLM_CLIENT_PICTURES_HEATMAP_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tinylm {

struct HeatmapPanel {
  std::string title;                // e.g. "head 0" or a model name
  std::vector<std::string> labels;  // [T] token pieces of both axes
  std::vector<float> values;        // [T, T] row = query, column = key
  // The first prompt_tokens labels are the prompt, the rest generated; no
  // line when all (or none) are.
  size_t prompt_tokens = 0;
};

struct HeatmapSpec {
  std::string title;
  std::vector<HeatmapPanel> panels;
  int columns = 0;  // panels per row; 0 = all in one row
  // A fontconfig family; one with Japanese glyphs, or CJK labels show as
  // boxes (the caller checks availability: font_check.h).
  std::string font_family = "Noto Sans CJK JP";
  float scale_max = 1.0f;  // values map to colours over [0, scale_max]
};

// Pixels; (x, y) is the top-left corner.
struct Box {
  double x = 0, y = 0, width = 0, height = 0;
};

struct PanelLayout {
  Box title;
  Box matrix;  // T x T cells of side `cell`
  double cell = 0;
  std::vector<Box> query_labels;  // [T] left of the matrix, top to bottom
  std::vector<Box> key_labels;    // [T] below the matrix, left to right
  // Set vertically (reading downwards) when some label is wider than a
  // cell: CJK characters upright, Latin runs turned (heatmap_internal.h).
  bool key_labels_vertical = false;
  Box query_caption;  // "query", left of the query labels
  Box key_caption;    // "key", below the key labels
  // The line between the prompt's last token and the first generated one:
  // its distance from the matrix's left (key axis) and top (query axis)
  // edges; 0 = the panel has no such line.
  double prompt_end = 0;
};

struct HeatmapLayout {
  int width = 0, height = 0;  // of the PNG
  double font_size = 0;
  Box title;
  std::vector<PanelLayout> panels;
  Box legend;                        // the colour bar, 0 at the bottom
  std::vector<double> legend_ticks;  // values labelled beside the bar
  // Below the bar, "prompt | generated" with a piece of the prompt line;
  // empty (width 0) when no panel has the line.
  Box prompt_end_key;
};

// A token piece as an axis label: a space (or sentencepiece's "▁") as "␣",
// since a leading space is what tells " the" from "the"; a newline as "↵",
// a tab as "→", other control characters in caret notation ("^[" for
// ESC); cut to kMaxLabelColumns columns; "∅" for an empty piece.
std::string HeatmapLabel(absl::string_view piece);
inline constexpr int kMaxLabelColumns = 12;

// Where everything goes, or INVALID_ARGUMENT for a spec that cannot be
// drawn (no panels, a matrix not [T, T] for its T labels, a picture past
// cairo's 32767-pixel limit).
absl::StatusOr<HeatmapLayout> LayoutHeatmap(const HeatmapSpec& spec);

// Draws the spec into a PNG file at `path`; the layout used, or the error
// (as LayoutHeatmap, or a file that cannot be written).
absl::StatusOr<HeatmapLayout> WriteHeatmapPng(const HeatmapSpec& spec,
                                              const std::string& path);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_PICTURES_HEATMAP_H_
