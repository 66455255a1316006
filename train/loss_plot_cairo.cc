#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "train/loss_plot.h"
#include "train/plot_ticks.h"
#include "train/quote_path.h"

namespace tinylm {
namespace {

constexpr int kWidth = 960, kHeight = 600;
constexpr double kLeft = 70, kRight = 190, kTop = 40, kBottom = 60;

struct Rgb {
  double r, g, b;
};
enum class Marker { kCircle, kSquare, kTriangle, kDiamond };
// Variants can train almost alike, and then their curves coincide: each
// gets a colour, a dash pattern and a marker, so that curves on top of
// each other still show as distinct lines, in colour or not.
struct Style {
  Rgb colour;
  std::vector<double> dashes;  // on, off, ... in pixels; empty = solid
  Marker marker;               // on the validation points
};
const Style kStyles[] = {
    {{0.12, 0.47, 0.71}, {}, Marker::kCircle},
    {{1.00, 0.50, 0.05}, {9, 4}, Marker::kSquare},
    {{0.17, 0.63, 0.17}, {2, 3}, Marker::kTriangle},
    {{0.84, 0.15, 0.16}, {9, 3, 2, 3}, Marker::kDiamond},
    {{0.58, 0.40, 0.74}, {5, 5}, Marker::kCircle},
    {{0.55, 0.34, 0.29}, {1, 2}, Marker::kSquare},
};

struct Axes {
  double x_max = 1, y_min = std::numeric_limits<double>::max(), y_max = 0;
  double X(double tokens) const {
    return kLeft + (kWidth - kLeft - kRight) * tokens / x_max;
  }
  double Y(double loss) const {
    return kHeight - kBottom -
           (kHeight - kTop - kBottom) * (loss - y_min) / (y_max - y_min);
  }
};

Axes FitAxes(const std::vector<LossCurves>& curves) {
  Axes a;
  for (const LossCurves& c : curves) {
    for (const MetricsRow& r : c.rows) {
      a.x_max = std::max(a.x_max, double(r.tokens));
      for (double v : {r.loss, r.val_loss}) {
        if (v < 0 || !std::isfinite(v)) continue;
        a.y_min = std::min(a.y_min, v);
        a.y_max = std::max(a.y_max, v);
      }
    }
  }
  // The first steps' loss (~ln V) would flatten everything else: clip the
  // top of the axis at a little above the loss after a tenth of training.
  if (a.y_min > a.y_max) a.y_min = 0, a.y_max = 1;
  a.y_min = std::floor(a.y_min * 2) / 2;
  a.y_max = std::min(a.y_max, a.y_min + 4.0);
  return a;
}

void Text(cairo_t* cr, double x, double y, const std::string& s) {
  cairo_move_to(cr, x, y);
  cairo_show_text(cr, s.c_str());
}

// Text centred on x (horizontally) or on y (vertically).
void CentredText(cairo_t* cr, double x, double y, const std::string& s,
                 bool horizontal) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  if (horizontal) {
    Text(cr, x - e.width / 2 - e.x_bearing, y, s);
  } else {
    Text(cr, x - e.width - e.x_bearing, y - e.height / 2 - e.y_bearing, s);
  }
}

void DrawFrame(cairo_t* cr, const Axes& a) {
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 12);
  cairo_set_line_width(cr, 1);
  const double bottom = kHeight - kBottom, right = kWidth - kRight;
  // Light grid lines at the ticks, labels outside the frame.
  for (const Tick& t : NiceTicks(0, a.x_max, 6, /*si_units=*/true)) {
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, a.X(t.value), kTop);
    cairo_line_to(cr, a.X(t.value), bottom);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    CentredText(cr, a.X(t.value), bottom + 18, t.label, /*horizontal=*/true);
  }
  for (const Tick& t : NiceTicks(a.y_min, a.y_max, 6, /*si_units=*/false)) {
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, kLeft, a.Y(t.value));
    cairo_line_to(cr, right, a.Y(t.value));
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    CentredText(cr, kLeft - 8, a.Y(t.value), t.label, /*horizontal=*/false);
  }
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_rectangle(cr, kLeft, kTop, right - kLeft, bottom - kTop);
  cairo_stroke(cr);
  CentredText(cr, (kLeft + right) / 2, kHeight - 15, "tokens",
              /*horizontal=*/true);
  cairo_set_font_size(cr, 14);
  Text(cr, kLeft, 25, "training loss (thin) and validation loss (thick)");
}

