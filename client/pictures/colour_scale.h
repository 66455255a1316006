// The heatmaps' colour scale: white for 0 to deep blue for 1, as in the
// article ("the larger the value, the stronger the blue"). Piecewise linear
// between a few anchors so that the legend (a cairo gradient over the same
// anchors) shows exactly the colours of the cells.
#ifndef TINYLM_CLIENT_PICTURES_COLOUR_SCALE_H_
#define TINYLM_CLIENT_PICTURES_COLOUR_SCALE_H_

#include <vector>

namespace tinylm {

struct Rgb {
  double r = 0, g = 0, b = 0;  // each in [0, 1]
};

struct ColourStop {
  double at;  // position on the scale, in [0, 1]
  Rgb colour;
};

// The anchors, ascending in `at`, from 0 to 1.
const std::vector<ColourStop>& ColourStops();

// The colour of `t` (clamped to [0, 1]; NaN draws as 0).
Rgb ColourAt(double t);

}  // namespace tinylm

#endif  // TINYLM_CLIENT_PICTURES_COLOUR_SCALE_H_
