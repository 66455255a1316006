#include "server/engine/attention_stats.h"

#include <algorithm>

#include <ATen/ATen.h>

#include "models/attention_measures.h"

namespace tinylm {

std::vector<HeadStats> AttentionStats(const std::vector<at::Tensor>& attention,
                                      int64_t top_keys) {
  const int64_t layers = attention.size();
  const int64_t H = attention.front().size(1), T = attention.front().size(2);
  const int64_t k = std::min(top_keys, T);
  std::vector<at::Tensor> means, ids, weights;
  for (const at::Tensor& map : attention) {
    const at::Tensor p = map.select(0, 0).to(at::kFloat);  // [H, T, T]
    means.push_back(AttentionRowMeasures(p).mean(-1));  // [measures, H]
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
  const double* m = host.data_ptr<double>();    // [layers, measures, H]
  const double* key = m + layers * kNumAttentionMeasures * H;  // [layers, H, T, k]
  const double* weight = key + layers * H * T * k;

  std::vector<HeadStats> out;
  for (int64_t l = 0; l < layers; ++l) {
    for (int64_t h = 0; h < H; ++h) {
      HeadStats s;
      s.layer = l;
      s.head = h;
      const double* at = m + l * kNumAttentionMeasures * H + h;
      s.entropy = static_cast<float>(at[kEntropy * H]);
      s.first_token_mass = static_cast<float>(at[kFirstToken * H]);
      s.mean_distance = static_cast<float>(at[kDistance * H]);
      s.diagonal_mass = static_cast<float>(at[kDiagonal * H]);
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
