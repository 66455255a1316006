// The subcommands of tinylm-train: each checks its inputs, runs, and
// prints what it made. main.cc only maps flags to these.
#ifndef TINYLM_TRAIN_COMMANDS_H_
#define TINYLM_TRAIN_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "models/tokenizer.h"
#include "train/prepare.h"
#include "train/trainer.h"

namespace tinylm {

absl::Status RunTokenizerCommand(const Tokenizer::TrainOptions& options);
absl::Status RunPrepareCommand(const PrepareOptions& options);
absl::Status RunTrainCommand(const TrainOptions& options);
// Trains and prints a one-line summary of the result.
absl::StatusOr<TrainResult> TrainAndReport(const TrainOptions& options);
// Trains each variant (all four when `variants` is empty) with the same
// data, seed and budget, then writes the comparison under options.out_dir.
absl::Status RunStudyCommand(const TrainOptions& options,
                             const std::vector<std::string>& variants,
                             const std::string& prompts_path);
// Redraws loss_curves.png from the study's metrics in `study_dir`.
absl::Status RunPlotCommand(const std::string& study_dir);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_COMMANDS_H_