// An outlined marker centred on (x, y): unfilled, so that markers of two
// variants at the same point both show.
void DrawMarker(cairo_t* cr, Marker marker, double x, double y) {
  constexpr double r = 4.5;
  cairo_new_sub_path(cr);
  switch (marker) {
    case Marker::kCircle:
      cairo_arc(cr, x, y, r, 0, 2 * M_PI);
      break;
    case Marker::kSquare:
      cairo_rectangle(cr, x - r, y - r, 2 * r, 2 * r);
      break;
    case Marker::kTriangle:
      cairo_move_to(cr, x, y - r * 1.2);
      cairo_line_to(cr, x + r * 1.1, y + r * 0.8);
      cairo_line_to(cr, x - r * 1.1, y + r * 0.8);
      cairo_close_path(cr);
      break;
    case Marker::kDiamond:
      cairo_move_to(cr, x, y - r * 1.3);
      cairo_line_to(cr, x + r, y);
      cairo_line_to(cr, x, y + r * 1.3);
      cairo_line_to(cr, x - r, y);
      cairo_close_path(cr);
      break;
  }
  cairo_set_dash(cr, nullptr, 0, 0);
  cairo_set_line_width(cr, 1.5);
  cairo_stroke(cr);
}

void SetStroke(cairo_t* cr, const Style& style, double width) {
  cairo_set_source_rgb(cr, style.colour.r, style.colour.g, style.colour.b);
  cairo_set_line_width(cr, width);
  cairo_set_dash(cr, style.dashes.data(), int(style.dashes.size()), 0);
}

// Draws curve `index` of `count`. Where there are enough validation
// points, the curves take turns to mark them, so that markers of curves
// that coincide do not pile up on each other.
void DrawCurve(cairo_t* cr, const Axes& a, const LossCurves& c, bool val,
               const Style& style, size_t index, size_t count) {
  SetStroke(cr, style, val ? 2.5 : 1.0);
  std::vector<std::pair<double, double>> points;
  for (const MetricsRow& r : c.rows) {
    const double v = val ? r.val_loss : r.loss;
    if (v < 0 || !std::isfinite(v)) continue;
    points.emplace_back(a.X(r.tokens), a.Y(v));
  }
  for (size_t i = 0; i < points.size(); ++i) {
    if (i == 0) {
      cairo_move_to(cr, points[i].first, points[i].second);
    } else {
      cairo_line_to(cr, points[i].first, points[i].second);
    }
  }
  cairo_stroke(cr);
  if (!val) return;
  const size_t stride = points.size() >= 3 * count ? count : 1;
  for (size_t i = index % stride; i < points.size(); i += stride) {
    DrawMarker(cr, style.marker, points[i].first, points[i].second);
  }
}

// A legend entry: a stretch of the validation line with its marker.
void DrawLegendEntry(cairo_t* cr, const Style& style, const std::string& name,
                     double y) {
  const double x = kWidth - kRight + 12;
  SetStroke(cr, style, 2.5);
  cairo_move_to(cr, x, y);
  cairo_line_to(cr, x + 36, y);
  cairo_stroke(cr);
  DrawMarker(cr, style.marker, x + 18, y);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_font_size(cr, 13);
  Text(cr, x + 44, y + 5, name);
}

}  // namespace

absl::Status DrawLossCurves(const std::vector<LossCurves>& curves,
                            const std::string& png_path) {
  cairo_surface_t* surface =
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, kWidth, kHeight);
  cairo_t* cr = cairo_create(surface);
  const Axes axes = FitAxes(curves);
  DrawFrame(cr, axes);
  // Clipped to the frame: the first steps' loss lies above the y axis.
  cairo_save(cr);
  cairo_rectangle(cr, kLeft, kTop, kWidth - kLeft - kRight,
                  kHeight - kTop - kBottom);
  cairo_clip(cr);
  for (size_t i = 0; i < curves.size(); ++i) {
    const Style& style = kStyles[i % std::size(kStyles)];
    DrawCurve(cr, axes, curves[i], /*val=*/false, style, i, curves.size());
    DrawCurve(cr, axes, curves[i], /*val=*/true, style, i, curves.size());
  }
  cairo_restore(cr);
  for (size_t i = 0; i < curves.size(); ++i) {
    DrawLegendEntry(cr, kStyles[i % std::size(kStyles)], curves[i].name,
                    kTop + 18 + 24 * i);
  }
  cairo_destroy(cr);
  const cairo_status_t written =
      cairo_surface_write_to_png(surface, png_path.c_str());
  cairo_surface_destroy(surface);
  if (written != CAIRO_STATUS_SUCCESS) {
    return absl::InternalError(
        absl::StrCat(QuotePath(png_path),
                     ": cannot write PNG: ", cairo_status_to_string(written)));
  }
  return absl::OkStatus();
}

}  // namespace tinylm
