// The reference TrainStep (train_step.h) and the cross-entropy both steps
// and evaluation share.
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/optim/adamw.h>

#include "train/autocast.h"
#include "train/train_step.h"

#ifdef TINYLM_KERNEL_OPS
#include "kernels/torch/cross_entropy_op.h"
#endif

namespace tinylm {
namespace {

class ReferenceStep : public TrainStep {
 public:
  explicit ReferenceStep(const StepParts& parts) : parts_(parts) {}

  at::Tensor Run(const std::vector<Batch>& micro, double lr,
                 at::Tensor& loss_sum) override {
    for (auto& group : parts_.optimizer->param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
    parts_.flat->ZeroGrad();
    for (const Batch& batch : micro) {
      at::Tensor loss;
      {
        CudaBf16Autocast autocast(parts_.device);
        ForwardInput input(ToDevice(batch.inputs));
        // LibTorch 2.x's fused attention on CUDA, not kernels/.
        input.fused_attention = parts_.device.is_cuda();
        const at::Tensor logits = parts_.model->Forward(input).logits;
        loss = at::cross_entropy_loss(
                   logits.reshape({-1, logits.size(-1)}).to(at::kFloat),
                   ToDevice(batch.targets).reshape({-1})) /
               double(micro.size());
      }
      loss.backward();
      loss_sum += loss.detach();
    }
    if (parts_.after_backward) parts_.after_backward();
    const at::Tensor grad_norm = parts_.flat->ClipGradNorm(parts_.grad_clip);
    parts_.optimizer->step();
    return grad_norm;
  }

  std::string Describe() const override { return "reference"; }

 private:
  // On CUDA through pinned memory and asynchronously, so the host can queue
  // the next step while the GPU runs this one.
  at::Tensor ToDevice(const at::Tensor& host) const {
    if (!parts_.device.is_cuda()) return host;
    return host.pin_memory().to(parts_.device, /*non_blocking=*/true);
  }

  StepParts parts_;
};

}  // namespace

std::unique_ptr<TrainStep> MakeReferenceStep(const StepParts& parts) {
  return std::make_unique<ReferenceStep>(parts);
}

at::Tensor MeanCrossEntropy(const at::Tensor& logits,
                            const at::Tensor& targets) {
  const at::Tensor flat_logits = logits.reshape({-1, logits.size(-1)});
#ifdef TINYLM_KERNEL_OPS
  if (logits.is_cuda()) {
    return ops::CrossEntropy(flat_logits, targets.reshape({-1}));
  }
#endif
  return at::cross_entropy_loss(flat_logits.to(at::kFloat),
                                targets.reshape({-1}));
}

}  // namespace tinylm
