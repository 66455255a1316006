// RMSNorm with a learnable scale, computed in float32 whatever the input
// dtype (as lit-gpt does), then cast back.
#ifndef TINYLM_MODELS_RMS_NORM_H_
#define TINYLM_MODELS_RMS_NORM_H_

#include <optional>
#include <vector>

#include <c10/core/ScalarType.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace tinylm {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);

  // x: [..., C] -> [..., C], in x's dtype or `y_dtype` (rounded once from
  // float32; on CUDA the kernel writes it directly).
  torch::Tensor forward(const torch::Tensor& x,
                        std::optional<at::ScalarType> y_dtype = std::nullopt);
  // {h, RMSNorm(h)} for h = x + delta (h = x when delta is undefined): the
  // residual add fused into the norm's kernels where they are built.
  std::vector<torch::Tensor> ForwardAfterAdd(
      const torch::Tensor& x, const torch::Tensor& delta,
      std::optional<at::ScalarType> y_dtype = std::nullopt);

 private:
  double eps_;
  torch::Tensor weight_;  // [C]
};
TORCH_MODULE(RMSNorm);

}  // namespace tinylm

#endif  // TINYLM_MODELS_RMS_NORM_H_
