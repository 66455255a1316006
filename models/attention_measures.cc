#include "models/attention_measures.h"

#include <ATen/ATen.h>

namespace tinylm {

at::Tensor AttentionRowMeasures(const at::Tensor& p) {
  const int64_t T = p.size(-1);
  const at::Tensor index = at::arange(T, p.options().dtype(at::kFloat));
  // distance[i, j] = i - j where key j is visible; p is 0 elsewhere.
  const at::Tensor distance =
      (index.view({T, 1}) - index.view({1, T})).clamp_min(0);
  return at::stack({(-at::xlogy(p, p)).sum(-1), p.select(-1, 0),
                    (p * distance).sum(-1), p.diagonal(0, -2, -1)});
}

at::Tensor AttentionMassOn(const at::Tensor& p, const at::Tensor& keys) {
  return (p * keys.to(p.options())).sum(-1);
}

}  // namespace tinylm
