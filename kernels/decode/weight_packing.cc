#include "kernels/decode/weight_packing.h"

#include <vector>

#include <ATen/ATen.h>

namespace tinylm::decode {

at::Tensor RopePairOrder(int64_t heads, int64_t head_size, c10::Device device) {
  const int64_t half = head_size / 2;
  std::vector<int64_t> order;
  order.reserve(heads * head_size);
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      order.push_back(h * head_size + i);
      order.push_back(h * head_size + i + half);
    }
  }
  return at::tensor(order, at::kLong).to(device);
}

at::Tensor PackAttentionInput(const at::Tensor& q, const at::Tensor& k,
                              const at::Tensor& v, const at::Tensor& score,
                              int64_t heads, int64_t groups,
                              int64_t head_size) {
  std::vector<at::Tensor> parts = {
      q.index_select(0, RopePairOrder(heads, head_size, q.device())),
      k.index_select(0, RopePairOrder(groups, head_size, k.device())), v};
  if (score.defined()) parts.push_back(score);
  return at::cat(parts, 0).contiguous();
}

at::Tensor InterleaveRows(const at::Tensor& a, const at::Tensor& b) {
  std::vector<int64_t> shape = a.sizes().vec();
  shape[0] *= 2;
  return at::stack({a, b}, 1).reshape(shape).contiguous();
}

}  // namespace tinylm::decode
