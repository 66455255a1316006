#include "client/pictures/token_grid.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "client/pictures/canvas.h"

namespace tinylm {
namespace {

constexpr double kMargin = 16;
constexpr double kFont = 12;
constexpr double kCellHeight = 24;
constexpr double kCellPad = 6;       // text inside a cell, each side
constexpr double kMinCellWidth = 56;
constexpr double kGap = 8;           // between labels, cells and notes
constexpr double kPanelGap = 24;
constexpr double kBarWidth = 16;

absl::Status Check(const TokenGridSpec& spec) {
  if (spec.panels.empty()) {
    return absl::InvalidArgumentError("token grid: no panels to draw");
  }
  for (const TokenGridPanel& p : spec.panels) {
    const size_t rows = p.row_labels.size(), k = p.column_labels.size();
    bool ok = p.pieces.size() == rows && p.values.size() == rows &&
              (p.notes.empty() || p.notes.size() == rows);
    for (size_t r = 0; ok && r < rows; ++r) {
      ok = p.pieces[r].size() == k && p.values[r].size() == k;
    }
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token grid panel \"", p.title, "\": cells do not match its ",
          rows, " rows and ", k, " columns"));
    }
  }
  return absl::OkStatus();
}

// The widths of the grid's parts, the same for every panel.
struct Widths {
  double row_labels = 0, cell = kMinCellWidth, notes = 0;
};

Widths Measure(cairo_t* cr, const TokenGridSpec& spec) {
  Widths w;
  const std::string& f = spec.font_family;
  for (const TokenGridPanel& p : spec.panels) {
    for (const std::string& label : p.row_labels) {
      w.row_labels = std::max(w.row_labels, TextExtent(cr, label, f, kFont));
    }
    for (const auto& row : p.pieces) {
      for (const std::string& piece : row) {
        w.cell = std::max(w.cell, TextExtent(cr, HeatmapLabel(piece), f,
                                             kFont) + 2 * kCellPad);
      }
    }
    w.notes = std::max(w.notes, TextExtent(cr, p.note_header, f, kFont));
    for (const std::string& note : p.notes) {
      w.notes = std::max(w.notes, TextExtent(cr, note, f, kFont));
    }
  }
  w.cell = std::ceil(w.cell);
  return w;
}

// Draws panel `p` with its top-left corner at (x, y); returns its height.
double DrawPanel(cairo_t* cr, const TokenGridSpec& spec,
                 const TokenGridPanel& p, const Widths& w, double x,
                 double y) {
  const std::string& f = spec.font_family;
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  DrawText(cr, x, CentredBaseline(y + kCellHeight / 2, kFont * 1.1), p.title,
           f, kFont * 1.1);
  y += kCellHeight;
  const double grid_x = x + w.row_labels + kGap;
  const double notes_x = grid_x + w.cell * p.column_labels.size() + kGap;
  cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
  for (size_t c = 0; c < p.column_labels.size(); ++c) {
    const double width = TextExtent(cr, p.column_labels[c], f, kFont);
    DrawText(cr, grid_x + c * w.cell + (w.cell - width) / 2,
             CentredBaseline(y + kCellHeight / 2, kFont), p.column_labels[c],
             f, kFont);
  }
  DrawText(cr, notes_x, CentredBaseline(y + kCellHeight / 2, kFont),
           p.note_header, f, kFont);
  y += kCellHeight;
  for (size_t r = 0; r < p.row_labels.size(); ++r) {
    const double top = y + r * kCellHeight;
    const double baseline = CentredBaseline(top + kCellHeight / 2, kFont);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    DrawText(cr, x + w.row_labels - TextExtent(cr, p.row_labels[r], f, kFont),
             baseline, p.row_labels[r], f, kFont);
    for (size_t c = 0; c < p.column_labels.size(); ++c) {
      const Rgb fill = ColourAt(p.values[r][c] / spec.scale_max);
      SetColour(cr, fill);
      cairo_rectangle(cr, grid_x + c * w.cell, top, w.cell, kCellHeight);
      cairo_fill(cr);
      SetColour(cr, TextColourOn(fill));
      DrawText(cr, grid_x + c * w.cell + kCellPad, baseline,
               HeatmapLabel(p.pieces[r][c]), f, kFont);
    }
    if (!p.notes.empty()) {
      cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
      DrawText(cr, notes_x, baseline, p.notes[r], f, kFont);
    }
  }
  cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, grid_x - 0.5, y - 0.5,
                  w.cell * p.column_labels.size() + 1,
                  kCellHeight * p.row_labels.size() + 1);
  cairo_stroke(cr);
  return 2 * kCellHeight + kCellHeight * p.row_labels.size();
}

}  // namespace

absl::Status WriteTokenGridPng(const TokenGridSpec& spec,
                               const std::string& path) {
  if (absl::Status s = Check(spec); !s.ok()) return s;
  const std::unique_ptr<Canvas> scratch = Canvas::Scratch();
  const Widths w = Measure(scratch->cr(), spec);
  size_t columns = 0;
  double height = kMargin + kCellHeight * 1.5;  // the title
  for (const TokenGridPanel& p : spec.panels) {
    columns = std::max(columns, p.column_labels.size());
    height += (2 + p.row_labels.size()) * kCellHeight + kPanelGap;
  }
  const double grid_right =
      kMargin + w.row_labels + kGap + w.cell * columns + kGap + w.notes;
  const double bar_x = std::ceil(grid_right + kPanelGap);
  const double title_width =
      TextExtent(scratch->cr(), spec.title, spec.font_family, kFont * 1.3);
  const int width = std::ceil(
      std::max(bar_x + kBarWidth + 48, title_width + 2 * kMargin) + kMargin);
  absl::StatusOr<std::unique_ptr<Canvas>> canvas =
      Canvas::Create(width, std::ceil(height + kMargin));
  if (!canvas.ok()) return canvas.status();
  cairo_t* cr = (*canvas)->cr();
  cairo_set_source_rgb(cr, 0, 0, 0);
  DrawText(cr, kMargin, CentredBaseline(kMargin + kCellHeight / 2, kFont * 1.3),
           spec.title, spec.font_family, kFont * 1.3);
  double y = kMargin + kCellHeight * 1.5;
  for (const TokenGridPanel& p : spec.panels) {
    y += DrawPanel(cr, spec, p, w, kMargin, y) + kPanelGap;
  }
  const double top = kMargin + kCellHeight * 3.5;
  DrawColourBar(cr, {bar_x, top, kBarWidth, std::min(200.0, height - top)},
                spec.scale_max, spec.scale_caption, spec.font_family, kFont);
  return (*canvas)->WritePng(path);
}

}  // namespace tinylm
