// `train`: trains one model configuration on prepared token files.
//
// AdamW with warm-up + cosine decay, gradient clipping and accumulation,
// bf16 autocast on CUDA (float32 master weights), float32 on CPU, a fixed
// seed, validation on a schedule, a CSV of every metric, and checkpoints
// that `resume` continues from bit for bit.
//
// Output directory layout:
//   checkpoint/        SPEC checkpoint of the last saved step (float32)
//   optimizer.pt       optimizer state of that step
//   state.json         step, tokens, elapsed time of that step
//   result.json        the TrainResult, once the run has finished
//   metrics.csv step,tokens,loss,val_loss,lr,grad_norm,tokens_per_s,elapsed_s
#ifndef TINYLM_TRAIN_TRAINER_H_
#define TINYLM_TRAIN_TRAINER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "models/config.h"
#include "train/launch_env.h"

namespace tinylm {

struct TrainOptions {
  ModelConfig config;
  std::string data_dir;        // train.bin, val.bin from `prepare`
  std::string tokenizer_path;  // copied into every checkpoint
  std::string out_dir;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  uint64_t seed = 1337;
  int64_t batch_size = 32;  // sequences per micro-step
  int64_t grad_accum = 1;   // micro-steps per optimizer step
  int64_t max_steps = 1000;
  int64_t warmup_steps = 100;
  double lr = 3e-3, min_lr = 3e-4;
  double weight_decay = 0.1, beta1 = 0.9, beta2 = 0.95;
  double grad_clip = 1.0;
  int64_t eval_every = 200;  // steps; also the checkpoint interval
  int64_t eval_batches = 16;
  int64_t log_every = 10;
  int64_t stop_after = -1;  // stop (and save) at this step, for tests
  bool resume = false;      // continue the run in out_dir
  bool overwrite = false;   // replace the run in out_dir
  bool progress_bar = true;
  // On CUDA: the fused kernels where built (train_step.h), as one CUDA
  // graph per step.
  bool fused = true;
  bool cuda_graph = true;
  // Data parallel (train/data_parallel.h): this process's place in a job,
  // absent for a run of one process. Only rank 0 checks and writes out_dir.
  std::optional<LaunchEnv> launch;
  int64_t dist_timeout_s = 300;  // the rendezvous and each collective
  double dist_bucket_mb = 4;     // gradients per all-reduce bucket, MiB
};

struct TrainResult {
  int64_t steps = 0;
  int64_t tokens = 0;
  int64_t parameters = 0;
  double final_loss = 0;  // mean training loss since the last eval
  double final_val_loss = 0;
  double elapsed_s = 0;  // training time, evaluation excluded
  double tokens_per_s = 0;
  int64_t peak_memory_bytes = 0;  // on CUDA, where measured (train_step.h)
  std::string device;
};

// The options alone, before anything is read: InvalidArgument naming the
// flag and its value for a count that is not positive, a warm-up that does
// not end before max_steps, resume together with overwrite, or a device
// name that is not one (FailedPrecondition for a missing CUDA device).
absl::Status ValidateTrainOptions(const TrainOptions& options);

// Trains; at the end also writes the result to out_dir/result.json. A run
// already in out_dir is continued with `resume`, replaced with `overwrite`,
// and refused otherwise (train/run_dir.h). With a launch, every rank of the
// job calls this; the result is the same on all.
absl::StatusOr<TrainResult> Train(const TrainOptions& options);
// The result.json of a finished run in `out_dir`.
absl::StatusOr<TrainResult> ReadTrainResult(const std::string& out_dir);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_TRAINER_H_
