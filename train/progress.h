// A one-line progress bar on stderr: redrawn in place on a terminal, one
// plain line per update otherwise (logs, CI).
#ifndef TINYLM_TRAIN_PROGRESS_H_
#define TINYLM_TRAIN_PROGRESS_H_

#include <cstdint>
#include <string>

namespace tinylm {

class ProgressBar {
 public:
  ProgressBar(int64_t total, bool enabled);
  // `done` of `total` units finished; `status` follows the bar; the ETA is
  // extrapolated from `elapsed_s` of work since `first`.
  void Update(int64_t first, int64_t done, double elapsed_s,
              const std::string& status);
  // Ends the line (on a terminal).
  void Finish();

 private:
  int64_t total_;
  bool enabled_;
  bool tty_;
};

// "1h02m03s" / "4m05s" / "6s"
std::string FormatDuration(double seconds);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_PROGRESS_H_
