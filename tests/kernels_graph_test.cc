// A small training step made only of the kernel ops (RMSNorm, QKV
// post-processing, causal attention, cross-entropy, gradient norm, AdamW)
// captured once in a CUDA graph and replayed: its losses and its updated
// parameters, optimizer state and step counter must match the same steps
// run eagerly. This is what a whole-step graph of the trainer needs of the
// ops: no host synchronization, no host reads, device-side lr and step.
#include <ATen/TensorOperators.h>
#include <ATen/cuda/CUDAGraph.h>
#include <ATen/ops/full.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <string>
#include <vector>

#include "kernels/torch/causal_attention_op.h"
#include "kernels/torch/cross_entropy_op.h"
#include "kernels/torch/optimizer_ops.h"
#include "kernels/torch/qkv_post_op.h"
#include "kernels/torch/rms_norm_op.h"
#include "kernels_test_util.h"
#include "models/rope.h"

namespace tinylm::kernels_test {
namespace {

const auto kCuda = at::TensorOptions().device(at::kCUDA);
constexpr int64_t kB = 2, kT = 16, kC = 32, kV = 40;

// One flat float32 parameter buffer (norm weight | qkv weight | qkv bias |
// output weight), its gradient, AdamW state and device-side scalars.
struct State {
  at::Tensor flat, exp_avg, exp_avg_sq, lr, step;

  State Clone() const {
    State s{flat.detach().clone().requires_grad_(), exp_avg.clone(),
            exp_avg_sq.clone(), lr.clone(), step.clone()};
    s.flat.mutable_grad() = at::zeros_like(s.flat);
    return s;
  }
};

constexpr int64_t kNormSize = kC, kQkvSize = 3 * kC * kC, kBiasSize = 3 * kC;
constexpr int64_t kOutSize = kV * kC;
constexpr int64_t kFlatSize = kNormSize + kQkvSize + kBiasSize + kOutSize;

struct Batch {
  at::Tensor x;        // [B, T, C] float32 inputs
  at::Tensor targets;  // [B·T] int64
};

// Zero the gradient, forward, backward, clip, AdamW: returns the loss.
at::Tensor Step(State& s, const Batch& batch, const at::Tensor& cos,
                const at::Tensor& sin) {
  s.flat.mutable_grad().zero_();
  int64_t offset = 0;
  auto take = [&](int64_t n) {
    const at::Tensor view = s.flat.narrow(0, offset, n);
    offset += n;
    return view;
  };
  const at::Tensor norm_weight = take(kNormSize);
  const at::Tensor qkv_weight = take(kQkvSize).view({3 * kC, kC});
  const at::Tensor qkv_bias = take(kBiasSize);
  const at::Tensor out_weight = take(kOutSize).view({kV, kC});

  const at::Tensor a = ops::RmsNorm(batch.x, norm_weight, 1e-5);
  const at::Tensor proj = at::matmul(a, qkv_weight.t()).to(at::kBFloat16);
  const std::vector<at::Tensor> qkv =
      ops::QkvPost(proj, qkv_bias, cos, sin, {}, {1, 1, kC, true});
  const at::Tensor y = ops::CausalAttention(qkv[0], qkv[1], qkv[2], {});
  const at::Tensor logits = at::matmul(y.transpose(1, 2).reshape({kB * kT, kC}),
                                       out_weight.t().to(at::kBFloat16));
  const at::Tensor loss = ops::CrossEntropy(logits, batch.targets);
  loss.backward();
  const ops::GradNormResult norm = ops::GradNorm({s.flat.grad()}, 0.5);
  ops::AdamWScalars scalars{s.lr, s.step, norm.clip_coef};
  ops::AdamWStep(
      {{s.flat.detach(), s.flat.grad(), s.exp_avg, s.exp_avg_sq, 0.1,
        /*param_bf16=*/at::Tensor()}},
      {0.9, 0.95, 1e-8}, scalars);
  return loss.detach();
}

using CudaGraphTest = KernelsTest;

TEST_F(CudaGraphTest, CapturedStepReplaysLikeEagerSteps) {
  const RopeTable table = MakeRopeTable(kT, kC, 10000.0);
  const at::Tensor cos = table.cos.to(at::kCUDA), sin = table.sin.to(at::kCUDA);
  State initial{Randn({kFlatSize}, at::kFloat, 0.2),
                at::zeros({kFlatSize}, kCuda.dtype(at::kFloat)),
                at::zeros({kFlatSize}, kCuda.dtype(at::kFloat)),
                at::full({}, 1e-2, kCuda.dtype(at::kDouble)),
                at::zeros({}, kCuda.dtype(at::kLong))};
  std::vector<Batch> batches;
  for (int i = 0; i < 3; ++i) {
    batches.push_back({Randn({kB, kT, kC}, at::kFloat),
                       at::randint(kV, {kB * kT}, kCuda.dtype(at::kLong))});
  }
  const std::vector<double> lrs = {1e-2, 5e-3, 2e-3};

  // Eagerly.
  State eager = initial.Clone();
  std::vector<at::Tensor> eager_losses;
  for (int i = 0; i < 3; ++i) {
    eager.lr.fill_(lrs[i]);
    eager_losses.push_back(Step(eager, batches[i], cos, sin));
  }

  // Captured once on a side stream (after warm-up steps on a scratch copy,
  // so that cuBLAS and autograd are initialized), replayed three times with
  // the batch and lr copied into its static inputs.
  State graphed = initial.Clone();
  Batch input{batches[0].x.clone(), batches[0].targets.clone()};
  at::cuda::CUDAGraph graph;
  at::Tensor graph_loss;
  torch::cuda::synchronize();  // the side stream sees finished inputs
  {
    c10::cuda::CUDAStreamGuard side(c10::cuda::getStreamFromPool());
    State scratch = initial.Clone();
    for (int i = 0; i < 2; ++i) Step(scratch, input, cos, sin);
    graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
    graph_loss = Step(graphed, input, cos, sin);
    graph.capture_end();
  }
  torch::cuda::synchronize();  // warm-up reads of `input` are done
  for (int i = 0; i < 3; ++i) {
    input.x.copy_(batches[i].x);
    input.targets.copy_(batches[i].targets);
    graphed.lr.fill_(lrs[i]);
    graph.replay();
    ExpectClose("graph step " + std::to_string(i) + " loss", graph_loss,
                eager_losses[i], 1e-6);
  }
  EXPECT_EQ(graphed.step.item<int64_t>(), 3);
  ExpectClose("graph: parameters after 3 replays", graphed.flat, eager.flat,
              1e-6);
  ExpectClose("graph: exp_avg after 3 replays", graphed.exp_avg, eager.exp_avg,
              1e-6);
  ExpectClose("graph: exp_avg_sq after 3 replays", graphed.exp_avg_sq,
              eager.exp_avg_sq, 1e-6);
}

}  // namespace
}  // namespace tinylm::kernels_test
