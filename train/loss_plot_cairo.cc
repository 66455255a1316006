#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "train/loss_plot.h"

namespace tinylm {
namespace {

constexpr int kWidth = 960, kHeight = 600;
constexpr double kLeft = 70, kRight = 190, kTop = 40, kBottom = 60;

struct Rgb {
  double r, g, b;
};
constexpr Rgb kColours[] = {{0.12, 0.47, 0.71}, {1.00, 0.50, 0.05},
                            {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
                            {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}};

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

void DrawFrame(cairo_t* cr, const Axes& a) {
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, kLeft, kTop, kWidth - kLeft - kRight,
                  kHeight - kTop - kBottom);
  cairo_stroke(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 12);
  for (int i = 0; i <= 5; ++i) {
    const double tokens = a.x_max * i / 5;
    Text(cr, a.X(tokens) - 15, kHeight - kBottom + 18,
         absl::StrFormat("%.0fM", tokens / 1e6));
    const double loss = a.y_min + (a.y_max - a.y_min) * i / 5;
    Text(cr, 20, a.Y(loss) + 4, absl::StrFormat("%.2f", loss));
  }
  Text(cr, (kWidth - kRight) / 2, kHeight - 15, "tokens");
  cairo_set_font_size(cr, 14);
  Text(cr, kLeft, 25, "training loss (thin) and validation loss (thick)");
}

void DrawCurve(cairo_t* cr, const Axes& a, const LossCurves& c, bool val,
               const Rgb& colour) {
  cairo_set_source_rgb(cr, colour.r, colour.g, colour.b);
  cairo_set_line_width(cr, val ? 2.5 : 1.0);
  bool started = false;
  for (const MetricsRow& r : c.rows) {
    const double v = val ? r.val_loss : r.loss;
    if (v < 0 || !std::isfinite(v)) continue;
    const double y = std::max(kTop, a.Y(std::min(v, a.y_max)));
    if (started) {
      cairo_line_to(cr, a.X(r.tokens), y);
    } else {
      cairo_move_to(cr, a.X(r.tokens), y);
      started = true;
    }
  }
  cairo_stroke(cr);
}

}  // namespace

absl::Status DrawLossCurves(const std::vector<LossCurves>& curves,
                            const std::string& png_path) {
  cairo_surface_t* surface =
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, kWidth, kHeight);
  cairo_t* cr = cairo_create(surface);
  const Axes axes = FitAxes(curves);
  DrawFrame(cr, axes);
  for (size_t i = 0; i < curves.size(); ++i) {
    const Rgb& colour = kColours[i % std::size(kColours)];
    DrawCurve(cr, axes, curves[i], /*val=*/false, colour);
    DrawCurve(cr, axes, curves[i], /*val=*/true, colour);
    cairo_set_source_rgb(cr, colour.r, colour.g, colour.b);
    cairo_rectangle(cr, kWidth - kRight + 15, kTop + 10 + 22 * i, 14, 14);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_font_size(cr, 13);
    Text(cr, kWidth - kRight + 35, kTop + 22 + 22 * i, curves[i].name);
  }
  cairo_destroy(cr);
  const cairo_status_t written =
      cairo_surface_write_to_png(surface, png_path.c_str());
  cairo_surface_destroy(surface);
  if (written != CAIRO_STATUS_SUCCESS) {
    return absl::InternalError(absl::StrCat(
        png_path, ": cannot write PNG: ", cairo_status_to_string(written)));
  }
  return absl::OkStatus();
}

}  // namespace tinylm
