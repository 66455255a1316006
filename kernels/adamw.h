// One AdamW step over flat float32 buffers, the same math as
// torch::optim::AdamW (decoupled weight decay, bias corrections from the
// step count, no amsgrad):
//   p  *= 1 - lr·wd
//   m   = β1·m + (1 - β1)·g,   v = β2·v + (1 - β2)·g²,   g = grad·clip_coef
//   p  -= lr / (1 - β1^t) · m / (sqrt(v) / sqrt(1 - β2^t) + eps)
// lr, the step t and the clipping coefficient are read from device memory,
// so a captured CUDA graph replays the step with new values. The state
// buffers m (exp_avg) and v (exp_avg_sq) may be torch::optim::AdamW's own
// state tensors, so its saved optimizer.pt stays valid. Optionally the
// updated parameters are also written as bfloat16 (`param_bf16`): the copy a
// bfloat16 forward reads, so that no step casts the weights again.
//
// Not here: amsgrad, maximize, non-float32 parameters, gradient scaling
// for fp16 (the gradients must be finite).
#ifndef TINYLM_KERNELS_ADAMW_H_
#define TINYLM_KERNELS_ADAMW_H_

#include <cuda_runtime.h>

#include <cstdint>

namespace tinylm::kernels {

struct AdamWBuffer {
  float* param = nullptr;       // [size] float32, updated in place
  const float* grad = nullptr;  // [size] float32
  float* exp_avg = nullptr;     // [size] float32, updated in place
  float* exp_avg_sq = nullptr;  // [size] float32, updated in place
  void* param_bf16 = nullptr;   // [size] bfloat16 copy of param, or null
  int64_t size = 0;
  double weight_decay = 0.0;
};

struct AdamWHyper {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

constexpr int kMaxAdamWBuffers = 8;

// buffers: `count` (at most kMaxAdamWBuffers) buffers, updated in one
// launch. lr: [1] float64; step: [1] int64, the number of this step
// (1 for the first); clip_coef: [1] float32 multiplying every gradient, or
// null for 1. All three on the device.
cudaError_t AdamWStep(const AdamWBuffer* buffers, int count,
                      const AdamWHyper& hyper, const double* lr,
                      const int64_t* step, const float* clip_coef,
                      cudaStream_t stream);

}  // namespace tinylm::kernels

#endif  // TINYLM_KERNELS_ADAMW_H_
