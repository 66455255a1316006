// Averages the gradients over the ranks of a ProcessGroup, bucket by
// bucket, while the backward pass still runs.
//
// A hook after each parameter's gradient accumulation (autograd's post
// hook on its AccumulateGrad node) counts the backward passes that have
// reached the parameter; once every member of a bucket (train/
// grad_buckets.h) has its gradient of the step's last micro-step, the
// bucket's in-place all-reduce starts, buckets strictly in plan order so
// that all ranks send the same collectives in the same order. Earlier
// micro-steps only accumulate locally. FinishStep waits for all and
// divides by the number of ranks.
//
// Not DDP's Reducer: it copies every gradient into buckets of its own and
// back (or re-points the gradients at them, away from the flat buffers the
// optimizer and the clipping read), and its constructor differs between
// LibTorch 1.13 and 2.x; here the gradients already are flat.
//
// Thread-safety: the hooks run on autograd's threads while the caller
// waits in backward(); the state they share is behind a mutex.
#ifndef TINYLM_TRAIN_GRADIENT_SYNC_H_
#define TINYLM_TRAIN_GRADIENT_SYNC_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "train/grad_buckets.h"
#include "train/process_group.h"

namespace torch::autograd {
struct Node;
}  // namespace torch::autograd

namespace tinylm {

class GradientSync {
 public:
  // `parameters` in creation order, each gradient a view of one of
  // `flat_grads` [N] float32; `group` must outlive this.
  GradientSync(const std::vector<at::Tensor>& parameters,
               const std::vector<at::Tensor>& flat_grads, ProcessGroup& group,
               int64_t bucket_bytes);
  ~GradientSync();

  // Before the step's first backward: the all-reduce starts in backward
  // pass number `backward_passes` (the micro-steps of the step).
  void BeginStep(int64_t backward_passes);
  // After the last backward: starts the buckets no hook started (a
  // parameter without a gradient), waits for all, averages.
  absl::Status FinishStep();

  int buckets() const { return int(plan_.size()); }

 private:
  void OnGradient(int parameter);
  void StartReadyBuckets();  // requires mu_

  ProcessGroup& group_;
  std::vector<at::Tensor> flat_grads_;
  std::vector<GradBucket> plan_;
  std::vector<at::Tensor> bucket_views_;  // [end-begin] of a flat buffer
  std::vector<int> bucket_of_;            // per parameter
  // The accumulators carry the hooks; autograd holds them only weakly
  // between steps.
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;
  std::vector<uintptr_t> hook_keys_;

  std::mutex mu_;
  int64_t backward_passes_ = 0;   // guarded by mu_
  std::vector<int64_t> reached_;  // per parameter; guarded by mu_
  std::vector<int64_t> missing_;  // per bucket; guarded by mu_
  size_t next_bucket_ = 0;        // first not started; guarded by mu_
};

}  // namespace tinylm

#endif  // TINYLM_TRAIN_GRADIENT_SYNC_H_
