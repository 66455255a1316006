// LayoutHeatmap: where the title, panels, labels and legend of a heatmap
// go. Drawing is in heatmap.cc.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/pictures/heatmap.h"
#include "client/pictures/heatmap_internal.h"

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

PanelSize MeasurePanel(cairo_t* cr,
                       const std::vector<std::vector<LabelRun>>& labels,
                       double cell, double font) {
  PanelSize s;
  double widest = 0, tallest = 0;
  for (const std::vector<LabelRun>& runs : labels) {
    widest = std::max(widest, RunsWidth(cr, runs, font));
    tallest = std::max(tallest, VerticalExtent(cr, runs, font));
  }
  s.query_labels = std::ceil(widest);
  s.vertical = widest > cell - 2;
  s.key_area = std::ceil((s.vertical ? tallest : font * 1.3) + kLabelPad);
  const double caption = std::ceil(font * 1.5);  // "query" / "key"
  const double title = std::ceil(font * 1.8);
  const double side = cell * labels.size();
  s.width = caption + kCaptionGap + s.query_labels + kLabelPad + side;
  s.height = title + side + s.key_area + kCaptionGap + caption;
  return s;
}

PanelLayout PlacePanel(cairo_t* cr, const HeatmapPanel& panel,
                       const std::vector<std::vector<LabelRun>>& labels,
                       const PanelSize& s, double x, double y, double cell,
                       double font) {
  PanelLayout p;
  const size_t t = labels.size();
  const double side = cell * t;
  const double caption = std::ceil(font * 1.5);
  const double title = std::ceil(font * 1.8);
  p.cell = cell;
  p.key_labels_vertical = s.vertical;
  p.matrix = {x + caption + kCaptionGap + s.query_labels + kLabelPad, y + title,
              side, side};
  p.title = {p.matrix.x, y, side, title};
  p.query_caption = {x, p.matrix.y, caption, side};
  p.key_caption = {p.matrix.x, p.matrix.y + side + s.key_area + kCaptionGap,
                   side, caption};
  if (panel.prompt_tokens > 0 && panel.prompt_tokens < t) {
    p.prompt_end = cell * panel.prompt_tokens;
  }
  const double bottom = p.matrix.y + side + kLabelPad;
  for (size_t i = 0; i < t; ++i) {
    const double w = RunsWidth(cr, labels[i], font);
    p.query_labels.push_back(
        {p.matrix.x - kLabelPad - w, p.matrix.y + i * cell, w, cell});
    if (s.vertical) {
      p.key_labels.push_back({p.matrix.x + i * cell, bottom, cell,
                              VerticalExtent(cr, labels[i], font)});
    } else {
      const double centre = p.matrix.x + (i + 0.5) * cell;
      p.key_labels.push_back({centre - w / 2, bottom, w, font * 1.3});
    }
  }
  return p;
}

struct Edges {
  double right = 0, bottom = 0;
};

// The legend at `x`: a colour bar beside the first row of panels, ticks at
// quarters, and below them the key of the prompt line when a panel has
// one. Text in the current font, of size `font`.
Edges PlaceLegend(cairo_t* cr, const HeatmapSpec& spec, double x, double font,
                  HeatmapLayout* layout) {
  const Box& first = layout->panels.front().matrix;
  layout->legend = {std::round(x), first.y, kLegendBar,
                    std::max(kLegendMinHeight, first.height)};
  const Box& bar = layout->legend;
  double tick_width = TextWidth(cr, "attention") - kLegendBar;
  for (int k = 0; k <= 4; ++k) {
    const double value = spec.scale_max * k / 4;
    layout->legend_ticks.push_back(value);
    tick_width =
        std::max(tick_width, kTickLength + 2 +
                                 TextWidth(cr, absl::StrFormat("%.2f", value)));
  }
  Edges edges{bar.x + kLegendBar + tick_width, bar.y + bar.height + font};
  const bool prompt_end =
      std::any_of(layout->panels.begin(), layout->panels.end(),
                  [](const PanelLayout& p) { return p.prompt_end > 0; });
  if (prompt_end) {
    const double width = TextWidth(cr, kPromptKeyBefore) + 2 * kPromptKeyGap +
                         TextWidth(cr, kPromptKeyAfter);
    layout->prompt_end_key = {bar.x, std::round(edges.bottom + font), width,
                              std::ceil(font * 1.3)};
    const Box& key = layout->prompt_end_key;
    edges.right = std::max(edges.right, key.x + key.width);
    edges.bottom = key.y + key.height;
  }
  return edges;
}

}  // namespace

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
  std::vector<std::vector<std::vector<LabelRun>>> labels;
  std::vector<PanelSize> sizes;
  std::vector<double> column_width(columns, 0), row_height(rows, 0);
  for (int i = 0; i < n; ++i) {
    labels.push_back(PanelLabels(spec.panels[i], spec.font_family));
    sizes.push_back(MeasurePanel(cr.get(), labels[i], cell, font));
    column_width[i % columns] =
        std::max(column_width[i % columns], sizes[i].width);
    row_height[i / columns] =
        std::max(row_height[i / columns], sizes[i].height);
  }
  SetFont(cr.get(), spec.font_family, font * 1.3, /*bold=*/true);
  const double title_width = TextWidth(cr.get(), spec.title);
  layout.title = {kMargin, kMargin, title_width, std::ceil(font * 2.2)};

  double y = std::round(layout.title.y + layout.title.height);
  double grid_right = 0, grid_bottom = 0;
  for (int r = 0; r < rows; ++r) {
    double x = kMargin;
    for (int c = 0; c < columns && r * columns + c < n; ++c) {
      const int i = r * columns + c;
      layout.panels.push_back(PlacePanel(cr.get(), spec.panels[i], labels[i],
                                         sizes[i], std::round(x), y, cell,
                                         font));
      grid_right = std::max(grid_right, x + column_width[c]);
      x += column_width[c] + kPanelGap;
    }
    grid_bottom = y + row_height[r];
    y = std::round(grid_bottom + kPanelGap);
  }

  SetFont(cr.get(), spec.font_family, font);
  const Edges legend =
      PlaceLegend(cr.get(), spec, grid_right + kPanelGap, font, &layout);
  const double right = legend.right + kMargin;
  const double bottom = std::max(grid_bottom, legend.bottom) + kMargin;
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
