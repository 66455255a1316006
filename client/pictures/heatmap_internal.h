// Shared by heatmap_layout.cc and heatmap.cc only: the fixed sizes of the
// picture, text measuring with cairo's toy font API (fontconfig picks the
// face from the family name) and vertical labels.
#ifndef TINYLM_CLIENT_PICTURES_HEATMAP_INTERNAL_H_
#define TINYLM_CLIENT_PICTURES_HEATMAP_INTERNAL_H_

#include <cairo.h>

#include <string>
#include <vector>

namespace tinylm::heatmap_internal {

constexpr double kMargin = 16;        // around the picture
constexpr double kPanelGap = 28;      // between panels
constexpr double kLabelPad = 4;       // between a label and the matrix
constexpr double kPanelTarget = 480;  // matrix side the cell size aims at
constexpr double kMinCell = 14;       // below this labels get unreadable
constexpr double kMaxCell = 36;
constexpr double kMaxFont = 13;
constexpr double kLegendBar = 16;  // colour bar width
constexpr double kLegendMinHeight = 160;
constexpr double kTickLength = 4;
constexpr int kMaxPixels = 32767;  // cairo image surface limit

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

// A key label set vertically the way Japanese is: wide (CJK) characters
// upright one below the other, runs of narrow ones (Latin, digits) turned
// a quarter clockwise.
struct VerticalRun {
  std::string text;
  bool upright;  // a single wide character
};
std::vector<VerticalRun> VerticalRuns(const std::string& label);

// Height of `label` set vertically in the current font of size `font`.
double VerticalExtent(cairo_t* cr, const std::string& label, double font);

}  // namespace tinylm::heatmap_internal

#endif  // TINYLM_CLIENT_PICTURES_HEATMAP_INTERNAL_H_
