// LayoutHeatmap: where the title, panels, labels and legend of a heatmap
// go. Drawing is in heatmap.cc.
#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "client/pictures/heatmap.h"
#include "client/pictures/heatmap_internal.h"
#include "client/text/display_width.h"

namespace tinylm {
namespace {

using namespace heatmap_internal;  // NOLINT: the file's own constants

struct CairoDeleter {
  void operator()(cairo_t* cr) const { cairo_destroy(cr); }
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};

absl::Status CheckSpec(const HeatmapSpec& spec) {
  if (spec.panels.empty()) {
    return absl::InvalidArgumentError("heatmap: no panels to draw");
  }
  if (!(spec.scale_max > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "heatmap: scale_max must be positive, got ", spec.scale_max));
  }
  for (size_t i = 0; i < spec.panels.size(); ++i) {
    const HeatmapPanel& p = spec.panels[i];
    const size_t t = p.labels.size();
    if (t == 0 || p.values.size() != t * t) {
      return absl::InvalidArgumentError(absl::StrCat(
          "heatmap panel ", i, " (\"", p.title, "\"): ", p.values.size(),
          " values for ", t, " labels; expected a non-empty ", t, " x ", t,
          " matrix"));
    }
  }
  return absl::OkStatus();
}

// The size of one panel with its labels and captions, before placing it.
struct PanelSize {
  double query_labels = 0;  // width of the widest query label
  double key_area = 0;      // height below the matrix for key labels
  bool vertical = false;
  double width = 0, height = 0;
};

PanelSize MeasurePanel(cairo_t* cr, const HeatmapPanel& panel, double cell,
                       double font) {
  PanelSize s;
  double widest = 0, tallest = 0;
  for (const std::string& label : panel.labels) {
    const std::string text = HeatmapLabel(label);
    widest = std::max(widest, TextWidth(cr, text));
    tallest = std::max(tallest, VerticalExtent(cr, text, font));
  }
  s.query_labels = std::ceil(widest);
  s.vertical = widest > cell - 2;
  s.key_area = std::ceil((s.vertical ? tallest : font * 1.3) + kLabelPad);
  const double caption = std::ceil(font * 1.5);  // "query" / "key"
  const double title = std::ceil(font * 1.8);
  const double side = cell * panel.labels.size();
  s.width = caption + s.query_labels + kLabelPad + side;
  s.height = title + side + s.key_area + caption;
  return s;
}

PanelLayout PlacePanel(cairo_t* cr, const HeatmapPanel& panel,
                       const PanelSize& s, double x, double y, double cell,
                       double font) {
  PanelLayout p;
  const double side = cell * panel.labels.size();
  const double caption = std::ceil(font * 1.5);
  const double title = std::ceil(font * 1.8);
  p.cell = cell;
  p.key_labels_vertical = s.vertical;
  p.matrix = {x + caption + s.query_labels + kLabelPad, y + title, side, side};
  p.title = {p.matrix.x, y, side, title};
  p.query_caption = {p.matrix.x - kLabelPad - s.query_labels - caption,
                     p.matrix.y, caption, side};
  p.key_caption = {p.matrix.x, p.matrix.y + side + s.key_area, side, caption};
  const double bottom = p.matrix.y + side + kLabelPad;
  for (size_t i = 0; i < panel.labels.size(); ++i) {
    const std::string text = HeatmapLabel(panel.labels[i]);
    const double w = TextWidth(cr, text);
    p.query_labels.push_back(
        {p.matrix.x - kLabelPad - w, p.matrix.y + i * cell, w, cell});
    if (s.vertical) {
      p.key_labels.push_back({p.matrix.x + i * cell, bottom, cell,
                              VerticalExtent(cr, text, font)});
    } else {
      const double centre = p.matrix.x + (i + 0.5) * cell;
      p.key_labels.push_back({centre - w / 2, bottom, w, font * 1.3});
    }
  }
  return p;
}

}  // namespace

namespace heatmap_internal {

std::vector<VerticalRun> VerticalRuns(const std::string& label) {
  std::vector<VerticalRun> runs;
  for (size_t pos = 0; pos < label.size();) {
    const size_t start = pos;
    const bool wide = CodePointWidth(NextCodePoint(label, &pos)) == 2;
    const std::string text = label.substr(start, pos - start);
    if (wide) {
      runs.push_back({text, true});
    } else if (!runs.empty() && !runs.back().upright) {
      runs.back().text += text;
    } else {
      runs.push_back({text, false});
    }
  }
  return runs;
}

double VerticalExtent(cairo_t* cr, const std::string& label, double font) {
  double extent = 0;
  for (const VerticalRun& run : VerticalRuns(label)) {
    extent += run.upright ? font : TextWidth(cr, run.text);
  }
  return extent;
}

}  // namespace heatmap_internal

