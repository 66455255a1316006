// The global L2 norm of the gradients, over one or more flat float32
// buffers, and the clipping coefficient derived from it on the device:
//   norm = sqrt(Σ g²),  clip_coef = min(1, max_norm / (norm + 1e-6))
// as torch::nn::utils::clip_grad_norm_ and train/flat_parameters.h compute
// them, but without scaling the gradients: AdamWStep (adamw.h) reads
// clip_coef and applies it on the fly. Nothing here synchronizes with the
// host, so it can be captured in a CUDA graph.
//
// The sum runs in float64 in a fixed order (fixed grid, fixed partials), so
// the norm is bit-reproducible.
#ifndef TINYLM_KERNELS_GRAD_NORM_H_
#define TINYLM_KERNELS_GRAD_NORM_H_

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tinylm::kernels {

struct GradBuffer {
  const float* data = nullptr;  // [size] float32
  int64_t size = 0;
};

constexpr int kMaxGradBuffers = 8;

// Bytes of scratch memory GradNorm needs (the same for every input).
size_t GradNormWorkspaceBytes();

// buffers: `count` (at most kMaxGradBuffers) gradient buffers. Writes
// norm: [1] float32 and clip_coef: [1] float32 on the device.
cudaError_t GradNorm(const GradBuffer* buffers, int count, float max_norm,
                     float* norm, float* clip_coef, void* workspace,
                     cudaStream_t stream);

}  // namespace tinylm::kernels

#endif  // TINYLM_KERNELS_GRAD_NORM_H_
