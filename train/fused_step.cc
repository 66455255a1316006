// The fused TrainStep (train_step.h) on the kernels of kernels/, optionally
// as one CUDA graph. Compiled only with a CUDA LibTorch (train/CMakeLists).
//
// Every step runs on one side stream of its own: its eager steps, the
// capture and the replays. cuBLAS keeps a workspace per stream, and the
// eager steps before the capture leave autograd and the caching allocator
// settled on exactly the stream the graph records. Each step waits for the
// default stream's work before it, and the default stream for the step
// (events, not host synchronizations), so that the caller's tensors,
// evaluation and saving stay in order.
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/optim/adamw.h>

#include "kernels/torch/optimizer_ops.h"
#include "train/autocast.h"
#include "train/flat_weight_copies.h"
#include "train/train_step.h"

namespace tinylm {
namespace {

// Eager steps before the capture (real steps of the run).
constexpr int kEagerStepsBeforeCapture = 3;

class FusedStep : public TrainStep {
 public:
  FusedStep(const StepParts& parts, bool cuda_graph)
      : parts_(parts),
        use_graph_(cuda_graph),
        stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/false,
                                             parts.device.index())) {
    c10::cuda::CUDAGuard device(parts_.device);
    // AdamWStateOf makes the state of a fresh optimizer (step 0).
    buffers_ = ops::AdamWStateOf(*parts_.optimizer, &hyper_);
    // The forward reads bfloat16 copies of the weights, which AdamW
    // rewrites after each update.
    copies_ = std::make_unique<FlatWeightCopies>(*parts_.model, *parts_.flat);
    for (ops::AdamWBuffers& b : buffers_) {
      b.param_bf16 = copies_->FlatCopyOf(b.param);
    }
    const auto on_device = at::TensorOptions().device(parts_.device);
    // The state's step count, kept on the device from now on.
    step_ = at::full({}, StepOf(*parts_.optimizer), on_device.dtype(at::kLong));
    lr_ = at::zeros({}, on_device.dtype(at::kDouble));
    step_loss_ = at::zeros({}, on_device.dtype(at::kFloat));
    grad_norm_ = at::zeros({}, on_device.dtype(at::kFloat));
  }

  at::Tensor Run(const std::vector<Batch>& micro, double lr,
                 at::Tensor& loss_sum) override {
    c10::cuda::CUDAGuard device(parts_.device);
    const c10::cuda::CUDAStream main =
        c10::cuda::getDefaultCUDAStream(parts_.device.index());
    // What the default stream did since the last step (the caller zeroing
    // loss_sum, an evaluation) comes first.
    at::cuda::CUDAEvent ready;
    ready.record(main);
    ready.block(stream_);
    c10::cuda::CUDAStreamGuard on_stream(stream_);
    Upload(micro);
    lr_.fill_(lr);
    if (graph_ != nullptr) {
      graph_->replay();
    } else if (use_graph_ && eager_steps_ >= kEagerStepsBeforeCapture) {
      graph_ = std::make_unique<at::cuda::CUDAGraph>();
      // Global mode: autograd runs the backward on its own thread.
      graph_->capture_begin();
      Body();
      graph_->capture_end();
      graph_->replay();
    } else {
      Body();
      ++eager_steps_;
    }
    loss_sum.add_(step_loss_);
    at::cuda::CUDAEvent done;
    done.record(stream_);
    done.block(main);
    return grad_norm_;
  }

  void BeforeSave() override {
    c10::cuda::getDefaultCUDAStream(parts_.device.index()).synchronize();
    ops::SyncAdamWStep(*parts_.optimizer, step_);
  }

  std::string Describe() const override {
    return use_graph_ ? "fused kernels, one CUDA graph per step"
                      : "fused kernels";
  }

 private:
  static int64_t StepOf(torch::optim::AdamW& optimizer) {
    const auto& state = static_cast<const torch::optim::AdamWParamState&>(
        *optimizer.state().begin()->second);
    return state.step();
  }

  // The micro-batches into the static device buffers [n, B, T] the graph
  // reads (allocated at the first step).
  void Upload(const std::vector<Batch>& micro) {
    const int64_t n = micro.size();
    if (!inputs_.defined()) {
      const auto shape = micro[0].inputs.sizes();
      const auto options =
          at::TensorOptions().dtype(at::kLong).device(parts_.device);
      inputs_ = at::empty({n, shape[0], shape[1]}, options);
      targets_ = at::empty_like(inputs_);
    }
    TORCH_CHECK(inputs_.size(0) == n, "the micro-batch count changed");
    for (int64_t i = 0; i < n; ++i) {
      // Pinned copies, kept alive by the host allocator until copied.
      inputs_[i].copy_(micro[i].inputs.pin_memory(), /*non_blocking=*/true);
      targets_[i].copy_(micro[i].targets.pin_memory(), /*non_blocking=*/true);
    }
  }

  // The step itself, on static tensors only (what a graph may record).
  void Body() {
    const int64_t n = inputs_.size(0);
    parts_.flat->ZeroGrad();
    step_loss_.zero_();
    for (int64_t i = 0; i < n; ++i) {
      at::Tensor loss;
      {
        CudaBf16Autocast autocast(parts_.device);
        ForwardInput input(inputs_[i]);
        input.kernels = true;
        input.weight_copies = copies_.get();
        const at::Tensor logits = parts_.model->Forward(input).logits;
        loss = MeanCrossEntropy(logits, targets_[i]) / double(n);
      }
      loss.backward();
      step_loss_.add_(loss.detach());
    }
    if (parts_.after_backward) parts_.after_backward();
    const ops::GradNormResult norm = ops::GradNorm(
        {parts_.flat->decayed()[0].grad(), parts_.flat->undecayed()[0].grad()},
        parts_.grad_clip);
    ops::AdamWScalars scalars{lr_, step_, norm.clip_coef};
    ops::AdamWStep(buffers_, hyper_, scalars);
    grad_norm_.copy_(norm.norm);
  }

  StepParts parts_;
  const bool use_graph_;
  c10::cuda::CUDAStream stream_;
  std::vector<ops::AdamWBuffers> buffers_;
  std::unique_ptr<FlatWeightCopies> copies_;
  kernels::AdamWHyper hyper_;
  at::Tensor lr_;         // 0-dim float64: this step's learning rate
  at::Tensor step_;       // 0-dim int64: steps taken (AdamW's bias terms)
  at::Tensor inputs_, targets_;      // [n, B, T] int64
  at::Tensor step_loss_, grad_norm_;  // 0-dim float32
  std::unique_ptr<at::cuda::CUDAGraph> graph_;
  int eager_steps_ = 0;
};

}  // namespace

bool FusedStepAvailable(c10::Device device) { return device.is_cuda(); }

int64_t PeakDeviceMemory(c10::Device device) {
  if (!device.is_cuda()) return 0;
  const auto stats =
      c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
  return stats.allocated_bytes[static_cast<size_t>(
                                   c10::CachingAllocator::StatType::AGGREGATE)]
      .peak;
}

std::unique_ptr<TrainStep> MakeFusedStep(const StepParts& parts,
                                         bool cuda_graph) {
  return std::make_unique<FusedStep>(parts, cuda_graph);
}

}  // namespace tinylm
