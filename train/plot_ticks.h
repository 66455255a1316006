// Axis ticks for the loss plots: round steps (1, 2 or 5 times a power of
// ten) labelled in a unit chosen by the range, so that a short run reads
// 0, 20k, 40k ... and a long one 0, 10M, 20M ..., never 0M, 0M, 0M.
#ifndef TINYLM_TRAIN_PLOT_TICKS_H_
#define TINYLM_TRAIN_PLOT_TICKS_H_

#include <string>
#include <vector>

namespace tinylm {

struct Tick {
  double value;
  std::string label;
};

// About `target` ticks on [lo, hi], at multiples of the step. With
// `si_units` the labels carry k, M or B by the largest tick (counts of
// tokens); without, plain numbers (losses). Empty when hi <= lo.
std::vector<Tick> NiceTicks(double lo, double hi, int target, bool si_units);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_PLOT_TICKS_H_
