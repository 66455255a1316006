#include "models/kernel_linear.h"

#include <ATen/ATen.h>

#include "kernels/torch/linear_op.h"

namespace tinylm {

at::Tensor KernelLinear(const at::Tensor& x,
                        const std::vector<at::Tensor>& weights,
                        const at::Tensor& bias, const WeightCopies* copies) {
  if (copies == nullptr) return at::linear(x, ops::StackRows(weights), bias);
  std::vector<at::Tensor> weight_copies;
  for (const at::Tensor& w : weights) weight_copies.push_back(copies->Of(w));
  return ops::LinearIntoGrads(x, weights, ops::StackRows(weight_copies), bias,
                              bias.defined() ? copies->Of(bias) : at::Tensor());
}

}  // namespace tinylm
