#include "train/gradient_sync.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <utility>

namespace tinylm {
namespace {

// The slice of `flat_grads` that `parameter`'s gradient views.
GradSlice SliceOf(const at::Tensor& parameter,
                  const std::vector<at::Tensor>& flat_grads) {
  const at::Tensor& grad = parameter.grad();
  for (size_t b = 0; b < flat_grads.size(); ++b) {
    if (grad.is_alias_of(flat_grads[b])) {
      return {int(b), grad.storage_offset() - flat_grads[b].storage_offset(),
              grad.numel()};
    }
  }
  TORCH_CHECK(false, "a parameter's gradient is not a view of a flat buffer");
}

}  // namespace

GradientSync::GradientSync(const std::vector<at::Tensor>& parameters,
                           const std::vector<at::Tensor>& flat_grads,
                           ProcessGroup& group, int64_t bucket_bytes)
    : group_(group), flat_grads_(flat_grads) {
  std::vector<GradSlice> slices;
  for (const at::Tensor& p : parameters)
    slices.push_back(SliceOf(p, flat_grads));
  plan_ = PlanGradBuckets(slices, bucket_bytes / int64_t(sizeof(float)));
  bucket_of_.resize(parameters.size());
  for (size_t b = 0; b < plan_.size(); ++b) {
    const GradBucket& bucket = plan_[b];
    bucket_views_.push_back(flat_grads_[bucket.buffer].narrow(
        0, bucket.begin, bucket.end - bucket.begin));
    for (int member : bucket.members) bucket_of_[member] = int(b);
  }
  reached_.assign(parameters.size(), 0);
  missing_.assign(plan_.size(), 0);
  for (size_t i = 0; i < parameters.size(); ++i) {
    accumulators_.push_back(
        torch::autograd::impl::grad_accumulator(parameters[i]));
    hook_keys_.push_back(accumulators_.back()->add_post_hook(
        std::make_unique<torch::autograd::utils::LambdaPostHook>(
            [this, i](const torch::autograd::variable_list& outputs,
                      const torch::autograd::variable_list&) {
              OnGradient(int(i));
              return outputs;
            })));
  }
}

GradientSync::~GradientSync() {
  for (size_t i = 0; i < accumulators_.size(); ++i) {
    accumulators_[i]->del_post_hook(hook_keys_[i]);
  }
}

void GradientSync::BeginStep(int64_t backward_passes) {
  std::lock_guard<std::mutex> lock(mu_);
  backward_passes_ = backward_passes;
  std::fill(reached_.begin(), reached_.end(), 0);
  for (size_t b = 0; b < plan_.size(); ++b) {
    missing_[b] = int64_t(plan_[b].members.size());
  }
  next_bucket_ = 0;
}

void GradientSync::OnGradient(int parameter) {
  std::lock_guard<std::mutex> lock(mu_);
  // AccumulateGrad runs once per backward pass for a leaf, so the count
  // reaches backward_passes_ in the step's last pass and only then.
  if (++reached_[parameter] != backward_passes_) return;
  if (--missing_[bucket_of_[parameter]] == 0) StartReadyBuckets();
}

void GradientSync::StartReadyBuckets() {
  while (next_bucket_ < plan_.size() && missing_[next_bucket_] == 0) {
    group_.StartSum(bucket_views_[next_bucket_++]);
  }
}

absl::Status GradientSync::FinishStep() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (next_bucket_ < plan_.size()) {
      group_.StartSum(bucket_views_[next_bucket_++]);
    }
  }
  const absl::Status status = group_.WaitAll();
  if (!status.ok()) return status;
  if (group_.size() == 1) return absl::OkStatus();
  for (at::Tensor& grad : flat_grads_) grad.mul_(1.0 / group_.size());
  return absl::OkStatus();
}

}  // namespace tinylm
