#include "client/pictures/token_text.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "client/pictures/canvas.h"

namespace tinylm {
namespace {

constexpr double kMargin = 16;
constexpr double kFont = 14;
constexpr double kLine = 26;     // height of a line of boxes
constexpr double kPad = 3;       // text inside a box, each side
constexpr double kBoxGap = 2;    // between boxes
constexpr double kParagraphGap = 18;
constexpr double kBarWidth = 16;
constexpr Rgb kUnscored = {0.85, 0.85, 0.85};

struct Placed {
  double x, y, width;
};

// Where each token's box goes, from (0, 0); the height used.
double Flow(cairo_t* cr, const TokenTextSpec& spec,
            const TokenTextParagraph& p, std::vector<Placed>* boxes) {
  double x = 0, y = 0;
  for (const std::string& piece : p.pieces) {
    const double width =
        TextExtent(cr, HeatmapLabel(piece), spec.font_family, kFont) +
        2 * kPad;
    if (x > 0 && x + width > spec.text_width) {
      x = 0;
      y += kLine;
    }
    boxes->push_back({x, y, width});
    x += width + kBoxGap;
    if (piece.find('\n') != std::string::npos) {  // the text's own break
      x = 0;
      y += kLine;
    }
  }
  return y + (x > 0 ? kLine : 0);
}

}  // namespace

absl::Status WriteTokenTextPng(const TokenTextSpec& spec,
                               const std::string& path) {
  for (const TokenTextParagraph& p : spec.paragraphs) {
    if (p.values.size() != p.pieces.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("token text \"", p.title, "\": ", p.values.size(),
                       " values for ", p.pieces.size(), " tokens"));
    }
  }
  const std::unique_ptr<Canvas> scratch = Canvas::Scratch();
  std::vector<std::vector<Placed>> boxes(spec.paragraphs.size());
  std::vector<double> heights;
  double height = kMargin + kLine * 1.5;
  for (size_t i = 0; i < spec.paragraphs.size(); ++i) {
    heights.push_back(
        Flow(scratch->cr(), spec, spec.paragraphs[i], &boxes[i]));
    height += kLine + heights.back() + kParagraphGap;
  }
  const double bar_x = kMargin + spec.text_width + kParagraphGap;
  const double title_width =
      TextExtent(scratch->cr(), spec.title, spec.font_family, kFont * 1.2);
  const int width = std::ceil(
      std::max(bar_x + kBarWidth + 64, title_width + kMargin) + kMargin);
  height = std::max(height, kMargin + kLine * 2.5 + 160) + kMargin;
  absl::StatusOr<std::unique_ptr<Canvas>> canvas =
      Canvas::Create(width, std::ceil(height));
  if (!canvas.ok()) return canvas.status();
  cairo_t* cr = (*canvas)->cr();
  const std::string& f = spec.font_family;
  cairo_set_source_rgb(cr, 0, 0, 0);
  DrawText(cr, kMargin, CentredBaseline(kMargin + kLine / 2, kFont * 1.2),
           spec.title, f, kFont * 1.2);
  double y = kMargin + kLine * 1.5;
  for (size_t i = 0; i < spec.paragraphs.size(); ++i) {
    const TokenTextParagraph& p = spec.paragraphs[i];
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    DrawText(cr, kMargin, CentredBaseline(y + kLine / 2, kFont), p.title, f,
             kFont);
    y += kLine;
    for (size_t t = 0; t < p.pieces.size(); ++t) {
      const Placed& b = boxes[i][t];
      const Rgb fill =
          p.values[t] ? ColourAt(*p.values[t] / spec.scale_max) : kUnscored;
      SetColour(cr, fill);
      cairo_rectangle(cr, kMargin + b.x, y + b.y + 1, b.width, kLine - 2);
      cairo_fill(cr);
      SetColour(cr, TextColourOn(fill));
      DrawText(cr, kMargin + b.x + kPad,
               CentredBaseline(y + b.y + kLine / 2, kFont),
               HeatmapLabel(p.pieces[t]), f, kFont);
    }
    y += heights[i] + kParagraphGap;
  }
  DrawColourBar(cr, {bar_x, kMargin + kLine * 2.5, kBarWidth, 160},
                spec.scale_max, spec.scale_caption, f, kFont * 0.85);
  return (*canvas)->WritePng(path);
}

}  // namespace tinylm
