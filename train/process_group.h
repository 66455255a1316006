// This process's membership in a data-parallel job: a c10d process group
// (torch.distributed's C++ core) joined through a TCPStore rendezvous at
// MASTER_ADDR:MASTER_PORT, with NCCL for CUDA tensors and Gloo for CPU
// ones, and the few collectives the trainer uses.
//
// c10d's headers (and the API differences between LibTorch 1.13, where a
// backend is a ProcessGroup, and 2.x, where it is a Backend) stay in the
// .cc. Every rank must start the same collectives in the same order.
// Errors (a rank that died, a timeout) come back as a Status, never as an
// exception, so that a failed rank exits cleanly with a message.
#ifndef TINYLM_TRAIN_PROCESS_GROUP_H_
#define TINYLM_TRAIN_PROCESS_GROUP_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "train/launch_env.h"

namespace tinylm {

class ProcessGroup {
 public:
  // Ok when this build has the backend for `device` (Gloo for the CPU,
  // NCCL for CUDA); FailedPrecondition naming WORLD_SIZE otherwise.
  static absl::Status CheckBackend(c10::Device device, int world_size);

  // Joins the job: rank 0 serves the store and waits for the others. The
  // rendezvous and every later collective fail after `timeout_s` seconds
  // (the value of --dist_timeout_s, which messages name).
  static absl::StatusOr<std::unique_ptr<ProcessGroup>> Join(
      const LaunchEnv& env, c10::Device device, int64_t timeout_s);
  ~ProcessGroup();

  int rank() const { return rank_; }
  int size() const { return size_; }
  c10::Device device() const;

  // Starts summing `tensor` (contiguous, on the group's device) over the
  // ranks, in place, and returns at once. Thread-safe; an error is kept for
  // WaitAll.
  void StartSum(const at::Tensor& tensor);
  // Waits for every sum started; the first error of any.
  absl::Status WaitAll();

  // Sums `tensor` over the ranks in place (any device), and waits.
  absl::Status Sum(at::Tensor& tensor);
  // Copies rank 0's `tensor` into every rank's (any device), and waits.
  absl::Status Broadcast(at::Tensor& tensor);

 private:
  struct Impl;
  ProcessGroup(int rank, int size, std::unique_ptr<Impl> impl);

  int rank_, size_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tinylm

#endif  // TINYLM_TRAIN_PROCESS_GROUP_H_
