#include "client/pictures/canvas.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/pictures/heatmap_internal.h"

namespace tinylm {

using heatmap_internal::LabelRuns;
using heatmap_internal::RunsWidth;
using heatmap_internal::ShowRuns;

absl::StatusOr<std::unique_ptr<Canvas>> Canvas::Create(int width, int height) {
  if (width > heatmap_internal::kMaxPixels ||
      height > heatmap_internal::kMaxPixels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a ", width, " x ", height, " picture exceeds the ",
        heatmap_internal::kMaxPixels, "-pixel limit; draw less at once"));
  }
  cairo_surface_t* surface =
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
    const std::string why =
        cairo_status_to_string(cairo_surface_status(surface));
    cairo_surface_destroy(surface);
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot make a ", width, " x ", height, " picture: ", why));
  }
  std::unique_ptr<Canvas> canvas(new Canvas(surface, cairo_create(surface)));
  cairo_set_source_rgb(canvas->cr_, 1, 1, 1);
  cairo_paint(canvas->cr_);
  return canvas;
}

std::unique_ptr<Canvas> Canvas::Scratch() {
  cairo_surface_t* surface =
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
  return std::unique_ptr<Canvas>(new Canvas(surface, cairo_create(surface)));
}

Canvas::~Canvas() {
  cairo_destroy(cr_);
  cairo_surface_destroy(surface_);
}

absl::Status Canvas::WritePng(const std::string& path) {
  cairo_surface_flush(surface_);
  const cairo_status_t written =
      cairo_surface_write_to_png(surface_, path.c_str());
  if (written != CAIRO_STATUS_SUCCESS) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot write ", path, ": ", cairo_status_to_string(written)));
  }
  return absl::OkStatus();
}

double TextExtent(cairo_t* cr, const std::string& text,
                  const std::string& family, double size) {
  return RunsWidth(cr, LabelRuns(text, family), size);
}

void DrawText(cairo_t* cr, double x, double baseline, const std::string& text,
              const std::string& family, double size) {
  ShowRuns(cr, x, baseline, LabelRuns(text, family), size);
}

double CentredBaseline(double middle, double size) {
  return middle + 0.36 * size;  // glyphs sit about 0.36 em above centre
}

void SetColour(cairo_t* cr, const Rgb& c) {
  cairo_set_source_rgb(cr, c.r, c.g, c.b);
}

Rgb TextColourOn(const Rgb& fill) {
  const double luminance = 0.2126 * fill.r + 0.7152 * fill.g + 0.0722 * fill.b;
  return luminance > 0.5 ? Rgb{0.1, 0.1, 0.1} : Rgb{1, 1, 1};
}

void FillColourGradient(cairo_t* cr, const Box& box) {
  cairo_pattern_t* gradient =
      cairo_pattern_create_linear(0, box.y + box.height, 0, box.y);
  for (const ColourStop& stop : ColourStops()) {
    cairo_pattern_add_color_stop_rgb(gradient, stop.at, stop.colour.r,
                                     stop.colour.g, stop.colour.b);
  }
  cairo_set_source(cr, gradient);
  cairo_rectangle(cr, box.x, box.y, box.width, box.height);
  cairo_fill(cr);
  cairo_pattern_destroy(gradient);
}

double DrawColourBar(cairo_t* cr, const Box& bar, double max,
                     const std::string& caption, const std::string& family,
                     double size) {
  FillColourGradient(cr, bar);
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, bar.x - 0.5, bar.y - 0.5, bar.width + 1,
                  bar.height + 1);
  cairo_stroke(cr);
  double width = TextExtent(cr, caption, family, size);
  for (int k = 0; k <= 4; ++k) {
    const double value = max * k / 4;
    const double y = std::round(bar.y + bar.height * (1 - k / 4.0)) + 0.5;
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, bar.x + bar.width, y);
    cairo_line_to(cr, bar.x + bar.width + 4, y);
    cairo_stroke(cr);
    const std::string label = absl::StrFormat("%.2f", value);
    DrawText(cr, bar.x + bar.width + 6, CentredBaseline(y, size), label,
             family, size);
    width = std::max(width,
                     bar.width + 6 + TextExtent(cr, label, family, size));
  }
  DrawText(cr, bar.x, bar.y - size * 0.6, caption, family, size);
  return width;
}

}  // namespace tinylm
