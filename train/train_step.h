// One optimizer step of training: the forward and backward passes of the
// step's micro-batches, the gradient norm and clipping, and AdamW. Two
// implementations over the same model, flat parameters and
// torch::optim::AdamW state (so optimizer.pt has one format):
//   reference  LibTorch ops: cross-entropy on float32 logits,
//              FlatParameters::ClipGradNorm, torch::optim::AdamW. The CPU's
//              way; what `resume` reproduces bit for bit.
//   fused      (builds with a CUDA LibTorch, training on CUDA) the kernels of
//              kernels/: the model's kernel pass (AttentionContext::kernels),
//              cross-entropy straight from bfloat16 logits, the gradient norm
//              and AdamW on the device, reading the learning rate and the
//              step count from device memory. With `cuda_graph` the whole
//              step is captured once, after a few eager steps, and replayed:
//              the host then launches one graph per step instead of about a
//              thousand kernels.
// Neither synchronizes with the host during a step.
#ifndef TINYLM_TRAIN_TRAIN_STEP_H_
#define TINYLM_TRAIN_TRAIN_STEP_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "models/model.h"
#include "train/batcher.h"
#include "train/flat_parameters.h"

namespace torch::optim {
class AdamW;
}  // namespace torch::optim

namespace tinylm {

// What a step works on; everything outlives the step.
struct StepParts {
  Transformer model{nullptr};
  FlatParameters* flat = nullptr;
  torch::optim::AdamW* optimizer = nullptr;  // its state may be resumed
  c10::Device device = c10::kCPU;
  double grad_clip = 1.0;
  // Runs after the backward passes, before the gradient norm (e.g. the
  // wait for a data-parallel all-reduce); may be empty.
  std::function<void()> after_backward;
};

class TrainStep {
 public:
  virtual ~TrainStep() = default;

  // One step over `micro` (host batches [B, T]) at learning rate `lr`:
  // adds the step's mean loss (Σ loss_i / micro.size()) to `loss_sum`, a
  // 0-dim float32 tensor on the device, and returns the gradient norm
  // before clipping as a 0-dim device tensor (valid until the next step).
  virtual at::Tensor Run(const std::vector<Batch>& micro, double lr,
                         at::Tensor& loss_sum) = 0;

  // Brings torch::optim::AdamW's state up to date before it is saved.
  virtual void BeforeSave() {}

  // "reference", "fused kernels" or "fused kernels, CUDA graph", for logs.
  virtual std::string Describe() const = 0;
};

std::unique_ptr<TrainStep> MakeReferenceStep(const StepParts& parts);

// Whether MakeFusedStep can serve `device` (a CUDA LibTorch build, CUDA).
bool FusedStepAvailable(c10::Device device);
// Requires FusedStepAvailable; the optimizer state must be final (after a
// resume): the step reads its tensors.
std::unique_ptr<TrainStep> MakeFusedStep(const StepParts& parts,
                                         bool cuda_graph);

// The most bytes the caching allocator held for tensors on `device` at
// once, in builds with the fused step (CUDA); 0 elsewhere.
int64_t PeakDeviceMemory(c10::Device device);

// The mean cross-entropy of logits [B, T, V] against targets [B, T], as a
// 0-dim float32 tensor: on CUDA, where built, straight from the logits'
// dtype by the fused kernel; else on float32 logits by LibTorch.
at::Tensor MeanCrossEntropy(const at::Tensor& logits, const at::Tensor& targets);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_TRAIN_STEP_H_
