#include "train/loss_plot.h"

namespace tinylm {

absl::Status DrawLossCurves(const std::vector<LossCurves>&,
                            const std::string& png_path) {
  return absl::UnimplementedError(
      png_path + ": built without cairo; run `tinylm-train plot` on a "
                 "machine with libcairo2-dev");
}

}  // namespace tinylm
