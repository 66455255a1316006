// What every LibTorch op of kernels/torch/ shares: tensor dtype -> kernel
// dtype, the current CUDA stream, scratch memory, and turning a failed
// launch into a c10::Error. Internal to kernels/torch/.
#ifndef TINYLM_KERNELS_TORCH_LAUNCH_H_
#define TINYLM_KERNELS_TORCH_LAUNCH_H_

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <cuda_runtime.h>

#include <cstddef>

#include "kernels/dtype.h"

namespace tinylm::ops::detail {

// float32 or bfloat16; anything else is a caller bug (TORCH_CHECK).
kernels::DType KernelDType(const at::Tensor& t, const char* what);

// The stream LibTorch runs on for t's device (also inside graph capture).
cudaStream_t CurrentStream(const at::Tensor& t);

// `bytes` of scratch memory on t's device, from the caching allocator.
at::Tensor Workspace(size_t bytes, const at::Tensor& like);

// TORCH_CHECKs a launch's status, naming the kernel.
void CheckLaunch(cudaError_t status, const char* kernel);

// t viewed as [rows, t.size(-1)] with unit stride along the last dimension;
// copies only when the leading dimensions cannot be merged.
at::Tensor AsRows(const at::Tensor& t);

// torch::autograd::Function::apply asks every tensor argument for its
// device, which an undefined tensor has not: an absent optional input
// travels as an empty tensor (OrEmpty), and Present turns it back. Present
// inputs are never empty.
inline at::Tensor OrEmpty(const at::Tensor& t, const at::Tensor& like) {
  return t.defined() ? t : at::empty({0}, like.options());
}
inline at::Tensor Present(const at::Tensor& t) {
  return t.defined() && t.numel() > 0 ? t : at::Tensor();
}

}  // namespace tinylm::ops::detail

#endif  // TINYLM_KERNELS_TORCH_LAUNCH_H_
