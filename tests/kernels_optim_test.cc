// The optimizer step on the device (kernels/torch/optimizer_ops.h): the
// gradient norm and clipping coefficient against float64, and AdamW
// against torch::optim::AdamW over several steps with changing learning
// rates and clipping (and the bfloat16 copy it writes), both on buffers of
// our own and on the state of a torch::optim::AdamW, whose torch::save /
// torch::load must keep working.
#include <ATen/TensorOperators.h>
#include <ATen/ops/clamp_max.h>
#include <ATen/ops/full.h>
#include <ATen/ops/sqrt.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <gtest/gtest.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>

#include <sstream>
#include <string>
#include <vector>

#include "kernels/torch/optimizer_ops.h"
#include "kernels_test_util.h"

namespace tinylm::kernels_test {
namespace {

const auto kCuda = at::TensorOptions().device(at::kCUDA);
constexpr double kMaxNorm = 200.0;
// Beyond rounding, the kernels compute what LibTorch computes: this bounds
// one float32 ulp's worth of difference per step, accumulated.
constexpr double kOptimizerTolerance = 1e-5;

torch::optim::AdamWOptions Options(double weight_decay) {
  return torch::optim::AdamWOptions(1e-3)
      .betas({0.9, 0.95})
      .eps(1e-8)
      .weight_decay(weight_decay);
}

// The two flat buffers of train/flat_parameters.h: decayed and not. Odd
// sizes exercise the scalar tails; the second starts 4 bytes off a 16-byte
// boundary, so it takes the scalar path throughout.
struct Flat {
  std::vector<at::Tensor> params;  // float32 [n] leaves
  std::vector<double> decay = {0.1, 0.0};
};

Flat MakeFlat() {
  Flat flat;
  flat.params.push_back(Randn({100003}, at::kFloat, 0.02));
  flat.params.push_back(Randn({514}, at::kFloat, 0.02).narrow(0, 1, 513));
  return flat;
}

// Gradients large enough, on odd steps, that clipping scales them.
std::vector<at::Tensor> Grads(const Flat& flat, int step) {
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : flat.params) {
    grads.push_back(Randn(p.sizes(), at::kFloat, step % 2 ? 1.0 : 0.05));
  }
  return grads;
}

// FlatParameters::ClipGradNorm's math on float32 tensors.
at::Tensor ReferenceClipCoef(const std::vector<at::Tensor>& grads) {
  const at::Tensor norm =
      at::sqrt(grads[0].pow(2).sum() + grads[1].pow(2).sum());
  return at::clamp_max(kMaxNorm / (norm + 1e-6), 1.0);
}

using GradNormTest = KernelsTest;

TEST_F(GradNormTest, MatchesFloat64) {
  const Flat flat = MakeFlat();
  for (double scale : {1.0, 0.05}) {
    const std::vector<at::Tensor> grads = {
        Randn(flat.params[0].sizes(), at::kFloat, scale),
        Randn({514}, at::kFloat, scale).narrow(0, 1, 513)};
    const at::Tensor norm64 =
        at::sqrt(F64(grads[0]).pow(2).sum() + F64(grads[1]).pow(2).sum());
    const ops::GradNormResult result = ops::GradNorm(grads, kMaxNorm);
    const std::string name = "GradNorm scale " + std::to_string(scale);
    ExpectClose(name + " norm", result.norm, norm64, 1e-6);
    const at::Tensor coef64 = at::clamp_max(kMaxNorm / (norm64 + 1e-6), 1.0);
    ExpectClose(name + " clip_coef", result.clip_coef, coef64, 1e-6);
  }
}

using AdamWTest = KernelsTest;

TEST_F(AdamWTest, MatchesTorchOptimAdamW) {
  const Flat flat = MakeFlat();
  // The reference: torch::optim::AdamW on copies, gradients clipped in
  // place first as FlatParameters::ClipGradNorm does.
  std::vector<at::Tensor> ref_params;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (size_t i = 0; i < flat.params.size(); ++i) {
    ref_params.push_back(flat.params[i].clone().requires_grad_());
    groups.emplace_back(
        std::vector<at::Tensor>{ref_params[i]},
        std::make_unique<torch::optim::AdamWOptions>(Options(flat.decay[i])));
  }
  torch::optim::AdamW reference(groups, Options(0.0));

  std::vector<ops::AdamWBuffers> buffers;
  std::vector<at::Tensor> initial;
  for (size_t i = 0; i < flat.params.size(); ++i) {
    const at::Tensor& p = flat.params[i];
    initial.push_back(p.clone());
    // With a bfloat16 copy, which each step rewrites from the update.
    buffers.push_back({p, at::Tensor(), at::zeros_like(p), at::zeros_like(p),
                       flat.decay[i], Poisoned(p.sizes(), at::kBFloat16)});
  }
  const kernels::AdamWHyper hyper{0.9, 0.95, 1e-8};
  ops::AdamWScalars scalars{at::full({}, 0.0, kCuda.dtype(at::kDouble)),
                            at::zeros({}, kCuda.dtype(at::kLong)),
                            at::Tensor()};
  for (int step = 1; step <= 5; ++step) {
    const double lr = 3e-3 * (0.5 + 0.1 * step);
    const std::vector<at::Tensor> grads = Grads(flat, step);
    // Ours: the norm and coefficient on the device, the update reading them.
    scalars.clip_coef = ops::GradNorm(grads, kMaxNorm).clip_coef;
    scalars.lr.fill_(lr);
    for (size_t i = 0; i < buffers.size(); ++i) buffers[i].grad = grads[i];
    ops::AdamWStep(buffers, hyper, scalars);
    // LibTorch's.
    const at::Tensor coef = ReferenceClipCoef(grads);
    for (size_t i = 0; i < ref_params.size(); ++i) {
      ref_params[i].mutable_grad() = grads[i] * coef;
    }
    for (auto& group : reference.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
    reference.step();
  }
  EXPECT_EQ(scalars.step.item<int64_t>(), 5);
  for (size_t i = 0; i < buffers.size(); ++i) {
    const std::string name = "AdamW 5 steps buffer " + std::to_string(i);
    const auto& state = static_cast<torch::optim::AdamWParamState&>(
        *reference.state().find(ref_params[i].unsafeGetTensorImpl())->second);
    ExpectClose(name + " param", buffers[i].param, ref_params[i],
                kOptimizerTolerance);
    ExpectClose(name + " update", buffers[i].param - initial[i],
                ref_params[i].detach() - initial[i], kOptimizerTolerance);
    ExpectClose(name + " exp_avg", buffers[i].exp_avg, state.exp_avg(),
                kOptimizerTolerance);
    ExpectClose(name + " exp_avg_sq", buffers[i].exp_avg_sq, state.exp_avg_sq(),
                kOptimizerTolerance);
    ExpectBitwiseEqual(name + " bfloat16 copy", buffers[i].param_bf16,
                       buffers[i].param.to(at::kBFloat16));
  }
}

// The kernels step torch::optim::AdamW's own state; after SyncAdamWStep,
// torch::save / torch::load give an optimizer that continues identically
// with LibTorch's own step.
TEST_F(AdamWTest, StepsTorchOptimizerStateThatStillSaves) {
  const Flat flat = MakeFlat();
  std::vector<torch::optim::OptimizerParamGroup> groups;
  std::vector<at::Tensor> params;
  for (size_t i = 0; i < flat.params.size(); ++i) {
    params.push_back(flat.params[i].clone().requires_grad_());
    params[i].mutable_grad() = at::zeros_like(params[i]);
    groups.emplace_back(
        std::vector<at::Tensor>{params[i]},
        std::make_unique<torch::optim::AdamWOptions>(Options(flat.decay[i])));
  }
  torch::optim::AdamW optimizer(groups, Options(0.0));
  kernels::AdamWHyper hyper;
  const std::vector<ops::AdamWBuffers> buffers =
      ops::AdamWStateOf(optimizer, &hyper);
  EXPECT_EQ(hyper.beta2, 0.95);
  ops::AdamWScalars scalars{at::full({}, 2e-3, kCuda.dtype(at::kDouble)),
                            at::zeros({}, kCuda.dtype(at::kLong)),
                            at::Tensor()};
  for (int step = 1; step <= 3; ++step) {
    const std::vector<at::Tensor> grads = Grads(flat, step);
    for (size_t i = 0; i < params.size(); ++i) {
      params[i].mutable_grad().copy_(grads[i]);
    }
    ops::AdamWStep(buffers, hyper, scalars);
  }
  ops::SyncAdamWStep(optimizer, scalars.step);

  std::stringstream saved;
  torch::save(optimizer, saved);
  std::vector<torch::optim::OptimizerParamGroup> copy_groups;
  std::vector<at::Tensor> copies;
  for (size_t i = 0; i < params.size(); ++i) {
    copies.push_back(params[i].detach().clone().requires_grad_());
    copy_groups.emplace_back(
        std::vector<at::Tensor>{copies[i]},
        std::make_unique<torch::optim::AdamWOptions>(Options(flat.decay[i])));
  }
  torch::optim::AdamW loaded(copy_groups, Options(0.0));
  torch::load(loaded, saved);

  // One more step each: ours on the original, LibTorch's on the loaded one.
  const std::vector<at::Tensor> grads = Grads(flat, 4);
  for (size_t i = 0; i < params.size(); ++i) {
    params[i].mutable_grad().copy_(grads[i]);
    copies[i].mutable_grad() = grads[i].clone();
  }
  ops::AdamWStep(buffers, hyper, scalars);
  for (auto& group : loaded.param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(2e-3);
  }
  loaded.step();
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& state = static_cast<torch::optim::AdamWParamState&>(
        *loaded.state().find(copies[i].unsafeGetTensorImpl())->second);
    EXPECT_EQ(state.step(), 4);
    ExpectClose("AdamW state saved and resumed, buffer " + std::to_string(i),
                params[i], copies[i], kOptimizerTolerance);
  }
}

}  // namespace
}  // namespace tinylm::kernels_test
