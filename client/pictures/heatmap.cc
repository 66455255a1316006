// WriteHeatmapPng: draws a heatmap at the places LayoutHeatmap chose.
#include "client/pictures/heatmap.h"

#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/pictures/canvas.h"
#include "client/pictures/colour_scale.h"
#include "client/pictures/heatmap_internal.h"

namespace tinylm {
namespace {

using namespace heatmap_internal;  // NOLINT: the file's own constants

// Where a baseline goes so that text looks vertically centred on `middle`
// (CJK and Latin glyphs sit about 0.36 em above the baseline's centre).
double Baseline(double middle, double font) { return middle + 0.36 * font; }

void ShowText(cairo_t* cr, double x, double baseline, const std::string& s) {
  cairo_move_to(cr, x, baseline);
  cairo_show_text(cr, s.c_str());
}

void DrawCells(cairo_t* cr, const HeatmapPanel& panel, const PanelLayout& p,
               float scale_max) {
  const size_t t = panel.labels.size();
  for (size_t row = 0; row < t; ++row) {
    for (size_t col = 0; col < t; ++col) {
      SetColour(cr, ColourAt(panel.values[row * t + col] / scale_max));
      cairo_rectangle(cr, p.matrix.x + col * p.cell, p.matrix.y + row * p.cell,
                      p.cell, p.cell);
      cairo_fill(cr);
    }
  }
  cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, p.matrix.x - 0.5, p.matrix.y - 0.5, p.matrix.width + 1,
                  p.matrix.height + 1);
  cairo_stroke(cr);
}

// Across the matrix and on through the labels of both axes, between the
// prompt's last token and the first generated one.
void DrawPromptEnd(cairo_t* cr, const PanelLayout& p) {
  if (p.prompt_end <= 0) return;
  SetColour(cr, kPromptEndColour);
  cairo_set_line_width(cr, kPromptEndWidth);
  const double x = p.matrix.x + p.prompt_end;
  const double y = p.matrix.y + p.prompt_end;
  cairo_move_to(cr, x, p.matrix.y);
  cairo_line_to(cr, x, p.key_caption.y);
  cairo_move_to(cr, p.query_caption.x + p.query_caption.width, y);
  cairo_line_to(cr, p.matrix.x + p.matrix.width, y);
  cairo_stroke(cr);
}

// `runs` downwards from the top of `box`, centred on its column.
void DrawVertical(cairo_t* cr, const std::vector<LabelRun>& runs,
                  const Box& box, double font) {
  const double centre = box.x + box.width / 2;
  double y = box.y;
  for (const LabelRun& run : runs) {
    SetFont(cr, run.family, font);
    const double advance = TextWidth(cr, run.text);
    if (run.upright) {
      // One em per character; the baseline sits about 0.88 em down.
      ShowText(cr, centre - advance / 2, y + 0.88 * font, run.text);
      y += font;
      continue;
    }
    // Turned a quarter clockwise, the glyphs' height spans the column.
    cairo_save(cr);
    cairo_translate(cr, centre - 0.36 * font, y);
    cairo_rotate(cr, M_PI / 2);
    ShowText(cr, 0, 0, run.text);
    cairo_restore(cr);
    y += advance;
  }
}

void DrawLabels(cairo_t* cr, const HeatmapPanel& panel, const PanelLayout& p,
                const std::string& family, double font) {
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  const std::vector<std::vector<LabelRun>> labels = PanelLabels(panel, family);
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::vector<LabelRun>& runs = labels[i];
    const Box& q = p.query_labels[i];
    ShowRuns(cr, q.x, Baseline(q.y + q.height / 2, font), runs, font);
    const Box& k = p.key_labels[i];
    if (p.key_labels_vertical) {
      DrawVertical(cr, runs, k, font);
    } else {
      ShowRuns(cr, k.x, Baseline(k.y + k.height / 2, font), runs, font);
    }
  }
}

