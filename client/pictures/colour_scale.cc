#include "client/pictures/colour_scale.h"

#include <algorithm>
#include <cmath>

namespace tinylm {

const std::vector<ColourStop>& ColourStops() {
  // Lightness falls steadily while the hue stays blue, so larger values
  // always look darker, also in greyscale print.
  static const std::vector<ColourStop> kStops = {
      {0.00, {0.969, 0.984, 1.000}}, {0.25, {0.776, 0.859, 0.937}},
      {0.50, {0.420, 0.682, 0.839}}, {0.75, {0.129, 0.443, 0.710}},
      {1.00, {0.031, 0.188, 0.420}},
  };
  return kStops;
}

Rgb ColourAt(double t) {
  if (!(t > 0)) t = 0;  // also NaN
  t = std::min(t, 1.0);
  const std::vector<ColourStop>& stops = ColourStops();
  size_t i = 1;
  while (i + 1 < stops.size() && stops[i].at < t) ++i;
  const ColourStop& a = stops[i - 1];
  const ColourStop& b = stops[i];
  const double f = (t - a.at) / (b.at - a.at);
  return {a.colour.r + f * (b.colour.r - a.colour.r),
          a.colour.g + f * (b.colour.g - a.colour.g),
          a.colour.b + f * (b.colour.b - a.colour.b)};
}

}  // namespace tinylm
