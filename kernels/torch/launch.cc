#include "kernels/torch/launch.h"

#include <ATen/ops/empty.h>
#include <c10/core/ScalarType.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/Exception.h>

namespace tinylm::ops::detail {

kernels::DType KernelDType(const at::Tensor& t, const char* what) {
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16,
              what, ": float32 or bfloat16 expected, got ", t.scalar_type());
  return t.scalar_type() == at::kBFloat16 ? kernels::DType::kBFloat16
                                          : kernels::DType::kFloat32;
}

cudaStream_t CurrentStream(const at::Tensor& t) {
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
}

at::Tensor Workspace(size_t bytes, const at::Tensor& like) {
  return at::empty({int64_t(bytes)}, like.options().dtype(at::kByte));
}

void CheckLaunch(cudaError_t status, const char* kernel) {
  TORCH_CHECK(status == cudaSuccess, "tinylm kernel ", kernel,
              " failed: ", cudaGetErrorName(status), ": ",
              cudaGetErrorString(status));
}

at::Tensor AsRows(const at::Tensor& t) {
  const int64_t cols = t.size(-1);
  at::Tensor rows = t.reshape({-1, cols});
  if (rows.stride(1) != 1 && cols > 1) rows = rows.contiguous();
  return rows;
}

}  // namespace tinylm::ops::detail
