#include "models/rms_norm.h"

#include <ATen/ATen.h>
#include <torch/version.h>

namespace tinylm {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps)
    : eps_(eps), weight_(register_parameter("weight", torch::ones({dim}))) {}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 8)
  // One fused kernel on CUDA (float32 inside, as below).
  if (x.is_cuda()) {
    return at::rms_norm(x, {weight_.size(0)}, weight_, eps_);
  }
#endif
  const torch::Tensor x32 = x.to(torch::kFloat);
  const torch::Tensor norm =
      x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return (norm * weight_.to(torch::kFloat)).to(x.scalar_type());
}

}  // namespace tinylm
