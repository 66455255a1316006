// What the pictures other than the heatmaps share (the logit lens grid,
// scored text, the attention overview): a white picture written to PNG,
// text in fonts that have its glyphs, a colour bar, and a text colour that
// reads on a fill.
#ifndef TINYLM_CLIENT_PICTURES_CANVAS_H_
#define TINYLM_CLIENT_PICTURES_CANVAS_H_

#include <cairo.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/pictures/colour_scale.h"
#include "client/pictures/heatmap.h"

namespace tinylm {

class Canvas {
 public:
  // A white width x height picture; INVALID_ARGUMENT past cairo's
  // 32767-pixel limit, RESOURCE_EXHAUSTED when cairo cannot make it.
  static absl::StatusOr<std::unique_ptr<Canvas>> Create(int width, int height);
  // A 1 x 1 canvas to measure text on before the size is known.
  static std::unique_ptr<Canvas> Scratch();
  ~Canvas();
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;

  cairo_t* cr() const { return cr_; }
  absl::Status WritePng(const std::string& path);

 private:
  Canvas(cairo_surface_t* surface, cairo_t* cr) : surface_(surface), cr_(cr) {}
  cairo_surface_t* surface_;
  cairo_t* cr_;
};

// `text` at font size `size`: each glyph in `family` or, where that lacks
// it, a family that has it (font_check.h).
double TextExtent(cairo_t* cr, const std::string& text,
                  const std::string& family, double size);
void DrawText(cairo_t* cr, double x, double baseline, const std::string& text,
              const std::string& family, double size);

// Where a baseline goes so that text of `size` looks centred on `middle`.
double CentredBaseline(double middle, double size);

void SetColour(cairo_t* cr, const Rgb& colour);
// Near-black or white, whichever reads better on `fill`.
Rgb TextColourOn(const Rgb& fill);

// Fills `box` with the colour scale, its lowest colour at the bottom.
void FillColourGradient(cairo_t* cr, const Box& box);

// A vertical bar of the colour scale over [0, max], 0 at the bottom, with
// ticks at quarters and `caption` above; returns its width with the tick
// labels.
double DrawColourBar(cairo_t* cr, const Box& bar, double max,
                     const std::string& caption, const std::string& family,
                     double size);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_PICTURES_CANVAS_H_
