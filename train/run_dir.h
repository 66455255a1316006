// The output directory of one training run (its files are listed in
// train/trainer.h) and the rule for reusing one: a run already there is
// continued only with --resume and replaced only with --overwrite, never
// overwritten silently.
#ifndef TINYLM_TRAIN_RUN_DIR_H_
#define TINYLM_TRAIN_RUN_DIR_H_

#include <string>

#include "absl/status/status.h"

namespace tinylm {

// Whether `dir` holds any file of a run.
bool HoldsRun(const std::string& dir);
// Whether `dir` holds a run that --resume can continue (a saved step).
bool HoldsResumableRun(const std::string& dir);

// Ok when a run may go to `dir`: NotFound for `resume` without a resumable
// run, AlreadyExists for a run there without `resume` or `overwrite`.
absl::Status CheckRunDirectory(const std::string& dir, bool resume,
                               bool overwrite);

// Removes the run's files from `dir`; other files, and the directory, stay.
absl::Status RemoveRun(const std::string& dir);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_RUN_DIR_H_
