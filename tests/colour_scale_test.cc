// The heatmaps' colour scale: white to deep blue, darker as values grow.
#include "client/pictures/colour_scale.h"

#include <cmath>

#include "gtest/gtest.h"

namespace tinylm {
namespace {

TEST(ColourScaleTest, DarkensSteadilyFromWhiteToBlue) {
  double previous = 4;
  for (int i = 0; i <= 20; ++i) {
    const Rgb c = ColourAt(i / 20.0);
    const double lightness = c.r + c.g + c.b;
    EXPECT_LT(lightness, previous) << "at " << i / 20.0;
    EXPECT_GE(c.b, c.r);  // blue throughout
    previous = lightness;
  }
  const Rgb low = ColourAt(-1), zero = ColourAt(0), nan = ColourAt(NAN);
  EXPECT_EQ(low.r, zero.r);
  EXPECT_EQ(nan.g, zero.g);
  EXPECT_EQ(ColourAt(5).b, ColourAt(1).b);
  EXPECT_EQ(ColourAt(0.5).r, ColourStops()[2].colour.r);
}

}  // namespace
}  // namespace tinylm
