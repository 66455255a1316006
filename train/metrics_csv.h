// metrics.csv of a training run: one row per logged step. On resume the
// rows after the resumed step are dropped, so the file always describes
// exactly one run.
#ifndef TINYLM_TRAIN_METRICS_CSV_H_
#define TINYLM_TRAIN_METRICS_CSV_H_

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tinylm {

struct MetricsRow {
  int64_t step = 0;
  int64_t tokens = 0;
  double loss = 0;
  double val_loss = -1;  // -1: not evaluated at this step (empty cell)
  double lr = 0;
  double grad_norm = 0;
  double tokens_per_s = 0;
  double elapsed_s = 0;
};

class MetricsCsv {
 public:
  // Opens `path`, keeping rows with step <= keep_until_step (or none when
  // keep_until_step < 0).
  static absl::StatusOr<MetricsCsv> Open(const std::string& path,
                                         int64_t keep_until_step);
  absl::Status Append(const MetricsRow& row);

 private:
  MetricsCsv(std::string path, std::ofstream out);
  std::string path_;
  std::ofstream out_;
};

// Reads every row of a metrics.csv (for plots and the study table).
absl::StatusOr<std::vector<MetricsRow>> ReadMetricsCsv(const std::string& path);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_METRICS_CSV_H_
