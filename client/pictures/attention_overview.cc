#include "client/pictures/attention_overview.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "client/pictures/canvas.h"

namespace tinylm {
namespace {

constexpr double kMargin = 16;
constexpr double kFont = 12;
constexpr double kAxis = 40;  // room for the position numbers
constexpr double kPanelGap = 32;
constexpr double kBarWidth = 16;
constexpr Rgb kPromptEnd = {0.90, 0.38, 0.0};  // as in the heatmaps
constexpr Rgb kZoomFrame = {0.85, 0.1, 0.1};

// A round step between position labels: about 8 labels an axis.
size_t TickStep(size_t positions) {
  size_t step = 1;
  while (positions / step > 8) step *= 2;
  return step;
}

struct Geometry {
  size_t factor = 1;  // cells a pixel block covers, a side
  double pixel = 1;   // screen pixels a block takes, a side
  double width = 0, height = 0;
};

Geometry Fit(const OverviewPanel& p) {
  Geometry g;
  const size_t longest = std::max(p.rows, p.columns);
  g.factor = (longest + kOverviewPixels - 1) / kOverviewPixels;
  const size_t blocks = (longest + g.factor - 1) / g.factor;
  g.pixel = std::max<double>(1, std::floor(double(kOverviewPixels) / blocks));
  g.width = g.pixel * ((p.columns + g.factor - 1) / g.factor);
  g.height = g.pixel * ((p.rows + g.factor - 1) / g.factor);
  return g;
}

// Draws panel `p` with its matrix's top-left corner at (x, y).
void DrawPanel(cairo_t* cr, const OverviewSpec& spec, const OverviewPanel& p,
               const Geometry& g, double x, double y) {
  const std::string& f = spec.font_family;
  const size_t block_rows = (p.rows + g.factor - 1) / g.factor;
  const size_t block_columns = (p.columns + g.factor - 1) / g.factor;
  const std::vector<float> pooled =
      MaxPool(p.values, p.rows, p.columns, g.factor);
  for (size_t r = 0; r < block_rows; ++r) {
    for (size_t c = 0; c < block_columns; ++c) {
      SetColour(cr, ColourAt(pooled[r * block_columns + c]));
      cairo_rectangle(cr, x + c * g.pixel, y + r * g.pixel, g.pixel, g.pixel);
      cairo_fill(cr);
    }
  }
  const double per_cell = g.pixel / g.factor;  // screen pixels per position
  cairo_set_line_width(cr, 1);
  cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
  const size_t step = TickStep(std::max(p.rows, p.columns));
  for (size_t key = 0; key < p.columns; key += step) {
    const std::string label = absl::StrCat(key);
    const double at = x + key * per_cell;
    DrawText(cr, at - TextExtent(cr, label, f, kFont) / 2, y - 8, label, f,
             kFont);
  }
  for (size_t row = 0; row < p.rows; row += step) {
    const std::string label = absl::StrCat(p.row_begin + row);
    DrawText(cr, x - 6 - TextExtent(cr, label, f, kFont),
             CentredBaseline(y + row * per_cell, kFont), label, f, kFont);
  }
  if (p.prompt_tokens > 0 && p.prompt_tokens < p.columns) {
    SetColour(cr, kPromptEnd);
    cairo_set_line_width(cr, 2);
    const double at = x + p.prompt_tokens * per_cell;
    cairo_move_to(cr, at, y);
    cairo_line_to(cr, at, y + g.height);
    if (p.prompt_tokens >= p.row_begin &&
        p.prompt_tokens < p.row_begin + p.rows) {
      const double row = y + (p.prompt_tokens - p.row_begin) * per_cell;
      cairo_move_to(cr, x, row);
      cairo_line_to(cr, x + g.width, row);
    }
    cairo_stroke(cr);
  }
  if (p.zoom_end > p.zoom_begin) {
    // The zoom shows rows and keys zoom_begin..zoom_end: a square on the
    // diagonal.
    SetColour(cr, kZoomFrame);
    cairo_set_line_width(cr, 2);
    const double top = y + (p.zoom_begin - p.row_begin) * per_cell;
    const double side = (p.zoom_end - p.zoom_begin) * per_cell;
    cairo_rectangle(cr, x + p.zoom_begin * per_cell, top, side, side);
    cairo_stroke(cr);
  }
  cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, x - 0.5, y - 0.5, g.width + 1, g.height + 1);
  cairo_stroke(cr);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  DrawText(cr, x, y + g.height + 2 * kFont, p.title, f, kFont);
}

}  // namespace

std::vector<float> MaxPool(const std::vector<float>& values, size_t rows,
                           size_t columns, size_t factor) {
  const size_t out_rows = (rows + factor - 1) / factor;
  const size_t out_columns = (columns + factor - 1) / factor;
  std::vector<float> out(out_rows * out_columns, 0.0f);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < columns; ++c) {
      float& cell = out[(r / factor) * out_columns + c / factor];
      cell = std::max(cell, values[r * columns + c]);
    }
  }
  return out;
}

absl::Status WriteOverviewPng(const OverviewSpec& spec,
                              const std::string& path) {
  if (spec.panels.empty()) {
    return absl::InvalidArgumentError("attention overview: no panels");
  }
  std::vector<Geometry> geometry;
  double width = kMargin + kAxis, height = 0;
  for (const OverviewPanel& p : spec.panels) {
    if (p.rows == 0 || p.values.size() != p.rows * p.columns) {
      return absl::InvalidArgumentError(absl::StrCat(
          "attention overview panel \"", p.title, "\": ", p.values.size(),
          " values for ", p.rows, " x ", p.columns));
    }
    geometry.push_back(Fit(p));
    width += geometry.back().width + kPanelGap + kAxis;
    height = std::max(height, geometry.back().height);
  }
  const double top = kMargin + kFont * 2.5 + kAxis;
  const double bar_x = std::ceil(width);
  absl::StatusOr<std::unique_ptr<Canvas>> canvas = Canvas::Create(
      std::ceil(bar_x + kBarWidth + 56 + kMargin),
      std::ceil(top + std::max(height, 160.0) + 3 * kFont + kMargin));
  if (!canvas.ok()) return canvas.status();
  cairo_t* cr = (*canvas)->cr();
  cairo_set_source_rgb(cr, 0, 0, 0);
  DrawText(cr, kMargin, CentredBaseline(kMargin + kFont, kFont * 1.3),
           spec.title, spec.font_family, kFont * 1.3);
  double x = kMargin + kAxis;
  for (size_t i = 0; i < spec.panels.size(); ++i) {
    DrawPanel(cr, spec, spec.panels[i], geometry[i], x, top);
    x += geometry[i].width + kPanelGap + kAxis;
  }
  DrawColourBar(cr, {bar_x, top, kBarWidth, std::min(height, 200.0)}, 1.0,
                "attention", spec.font_family, kFont);
  return (*canvas)->WritePng(path);
}

}  // namespace tinylm
