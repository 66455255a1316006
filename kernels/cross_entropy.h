// Cross-entropy of logits against integer targets with mean reduction, as
// at::cross_entropy_loss(logits, targets) (ignore_index rows count neither
// in the sum nor in the mean), in float32 for float32 or bfloat16 logits,
// which are read as they are (never copied to float32).
//
// A target outside [0, V) that is not ignore_index is the caller's data
// error: its row's loss is NaN (so the mean is NaN, which training already
// treats as fatal) and its gradient row is softmax alone.
//
// Not here: class weights, label smoothing, other reductions.
#ifndef TINYLM_KERNELS_CROSS_ENTROPY_H_
#define TINYLM_KERNELS_CROSS_ENTROPY_H_

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/dtype.h"

namespace tinylm::kernels {

struct CrossEntropyLayout {
  int64_t rows = 0;  // N
  int vocab = 0;     // V
  int64_t ignore_index = -100;
};

// logits: [N, V] of `dtype`, contiguous; targets: [N] int64. Writes
// row_loss: [N] float32 (lse - logit of the target, 0 for ignored rows),
// lse: [N] float32 (log-sum-exp, for the backward), loss: [1] float32 (the
// mean over counted rows) and count: [1] float32 (how many rows counted).
// The mean adds the rows in a fixed order.
cudaError_t CrossEntropyForward(DType dtype, const CrossEntropyLayout& layout,
                                const void* logits, const int64_t* targets,
                                float* row_loss, float* lse, float* loss,
                                float* count, cudaStream_t stream);

// dlogits: [N, V] of `dtype` = (softmax(logits) - onehot(target)) ·
// grad_loss / count; grad_loss: [1] float32 on the device (the gradient of
// the mean loss), lse and count from the forward.
cudaError_t CrossEntropyBackward(DType dtype, const CrossEntropyLayout& layout,
                                 const void* logits, const int64_t* targets,
                                 const float* lse, const float* count,
                                 const float* grad_loss, void* dlogits,
                                 cudaStream_t stream);

}  // namespace tinylm::kernels

#endif  // TINYLM_KERNELS_CROSS_ENTROPY_H_
