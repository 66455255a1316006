// The weight products of the fused CUDA pass (AttentionContext::kernels),
// built with a CUDA LibTorch (models/CMakeLists.txt).
#ifndef TINYLM_MODELS_KERNEL_LINEAR_H_
#define TINYLM_MODELS_KERNEL_LINEAR_H_

#include <vector>

#include <ATen/core/Tensor.h>

#include "models/weight_copies.h"

namespace tinylm {

// y = x·Wᵀ (+ bias): x [..., K], W [N, K] the rows of `weights` stacked
// (without a copy where they are adjacent, as in a flat parameter buffer),
// bias [N] or undefined. With `copies`, on their bfloat16 copies with the
// weight gradients added straight into float32 (ops::LinearIntoGrads);
// without, one product of the parameters as they are (autocast casts).
at::Tensor KernelLinear(const at::Tensor& x,
                        const std::vector<at::Tensor>& weights,
                        const at::Tensor& bias, const WeightCopies* copies);

}  // namespace tinylm

#endif  // TINYLM_MODELS_KERNEL_LINEAR_H_
