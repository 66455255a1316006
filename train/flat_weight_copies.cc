#include "train/flat_weight_copies.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

namespace tinylm {

FlatWeightCopies::FlatWeightCopies(torch::nn::Module& module,
                                   const FlatParameters& flat) {
  torch::NoGradGuard no_grad;
  decayed_ = flat.decayed().front().detach();
  undecayed_ = flat.undecayed().front().detach();
  decayed_copy_ = decayed_.to(at::kBFloat16);
  undecayed_copy_ = undecayed_.to(at::kBFloat16);
  for (const at::Tensor& p : module.parameters()) {
    const at::Tensor& copy = FlatCopyOf(p);
    const at::Tensor& from = &copy == &decayed_copy_ ? decayed_ : undecayed_;
    views_[p.unsafeGetTensorImpl()] =
        copy.narrow(0, p.storage_offset() - from.storage_offset(), p.numel())
            .view(p.sizes());
  }
}

const at::Tensor& FlatWeightCopies::FlatCopyOf(const at::Tensor& buffer) const {
  if (buffer.is_alias_of(decayed_)) return decayed_copy_;
  TORCH_CHECK(buffer.is_alias_of(undecayed_),
              "FlatWeightCopies: a tensor outside the flat buffers");
  return undecayed_copy_;
}

at::Tensor FlatWeightCopies::Of(const at::Tensor& parameter) const {
  const auto it = views_.find(parameter.unsafeGetTensorImpl());
  TORCH_CHECK(it != views_.end(),
              "FlatWeightCopies: not a parameter of the copied module");
  return it->second;
}

}  // namespace tinylm
