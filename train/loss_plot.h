// The study's loss curves: training and validation loss against tokens
// seen, one colour per variant, drawn to a PNG.
#ifndef TINYLM_TRAIN_LOSS_PLOT_H_
#define TINYLM_TRAIN_LOSS_PLOT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "train/metrics_csv.h"

namespace tinylm {

struct LossCurves {
  std::string name;
  std::vector<MetricsRow> rows;
};

// Unimplemented when the program was built without cairo.
absl::Status DrawLossCurves(const std::vector<LossCurves>& curves,
                            const std::string& png_path);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_LOSS_PLOT_H_
