// The subcommands of tinylm-train. Each is checked, then run: Check* looks
// at the options (ranges, combinations, that the named inputs exist and the
// output may be written) before anything is read or written, so its errors
// are usage errors; Run* checks again, runs, and prints what it made.
// main.cc only maps flags to these.
#ifndef TINYLM_TRAIN_COMMANDS_H_
#define TINYLM_TRAIN_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "models/config.h"
#include "models/tokenizer.h"
#include "train/prepare.h"
#include "train/trainer.h"

namespace tinylm {

// The --size preset with the --variant applied; InvalidArgument naming the
// flag and the value (and the closest name) for an unknown one.
absl::StatusOr<ModelConfig> ConfigFromFlags(absl::string_view size,
                                            absl::string_view variant);

absl::Status CheckTokenizerOptions(const Tokenizer::TrainOptions& options);
absl::Status RunTokenizerCommand(const Tokenizer::TrainOptions& options);

absl::Status CheckPrepareOptions(const PrepareOptions& options);
absl::Status RunPrepareCommand(const PrepareOptions& options);

// The options and input files of `train` and `study`; not the output.
absl::Status CheckTrainInputs(const TrainOptions& options);
absl::Status CheckTrainOptions(const TrainOptions& options);
absl::Status RunTrainCommand(const TrainOptions& options);
// Trains with the tokenizer's vocabulary and prints a one-line summary of
// the result.
absl::StatusOr<TrainResult> TrainAndReport(const TrainOptions& options);

// Trains each variant (all four when `variants` is empty) with the same
// data, seed and budget, then writes the comparison under options.out_dir,
// one run per variant in runs/VARIANT. An earlier study there is continued
// with options.resume (finished runs are reported, not trained again) and
// replaced with options.overwrite; without either it is refused.
absl::Status CheckStudyOptions(const TrainOptions& options,
                               const std::vector<std::string>& variants);
absl::Status RunStudyCommand(const TrainOptions& options,
                             const std::vector<std::string>& variants,
                             const std::string& prompts_path);
// Redraws loss_curves.png from the study's metrics in `study_dir`.
absl::Status RunPlotCommand(const std::string& study_dir);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_COMMANDS_H_