void DrawPanel(cairo_t* cr, const HeatmapSpec& spec, size_t index,
               const HeatmapLayout& layout) {
  const HeatmapPanel& panel = spec.panels[index];
  const PanelLayout& p = layout.panels[index];
  const double font = layout.font_size;
  DrawCells(cr, panel, p, spec.scale_max);
  DrawPromptEnd(cr, p);
  DrawLabels(cr, panel, p, spec.font_family, font);

  // Axis captions: "key" under the key labels, "query" left of the query
  // labels reading upwards, as matplotlib puts them.
  SetFont(cr, spec.font_family, font);
  cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
  const Box& key = p.key_caption;
  ShowText(cr, key.x + (key.width - TextWidth(cr, "key")) / 2,
           Baseline(key.y + key.height / 2, font), "key");
  const Box& query = p.query_caption;
  cairo_save(cr);
  cairo_translate(cr, Baseline(query.x + query.width / 2, font),
                  query.y + (query.height + TextWidth(cr, "query")) / 2);
  cairo_rotate(cr, -M_PI / 2);
  ShowText(cr, 0, 0, "query");
  cairo_restore(cr);

  SetFont(cr, spec.font_family, font, /*bold=*/true);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  ShowText(cr, p.title.x + (p.title.width - TextWidth(cr, panel.title)) / 2,
           Baseline(p.title.y + p.title.height / 2, font), panel.title);
}

void DrawLegend(cairo_t* cr, const HeatmapSpec& spec,
                const HeatmapLayout& layout) {
  const Box& bar = layout.legend;
  // The same anchors as the cells, bottom (0) to top (scale_max).
  FillColourGradient(cr, bar);

  const double font = layout.font_size;
  SetFont(cr, spec.font_family, font);
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, bar.x - 0.5, bar.y - 0.5, bar.width + 1, bar.height + 1);
  cairo_stroke(cr);
  for (double value : layout.legend_ticks) {
    const double y =
        std::round(bar.y + bar.height * (1 - value / spec.scale_max)) + 0.5;
    cairo_move_to(cr, bar.x + bar.width, y);
    cairo_line_to(cr, bar.x + bar.width + kTickLength, y);
    cairo_stroke(cr);
    ShowText(cr, bar.x + bar.width + kTickLength + 2, Baseline(y, font),
             absl::StrFormat("%.2f", value));
  }
  ShowText(cr, bar.x, bar.y - font * 0.6, "attention");

  const Box& key = layout.prompt_end_key;
  if (key.width <= 0) return;
  const double baseline = Baseline(key.y + key.height / 2, font);
  ShowText(cr, key.x, baseline, kPromptKeyBefore);
  const double line = key.x + TextWidth(cr, kPromptKeyBefore) + kPromptKeyGap;
  ShowText(cr, line + kPromptKeyGap, baseline, kPromptKeyAfter);
  SetColour(cr, kPromptEndColour);
  cairo_set_line_width(cr, kPromptEndWidth);
  cairo_move_to(cr, std::round(line), key.y);
  cairo_line_to(cr, std::round(line), key.y + key.height);
  cairo_stroke(cr);
}

}  // namespace

absl::StatusOr<HeatmapLayout> WriteHeatmapPng(const HeatmapSpec& spec,
                                              const std::string& path) {
  absl::StatusOr<HeatmapLayout> layout = LayoutHeatmap(spec);
  if (!layout.ok()) return layout.status();
  std::unique_ptr<cairo_surface_t, void (*)(cairo_surface_t*)> surface(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, layout->width,
                                 layout->height),
      cairo_surface_destroy);
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "heatmap: cannot make a ", layout->width, " x ", layout->height,
        " picture: ",
        cairo_status_to_string(cairo_surface_status(surface.get()))));
  }
  std::unique_ptr<cairo_t, void (*)(cairo_t*)> cr(cairo_create(surface.get()),
                                                  cairo_destroy);
  cairo_set_source_rgb(cr.get(), 1, 1, 1);
  cairo_paint(cr.get());

  SetFont(cr.get(), spec.font_family, layout->font_size * 1.3, true);
  cairo_set_source_rgb(cr.get(), 0, 0, 0);
  ShowText(cr.get(), layout->title.x,
           Baseline(layout->title.y + layout->title.height / 2,
                    layout->font_size * 1.3),
           spec.title);
  for (size_t i = 0; i < spec.panels.size(); ++i) {
    DrawPanel(cr.get(), spec, i, *layout);
  }
  DrawLegend(cr.get(), spec, *layout);
  cairo_surface_flush(surface.get());

  const cairo_status_t written =
      cairo_surface_write_to_png(surface.get(), path.c_str());
  if (written != CAIRO_STATUS_SUCCESS) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot write ", path, ": ", cairo_status_to_string(written)));
  }
  return layout;
}

}  // namespace tinylm
