// Mean cross-entropy of logits against int64 targets as a differentiable
// LibTorch op on kernels/cross_entropy.h: the same value as
// at::cross_entropy_loss(logits.to(float32), targets) (ignore_index rows
// excluded), read straight from bfloat16 or float32 logits: no float32
// copy of [N, V] is made, and the gradient is written in the logits' dtype.
// The mean divides by a count kept on the device: no host synchronization.
// CUDA tensors run the kernels; other devices run the reference.
//
// A target outside [0, V) (not ignore_index) gives a NaN loss rather than
// a device assertion. Not here: class weights, label smoothing, other
// reductions.
#ifndef TINYLM_KERNELS_TORCH_CROSS_ENTROPY_OP_H_
#define TINYLM_KERNELS_TORCH_CROSS_ENTROPY_OP_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace tinylm::ops {

// logits: [N, V] float32 or bfloat16; targets: [N] int64. Returns the mean
// loss, a 0-dim float32 tensor; differentiable in logits.
at::Tensor CrossEntropy(const at::Tensor& logits, const at::Tensor& targets,
                        int64_t ignore_index = -100);

// at::cross_entropy_loss on float32 (float64 for float64) logits.
at::Tensor CrossEntropyReference(const at::Tensor& logits,
                                 const at::Tensor& targets,
                                 int64_t ignore_index = -100);

// The kernels on caller-owned outputs, no autograd. row_loss, lse: [N]
// float32; loss, count: [1] float32; grad_loss: [1] float32; dlogits:
// [N, V] in the logits' dtype; all contiguous.
void CrossEntropyForwardOut(const at::Tensor& logits, const at::Tensor& targets,
                            int64_t ignore_index, at::Tensor& row_loss,
                            at::Tensor& lse, at::Tensor& loss,
                            at::Tensor& count);
void CrossEntropyBackwardOut(const at::Tensor& logits,
                             const at::Tensor& targets, int64_t ignore_index,
                             const at::Tensor& lse, const at::Tensor& count,
                             const at::Tensor& grad_loss, at::Tensor& dlogits);

}  // namespace tinylm::ops

#endif  // TINYLM_KERNELS_TORCH_CROSS_ENTROPY_OP_H_
