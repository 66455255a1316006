#include "train/loss_plot.h"
#include "train/quote_path.h"

namespace tinylm {

absl::Status DrawLossCurves(const std::vector<LossCurves>&,
                            const std::string& png_path) {
  return absl::UnimplementedError(
      QuotePath(png_path) +
      ": built without cairo; run `tinylm-train plot` on a machine with "
      "libcairo2-dev");
}

}  // namespace tinylm
