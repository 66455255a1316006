#include "kernels/torch/optimizer_ops.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/zeros_like.h>
#include <torch/optim/adamw.h>

#include <memory>
#include <tuple>

#include "kernels/grad_norm.h"
#include "kernels/torch/launch.h"

namespace tinylm::ops {
namespace {

void CheckFlat(const at::Tensor& t, const at::Tensor& like, const char* what) {
  TORCH_CHECK(t.defined() && t.is_cuda() && t.device() == like.device() &&
                  t.scalar_type() == at::kFloat && t.is_contiguous() &&
                  t.numel() == like.numel(),
              what, ": contiguous float32 CUDA tensor of ", like.numel(),
              " elements on ", like.device(), " expected");
}

void CheckScalar(const at::Tensor& t, at::ScalarType dtype,
                 const at::Tensor& like, const char* what) {
  TORCH_CHECK(t.defined() && t.device() == like.device() &&
                  t.scalar_type() == dtype && t.numel() == 1,
              what, ": one ", dtype, " element on ", like.device(),
              " expected");
}

}  // namespace

GradNormResult GradNorm(const std::vector<at::Tensor>& grads, double max_norm) {
  TORCH_CHECK(!grads.empty() && grads.size() <= kernels::kMaxGradBuffers,
              "GradNorm: 1 to ", kernels::kMaxGradBuffers,
              " buffers expected, got ", grads.size());
  std::vector<kernels::GradBuffer> buffers;
  for (const at::Tensor& g : grads) {
    CheckFlat(g, g, "GradNorm: gradient");
    TORCH_CHECK(g.device() == grads[0].device(),
                "GradNorm: gradients on one device expected");
    buffers.push_back({g.data_ptr<float>(), g.numel()});
  }
  const auto f32 = grads[0].options().dtype(at::kFloat);
  GradNormResult result{at::empty({}, f32), at::empty({}, f32)};
  const at::Tensor workspace =
      detail::Workspace(kernels::GradNormWorkspaceBytes(), grads[0]);
  detail::CheckLaunch(
      kernels::GradNorm(buffers.data(), int(buffers.size()), float(max_norm),
                        result.norm.data_ptr<float>(),
                        result.clip_coef.data_ptr<float>(),
                        workspace.data_ptr(), detail::CurrentStream(grads[0])),
      "GradNorm");
  return result;
}

void AdamWStep(const std::vector<AdamWBuffers>& buffers,
               const kernels::AdamWHyper& hyper, AdamWScalars& scalars) {
  TORCH_CHECK(!buffers.empty() && buffers.size() <= kernels::kMaxAdamWBuffers,
              "AdamWStep: 1 to ", kernels::kMaxAdamWBuffers,
              " buffers expected, got ", buffers.size());
  const at::Tensor& first = buffers[0].param;
  TORCH_CHECK(first.defined() && first.is_cuda(),
              "AdamWStep: CUDA parameters expected");
  std::vector<kernels::AdamWBuffer> raw;
  for (const AdamWBuffers& b : buffers) {
    CheckFlat(b.param, b.param, "AdamWStep: param");
    TORCH_CHECK(b.param.device() == first.device(),
                "AdamWStep: buffers on one device expected");
    CheckFlat(b.grad, b.param, "AdamWStep: grad");
    CheckFlat(b.exp_avg, b.param, "AdamWStep: exp_avg");
    CheckFlat(b.exp_avg_sq, b.param, "AdamWStep: exp_avg_sq");
    if (b.param_bf16.defined()) {
      TORCH_CHECK(b.param_bf16.device() == b.param.device() &&
                      b.param_bf16.scalar_type() == at::kBFloat16 &&
                      b.param_bf16.is_contiguous() &&
                      b.param_bf16.numel() == b.param.numel(),
                  "AdamWStep: param_bf16: contiguous bfloat16 CUDA tensor of ",
                  b.param.numel(), " elements on ", b.param.device(),
                  " expected");
    }
    raw.push_back({b.param.data_ptr<float>(), b.grad.data_ptr<float>(),
                   b.exp_avg.data_ptr<float>(), b.exp_avg_sq.data_ptr<float>(),
                   b.param_bf16.defined() ? b.param_bf16.data_ptr() : nullptr,
                   b.param.numel(), b.weight_decay});
  }
  CheckScalar(scalars.lr, at::kDouble, first, "AdamWStep: lr");
  CheckScalar(scalars.step, at::kLong, first, "AdamWStep: step");
  if (scalars.clip_coef.defined()) {
    CheckScalar(scalars.clip_coef, at::kFloat, first, "AdamWStep: clip_coef");
  }
  // As torch::optim::AdamW: the counter moves first, and the update uses
  // the new value.
  scalars.step.add_(1);
  detail::CheckLaunch(
      kernels::AdamWStep(
          raw.data(), int(raw.size()), hyper, scalars.lr.data_ptr<double>(),
          scalars.step.data_ptr<int64_t>(),
          scalars.clip_coef.defined() ? scalars.clip_coef.data_ptr<float>()
                                      : nullptr,
          detail::CurrentStream(first)),
      "AdamWStep");
}

std::vector<AdamWBuffers> AdamWStateOf(torch::optim::AdamW& optimizer,
                                       kernels::AdamWHyper* hyper) {
  std::vector<AdamWBuffers> buffers;
  bool first = true;
  for (auto& group : optimizer.param_groups()) {
    const auto& options =
        static_cast<const torch::optim::AdamWOptions&>(group.options());
    TORCH_CHECK(!options.amsgrad(), "AdamWStateOf: amsgrad is not supported");
    const kernels::AdamWHyper group_hyper{std::get<0>(options.betas()),
                                          std::get<1>(options.betas()),
                                          options.eps()};
    if (first) *hyper = group_hyper;
    TORCH_CHECK(group_hyper.beta1 == hyper->beta1 &&
                    group_hyper.beta2 == hyper->beta2 &&
                    group_hyper.eps == hyper->eps,
                "AdamWStateOf: all groups must share betas and eps");
    first = false;
    for (at::Tensor& p : group.params()) {
      auto& slot = optimizer.state()[p.unsafeGetTensorImpl()];
      if (slot == nullptr) {
        auto state = std::make_unique<torch::optim::AdamWParamState>();
        state->step(0);
        state->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
        state->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
        slot = std::move(state);
      }
      auto& state = static_cast<torch::optim::AdamWParamState&>(*slot);
      buffers.push_back({p.detach(), p.grad(), state.exp_avg(),
                         state.exp_avg_sq(), options.weight_decay(),
                         /*param_bf16=*/at::Tensor()});
    }
  }
  return buffers;
}

void SyncAdamWStep(torch::optim::AdamW& optimizer, const at::Tensor& step) {
  const int64_t value = step.item<int64_t>();
  for (auto& entry : optimizer.state()) {
    static_cast<torch::optim::AdamWParamState&>(*entry.second).step(value);
  }
}

}  // namespace tinylm::ops
