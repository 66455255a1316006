// RMSNorm with a learnable scale, computed in float32 whatever the input
// dtype (as lit-gpt does), then cast back.
#ifndef TINYLM_MODELS_RMS_NORM_H_
#define TINYLM_MODELS_RMS_NORM_H_

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace tinylm {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);

  // x: [..., C] -> [..., C]
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double eps_;
  torch::Tensor weight_;  // [C]
};
TORCH_MODULE(RMSNorm);

}  // namespace tinylm

#endif  // TINYLM_MODELS_RMS_NORM_H_
