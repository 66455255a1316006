// Data-parallel training as the trainer sees it: this process's rank in
// the job, the gradient averaging around each step, sums of metrics over
// the ranks, and rank 0's run copied to every rank at the start.
//
// Without a launch (no WORLD_SIZE) there is no group and every method is a
// no-op, so a run of one process computes exactly what it did before data
// parallelism existed. The global batch is batch_size x grad_accum x
// world_size: rank r takes micro-steps r*grad_accum .. (r+1)*grad_accum-1
// of the step, so two ranks with grad_accum 1 see the sequences that one
// process with grad_accum 2 sees.
#ifndef TINYLM_TRAIN_DATA_PARALLEL_H_
#define TINYLM_TRAIN_DATA_PARALLEL_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "train/flat_parameters.h"
#include "train/launch_env.h"

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace tinylm {

class GradientSync;
class ProcessGroup;

// The device of this process for --device=`device`: with a launch, cuda
// and auto (when CUDA is there) mean cuda:LOCAL_RANK, and the build must
// have the backend for it. Errors name the flag or the variable.
absl::StatusOr<c10::Device> ReplicaDevice(
    const std::string& device, const std::optional<LaunchEnv>& launch);

class DataParallel {
 public:
  // One process, no group.
  DataParallel();
  // Joins the job's group (train/process_group.h).
  static absl::StatusOr<std::unique_ptr<DataParallel>> Join(
      const LaunchEnv& launch, c10::Device device, int64_t timeout_s);
  ~DataParallel();

  int rank() const;
  int world_size() const;
  bool is_rank_zero() const { return rank() == 0; }

  // Copies rank 0's parameters to every rank, and with `optimizer` its
  // state and `numbers` too (a resumed run's position).
  absl::Status Replicate(FlatParameters& flat,
                         torch::optim::Optimizer* optimizer,
                         std::vector<double>* numbers);

  // Hooks `module`'s parameters (views of `flat`) for the gradient
  // all-reduce, in buckets of about `bucket_mb` megabytes.
  void SyncGradients(torch::nn::Module& module, FlatParameters& flat,
                     double bucket_mb);
  // Around the backward passes of one optimizer step
  // (train/gradient_sync.h).
  void BeginStep(int64_t backward_passes);
  absl::Status FinishStep();

  // Sums `tensor` over the ranks, in place.
  absl::Status Sum(at::Tensor& tensor);

 private:
  explicit DataParallel(std::unique_ptr<ProcessGroup> group);

  std::unique_ptr<ProcessGroup> group_;  // null: one process
  std::unique_ptr<GradientSync> sync_;
};

}  // namespace tinylm

#endif  // TINYLM_TRAIN_DATA_PARALLEL_H_
