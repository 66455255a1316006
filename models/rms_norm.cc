#include "models/rms_norm.h"

#include <ATen/ATen.h>
#include <torch/version.h>

#ifdef TINYLM_KERNEL_OPS
#include "kernels/torch/rms_norm_op.h"
#endif

namespace tinylm {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps)
    : eps_(eps), weight_(register_parameter("weight", torch::ones({dim}))) {}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x,
                                   std::optional<at::ScalarType> y_dtype) {
  // On CUDA one fused kernel each way (float32 inside, as below): ours
  // where kernels/ is built, else LibTorch's.
#ifdef TINYLM_KERNEL_OPS
  if (x.is_cuda()) return ops::RmsNorm(x, weight_, eps_, y_dtype);
#elif TORCH_VERSION_MAJOR > 2 || \
    (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 8)
  if (x.is_cuda()) {
    return at::rms_norm(x, {weight_.size(0)}, weight_, eps_)
        .to(y_dtype.value_or(x.scalar_type()));
  }
#endif
  const torch::Tensor x32 = x.to(torch::kFloat);
  const torch::Tensor norm =
      x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return (norm * weight_.to(torch::kFloat))
      .to(y_dtype.value_or(x.scalar_type()));
}

std::vector<torch::Tensor> RMSNormImpl::ForwardAfterAdd(
    const torch::Tensor& x, const torch::Tensor& delta,
    std::optional<at::ScalarType> y_dtype) {
  if (!delta.defined()) return {x, forward(x, y_dtype)};
#ifdef TINYLM_KERNEL_OPS
  if (x.is_cuda()) return ops::AddRmsNorm(x, delta, weight_, eps_, y_dtype);
#endif
  const torch::Tensor h = x + delta;
  return {h, forward(h, y_dtype)};
}

}  // namespace tinylm
