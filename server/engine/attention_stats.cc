#include "server/engine/attention_stats.h"

#include <algorithm>

#include <ATen/ATen.h>

namespace tinylm {
namespace {

constexpr int64_t kMeans = 4;  // entropy, first token, distance, diagonal

// [H, T, T] -> [kMeans, H]
at::Tensor Means(const at::Tensor& p) {
  const int64_t T = p.size(-1);
  const at::Tensor index = at::arange(T, p.options().dtype(at::kFloat));
  // distance[i, j] = i - j where key j is visible, else masked to 0 by p.
  const at::Tensor distance =
      (index.view({T, 1}) - index.view({1, T})).clamp_min(0);
  return at::stack({(-at::xlogy(p, p)).sum(-1).mean(-1),
                    p.select(-1, 0).mean(-1), (p * distance).sum(-1).mean(-1),
                    p.diagonal(0, -2, -1).mean(-1)});
}

}  // namespace

std::vector<HeadStats> AttentionStats(const std::vector<at::Tensor>& attention,
                                      int64_t top_keys) {
  const int64_t layers = attention.size();
  const int64_t H = attention.front().size(1), T = attention.front().size(2);
  const int64_t k = std::min(top_keys, T);
  std::vector<at::Tensor> means, ids, weights;
  for (const at::Tensor& map : attention) {
    const at::Tensor p = map.select(0, 0).to(at::kFloat);  // [H, T, T]
    means.push_back(Means(p));
    if (k > 0) {
      const auto top = at::topk(p, k);  // [H, T, k] each
      weights.push_back(std::get<0>(top));
      ids.push_back(std::get<1>(top).to(at::kFloat));
    }
  }
  std::vector<at::Tensor> parts = {at::stack(means).reshape({-1})};
  if (k > 0) {
    parts.push_back(at::stack(ids).reshape({-1}));
    parts.push_back(at::stack(weights).reshape({-1}));
  }
  const at::Tensor host = at::cat(parts).to(at::kDouble).cpu().contiguous();
  const double* m = host.data_ptr<double>();    // [layers, kMeans, H]
  const double* key = m + layers * kMeans * H;  // [layers, H, T, k]
  const double* weight = key + layers * H * T * k;

  std::vector<HeadStats> out;
  for (int64_t l = 0; l < layers; ++l) {
    for (int64_t h = 0; h < H; ++h) {
      HeadStats s;
      s.layer = l;
      s.head = h;
      const double* at = m + l * kMeans * H + h;
      s.entropy = static_cast<float>(at[0]);
      s.first_token_mass = static_cast<float>(at[H]);
      s.mean_distance = static_cast<float>(at[2 * H]);
      s.diagonal_mass = static_cast<float>(at[3 * H]);
      for (int64_t i = 0; k > 0 && i < T; ++i) {
        // Query i sees keys 0..i only: the rest of its top k are masked.
        HeadStats::TopKeys row;
        const int64_t row_at = ((l * H + h) * T + i) * k;
        for (int64_t j = 0; j < std::min(k, i + 1); ++j) {
          row.keys.push_back(static_cast<int64_t>(key[row_at + j]));
          row.weights.push_back(static_cast<float>(weight[row_at + j]));
        }
        s.top_keys.push_back(std::move(row));
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace tinylm