std::string HeatmapLabel(absl::string_view piece) {
  if (piece.empty()) return "∅";
  std::string label =
      absl::StrReplaceAll(EscapeControls(piece), {{" ", "␣"}, {"▁", "␣"}});
  return TruncateToWidth(label, kMaxLabelColumns);
}

absl::StatusOr<HeatmapLayout> LayoutHeatmap(const HeatmapSpec& spec) {
  if (absl::Status s = CheckSpec(spec); !s.ok()) return s;
  std::unique_ptr<cairo_surface_t, CairoDeleter> scratch(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1));
  std::unique_ptr<cairo_t, CairoDeleter> cr(cairo_create(scratch.get()));

  HeatmapLayout layout;
  size_t max_tokens = 0;
  for (const HeatmapPanel& p : spec.panels) {
    max_tokens = std::max(max_tokens, p.labels.size());
  }
  // Whole pixels per cell keep neighbouring cells free of seams.
  const double cell =
      std::floor(std::clamp(kPanelTarget / max_tokens, kMinCell, kMaxCell));
  const double font = std::min(kMaxFont, std::floor(cell * 0.72));
  layout.font_size = font;

  // Panels on a grid; each grid column as wide as its widest panel.
  const int n = spec.panels.size();
  const int columns = spec.columns > 0 ? std::min(spec.columns, n) : n;
  const int rows = (n + columns - 1) / columns;
  SetFont(cr.get(), spec.font_family, font);
  std::vector<PanelSize> sizes;
  std::vector<double> column_width(columns, 0), row_height(rows, 0);
  for (int i = 0; i < n; ++i) {
    sizes.push_back(MeasurePanel(cr.get(), spec.panels[i], cell, font));
    column_width[i % columns] =
        std::max(column_width[i % columns], sizes[i].width);
    row_height[i / columns] =
        std::max(row_height[i / columns], sizes[i].height);
  }
  SetFont(cr.get(), spec.font_family, font * 1.3, /*bold=*/true);
  const double title_width = TextWidth(cr.get(), spec.title);
  layout.title = {kMargin, kMargin, title_width, std::ceil(font * 2.2)};

  SetFont(cr.get(), spec.font_family, font);
  double y = std::round(layout.title.y + layout.title.height);
  double grid_right = 0, grid_bottom = 0;
  for (int r = 0; r < rows; ++r) {
    double x = kMargin;
    for (int c = 0; c < columns && r * columns + c < n; ++c) {
      const int i = r * columns + c;
      layout.panels.push_back(PlacePanel(cr.get(), spec.panels[i], sizes[i],
                                         std::round(x), y, cell, font));
      grid_right = std::max(grid_right, x + column_width[c]);
      x += column_width[c] + kPanelGap;
    }
    grid_bottom = y + row_height[r];
    y = std::round(grid_bottom + kPanelGap);
  }

  // The legend: a colour bar beside the first row, ticks at quarters.
  const Box& first = layout.panels.front().matrix;
  layout.legend = {std::round(grid_right + kPanelGap), first.y, kLegendBar,
                   std::max(kLegendMinHeight, first.height)};
  double tick_width = TextWidth(cr.get(), "attention") - kLegendBar;
  for (int k = 0; k <= 4; ++k) {
    const double value = spec.scale_max * k / 4;
    layout.legend_ticks.push_back(value);
    tick_width = std::max(
        tick_width,
        kTickLength + 2 + TextWidth(cr.get(), absl::StrFormat("%.2f", value)));
  }
  const double right = layout.legend.x + kLegendBar + tick_width + kMargin;
  const double bottom =
      std::max(grid_bottom, layout.legend.y + layout.legend.height + font) +
      kMargin;
  layout.width = std::ceil(std::max(right, title_width + 2 * kMargin));
  layout.height = std::ceil(bottom);
  if (layout.width > kMaxPixels || layout.height > kMaxPixels) {
    return absl::InvalidArgumentError(
        absl::StrCat("heatmap: a ", layout.width, " x ", layout.height,
                     " picture exceeds the ", kMaxPixels,
                     "-pixel limit; draw fewer "
                     "tokens or fewer panels per picture"));
  }
  return layout;
}

}  // namespace tinylm
