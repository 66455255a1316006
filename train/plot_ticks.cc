#include "train/plot_ticks.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tinylm {
namespace {

// The round step nearest to `raw`: 1, 2 or 5 times a power of ten.
double RoundStep(double raw) {
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  if (norm < 1.5) return magnitude;
  if (norm < 3) return 2 * magnitude;
  if (norm < 7) return 5 * magnitude;
  return 10 * magnitude;
}

struct Unit {
  double scale;
  const char* suffix;
};

Unit UnitFor(double largest, bool si_units) {
  if (si_units) {
    for (const Unit& u : {Unit{1e9, "B"}, Unit{1e6, "M"}, Unit{1e3, "k"}}) {
      if (largest >= u.scale) return u;
    }
  }
  return {1, ""};
}

}  // namespace

std::vector<Tick> NiceTicks(double lo, double hi, int target, bool si_units) {
  std::vector<Tick> ticks;
  if (!(hi > lo) || target < 1) return ticks;
  const double step = RoundStep((hi - lo) / target);
  // A little slack, so that a tick at hi itself is not lost to rounding.
  const double slack = step * 1e-9;
  const double first = std::ceil((lo - slack) / step);
  const double last = std::floor((hi + slack) / step);
  const Unit unit =
      UnitFor(std::max(std::abs(first), std::abs(last)) * step, si_units);
  // Enough decimals to tell neighbouring ticks apart, the same on each.
  const int decimals =
      std::max(0, int(-std::floor(std::log10(step / unit.scale) + 1e-9)));
  for (double i = first; i <= last; ++i) {
    const double value = i * step;
    const std::string label =
        i == 0 ? "0"
               : absl::StrCat(
                     absl::StrFormat("%.*f", decimals, value / unit.scale),
                     unit.suffix);
    ticks.push_back({value, label});
  }
  return ticks;
}

}  // namespace tinylm
