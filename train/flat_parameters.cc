#include "train/flat_parameters.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

namespace tinylm {
namespace {

bool Decays(const at::Tensor& p) {
  return p.dim() >= 2;  // matrices and embeddings; not norms or biases
}

// Moves `params` into one flat buffer; each parameter becomes a view of it.
at::Tensor Pack(const std::vector<at::Tensor>& params,
                const at::TensorOptions& options) {
  int64_t total = 0;
  for (const at::Tensor& p : params) total += p.numel();
  at::Tensor flat = at::empty({total}, options.dtype(at::kFloat));
  at::Tensor grad = at::zeros_like(flat);
  int64_t offset = 0;
  torch::NoGradGuard no_grad;
  for (at::Tensor p : params) {
    const int64_t n = p.numel();
    flat.narrow(0, offset, n).copy_(p.detach().reshape({-1}));
    p.set_data(flat.narrow(0, offset, n).view(p.sizes()));
    p.mutable_grad() = grad.narrow(0, offset, n).view(p.sizes());
    offset += n;
  }
  flat.requires_grad_(true);
  flat.mutable_grad() = grad;
  return flat;
}

}  // namespace

FlatParameters::FlatParameters(torch::nn::Module& module) {
  std::vector<at::Tensor> with_decay, without_decay;
  at::TensorOptions options;
  for (const auto& item : module.named_parameters()) {
    options = item.value().options();
    (Decays(item.value()) ? with_decay : without_decay)
        .push_back(item.value());
  }
  decayed_ = Pack(with_decay, options);
  undecayed_ = Pack(without_decay, options);
}

void FlatParameters::ZeroGrad() {
  decayed_.mutable_grad().zero_();
  undecayed_.mutable_grad().zero_();
}

at::Tensor FlatParameters::ClipGradNorm(double max_norm) {
  torch::NoGradGuard no_grad;
  const at::Tensor norm =
      at::sqrt(decayed_.grad().pow(2).sum() + undecayed_.grad().pow(2).sum());
  const at::Tensor scale = at::clamp_max(max_norm / (norm + 1e-6), 1.0);
  decayed_.mutable_grad().mul_(scale);
  undecayed_.mutable_grad().mul_(scale);
  return norm;
}

}  // namespace tinylm
