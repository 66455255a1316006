// Shared by heatmap_layout.cc, heatmap_label.cc and heatmap.cc (and, for
// the labels, by the other pictures' canvas.cc): the fixed sizes and
// colours of the picture, text measuring with cairo's toy font API
// (fontconfig picks the face from the family name), and labels in runs of
// one font and orientation.
#ifndef TINYLM_CLIENT_PICTURES_HEATMAP_INTERNAL_H_
#define TINYLM_CLIENT_PICTURES_HEATMAP_INTERNAL_H_

#include <cairo.h>

#include <string>
#include <vector>

#include "client/pictures/colour_scale.h"
#include "client/pictures/heatmap.h"

namespace tinylm::heatmap_internal {

constexpr double kMargin = 16;        // around the picture
constexpr double kPanelGap = 28;      // between panels
constexpr double kLabelPad = 4;       // between a label and the matrix
constexpr double kCaptionGap = 6;     // between the labels and "query"/"key"
constexpr double kPanelTarget = 480;  // matrix side the cell size aims at
constexpr double kMinCell = 14;       // below this labels get unreadable
constexpr double kMaxCell = 36;
constexpr double kMaxFont = 13;
constexpr double kLegendBar = 16;  // colour bar width
constexpr double kLegendMinHeight = 160;
constexpr double kTickLength = 4;
constexpr int kMaxPixels = 32767;  // cairo image surface limit
// The line where the prompt ends: orange, apart from every blue of the
// scale and from the white of masked cells.
constexpr Rgb kPromptEndColour = {0.90, 0.38, 0.0};
constexpr double kPromptEndWidth = 2;
// The legend's key to that line: "prompt", a piece of it, "generated".
constexpr char kPromptKeyBefore[] = "prompt";
constexpr char kPromptKeyAfter[] = "generated";
constexpr double kPromptKeyGap = 6;  // from the line piece to each word

inline void SetFont(cairo_t* cr, const std::string& family, double size,
                    bool bold = false) {
  cairo_select_font_face(
      cr, family.c_str(), CAIRO_FONT_SLANT_NORMAL,
      bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

// Horizontal advance of `text` in the current font.
inline double TextWidth(cairo_t* cr, const std::string& text) {
  cairo_text_extents_t extents;
  cairo_text_extents(cr, text.c_str(), &extents);
  return extents.x_advance;
}

// A label as cairo draws it: runs of one font family each (the label's,
// or a fallback for a glyph it lacks, font_check.h), and for key labels
// set vertically the way Japanese is, of one orientation: wide (CJK)
// characters and HeatmapLabel's marks upright one below the other, runs of
// other narrow characters (Latin, digits) turned a quarter clockwise.
struct LabelRun {
  std::string text;
  std::string family;
  bool upright;  // a single wide character or mark
};
std::vector<LabelRun> LabelRuns(const std::string& label,
                                const std::string& family);

// The runs of each of the panel's labels (HeatmapLabel of each piece).
std::vector<std::vector<LabelRun>> PanelLabels(const HeatmapPanel& panel,
                                               const std::string& family);

// The horizontal advance of `runs` at font size `size`, and their height
// set vertically. Both leave the last run's font selected.
double RunsWidth(cairo_t* cr, const std::vector<LabelRun>& runs, double size);
// Draws `runs` from `x` on `baseline`, each in its font.
void ShowRuns(cairo_t* cr, double x, double baseline,
              const std::vector<LabelRun>& runs, double size);
double VerticalExtent(cairo_t* cr, const std::vector<LabelRun>& runs,
                      double size);

}  // namespace tinylm::heatmap_internal

#endif  // TINYLM_CLIENT_PICTURES_HEATMAP_INTERNAL_H_
