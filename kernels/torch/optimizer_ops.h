// The optimizer step on the device, for training steps captured in a CUDA
// graph (kernels/grad_norm.h, kernels/adamw.h): a deterministic global
// gradient norm with its clipping coefficient, and AdamW over flat float32
// buffers reading lr, step and that coefficient from device tensors. No
// host synchronization anywhere. CUDA tensors only.
//
// The state may be torch::optim::AdamW's own (AdamWStateOf), so that
// torch::save / torch::load of the optimizer keep working: only its host
// step counter must be copied back (SyncAdamWStep) before saving.
#ifndef TINYLM_KERNELS_TORCH_OPTIMIZER_OPS_H_
#define TINYLM_KERNELS_TORCH_OPTIMIZER_OPS_H_

#include <ATen/core/Tensor.h>

#include <vector>

#include "kernels/adamw.h"

namespace torch::optim {
class AdamW;
}  // namespace torch::optim

namespace tinylm::ops {

struct GradNormResult {
  at::Tensor norm;       // 0-dim float32: sqrt(Σ g²) over all buffers
  at::Tensor clip_coef;  // 0-dim float32: min(1, max_norm / (norm + 1e-6))
};

// grads: up to kernels::kMaxGradBuffers contiguous float32 CUDA tensors.
// The gradients are not modified; pass clip_coef to AdamWStep.
GradNormResult GradNorm(const std::vector<at::Tensor>& grads, double max_norm);

// One parameter buffer with its gradient and AdamW state, all contiguous
// float32 [n] on one CUDA device; optionally a contiguous bfloat16 [n]
// copy of the parameters that the step rewrites after the update.
struct AdamWBuffers {
  at::Tensor param, grad, exp_avg, exp_avg_sq;
  double weight_decay = 0.0;
  at::Tensor param_bf16;  // or undefined
};

// The device-side scalars of a step.
struct AdamWScalars {
  at::Tensor lr;         // 0-dim float64
  at::Tensor step;       // 0-dim int64: steps taken; incremented here first
  at::Tensor clip_coef;  // 0-dim float32 (GradNorm), or undefined for 1
};

// step += 1, then one AdamW update of every buffer (one launch for up to
// kernels::kMaxAdamWBuffers of them).
void AdamWStep(const std::vector<AdamWBuffers>& buffers,
               const kernels::AdamWHyper& hyper, AdamWScalars& scalars);

// The buffers of every parameter of `optimizer` (all must be float32 CUDA
// tensors with gradients), its state created as torch::optim::AdamW creates
// it when missing (step 0, zero moments), and the hyper-parameters of its
// groups (which must agree on betas and eps; lr is taken from
// AdamWScalars::lr, not from the groups).
std::vector<AdamWBuffers> AdamWStateOf(torch::optim::AdamW& optimizer,
                                       kernels::AdamWHyper* hyper);

// Copies the device step counter into every parameter state of
// `optimizer` (one host synchronization): call before torch::save. After
// torch::load, upload the saved step into AdamWScalars::step instead.
void SyncAdamWStep(torch::optim::AdamW& optimizer, const at::Tensor& step);

}  // namespace tinylm::ops

#endif  // TINYLM_KERNELS_TORCH_OPTIMIZER_OPS_H_
