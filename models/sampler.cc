#include "models/sampler.h"

#include <algorithm>
#include <unordered_set>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>

#include "util/splitmix64.h"

namespace tinylm {
namespace {

// logits: [B, V]. Rows whose penalty is not 1 get their history's tokens
// penalized (CTRL rule). Only the (row, token) pairs travel to the device.
at::Tensor ApplyRepetitionPenalty(const at::Tensor& logits,
                                  const std::vector<SampleRow>& rows) {
  const int64_t B = logits.size(0), V = logits.size(1);
  std::vector<int64_t> row_index, token_index;
  std::vector<float> penalty(B, 1.0f);
  for (int64_t b = 0; b < B; ++b) {
    const SampleRow& row = rows[b];
    if (row.params.repetition_penalty == 1.0 || row.history == nullptr) {
      continue;
    }
    penalty[b] = static_cast<float>(row.params.repetition_penalty);
    std::unordered_set<int64_t> seen;
    for (int64_t id : *row.history) {
      TORCH_CHECK(id >= 0 && id < V, "history token ", id, " outside vocab");
      if (seen.insert(id).second) {
        row_index.push_back(b);
        token_index.push_back(id);
      }
    }
  }
  if (row_index.empty()) return logits;
  const auto device = logits.device();
  const at::Tensor r = at::tensor(row_index, at::kLong).to(device);
  const at::Tensor t = at::tensor(token_index, at::kLong).to(device);
  const at::Tensor pen = at::tensor(penalty, at::kFloat).to(device)
                             .view({B, 1});  // [B, 1]
  at::Tensor hit = at::zeros({B, V}, logits.options().dtype(at::kBool));
  hit.index_put_({r, t}, true);
  const at::Tensor penalized =
      at::where(logits > 0, logits / pen, logits * pen);
  return at::where(hit, penalized, logits);
}

// Per-row filter parameters as one [B, 5] float64 upload:
// inverse temperature, top_k (as a rank bound), top_p, min_p, uniform.
at::Tensor RowParameters(const std::vector<SampleRow>& rows, int64_t V,
                         c10::Device device) {
  std::vector<double> values;
  values.reserve(rows.size() * 5);
  for (const SampleRow& row : rows) {
    const SamplingParams& p = row.params;
    const bool greedy = IsGreedy(p);
    values.push_back(greedy ? 1.0 : 1.0 / p.temperature);
    values.push_back(greedy ? 1.0 : double(p.top_k > 0 ? p.top_k : V));
    values.push_back(p.top_p);
    values.push_back(p.min_p);
    values.push_back(CounterUniform(p.seed, row.position));
  }
  return at::tensor(values, at::kDouble)
      .view({int64_t(rows.size()), 5})
      .to(device);
}

// x: [B, V] penalized logits -> [B] chosen ids, all on x's device.
at::Tensor ChooseIds(const at::Tensor& x, const std::vector<SampleRow>& rows) {
  const bool all_greedy = std::all_of(
      rows.begin(), rows.end(),
      [](const SampleRow& r) { return IsGreedy(r.params); });
  if (all_greedy) return x.argmax(1);

  const int64_t V = x.size(1);
  const at::Tensor params = RowParameters(rows, V, x.device()).to(at::kFloat);
  auto column = [&](int64_t i) { return params.select(1, i).unsqueeze(1); };
  const at::Tensor inv_temp = column(0), top_k = column(1);  // [B, 1]
  const at::Tensor top_p = column(2), min_p = column(3), u = column(4);

  // Sorted descending; stable so that ties keep argmax's first-index order.
  auto sorted = at::sort(x * inv_temp, /*stable=*/true, /*dim=*/-1,
                         /*descending=*/true);
  const at::Tensor probs = at::softmax(std::get<0>(sorted), -1);  // [B, V]
  const at::Tensor& order = std::get<1>(sorted);                  // [B, V]

  const at::Tensor rank =
      at::arange(V, x.options().dtype(at::kFloat)).unsqueeze(0);  // [1, V]
  at::Tensor keep = rank < top_k;
  at::Tensor topk_probs = probs * keep;
  topk_probs = topk_probs / topk_probs.sum(-1, /*keepdim=*/true);
  // Exclusive cumulative mass: a token is kept while the mass before it is
  // below top_p, so the token that crosses the threshold stays.
  keep = keep & ((topk_probs.cumsum(-1) - topk_probs) < top_p);
  keep = keep & (probs >= min_p * probs.narrow(1, 0, 1));

  const at::Tensor cdf = (probs * keep).cumsum(-1);               // [B, V]
  const at::Tensor threshold = u * cdf.narrow(1, V - 1, 1);       // [B, 1]
  const at::Tensor last = keep.sum(-1, /*keepdim=*/true) - 1;     // [B, 1]
  const at::Tensor pick =
      at::minimum((cdf <= threshold).sum(-1, /*keepdim=*/true), last);
  return order.gather(1, pick).squeeze(1);
}

}  // namespace

bool IsGreedy(const SamplingParams& p) {
  return p.temperature == 0.0 || p.top_k == 1;
}

double CounterUniform(uint64_t seed, int64_t position) {
  const uint64_t h =
      SplitMix64(seed ^ SplitMix64(static_cast<uint64_t>(position)));
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);  // 2^53
}

std::vector<SampledToken> SampleTokens(const at::Tensor& logits,
                                       const std::vector<SampleRow>& rows,
                                       int64_t top_n) {
  TORCH_CHECK(logits.dim() == 2, "SampleTokens: logits must be [B, V]");
  TORCH_CHECK(logits.size(0) == int64_t(rows.size()),
              "SampleTokens: one row per logits row");
  // c10's guard: LibTorch 2.x has no at::NoGradGuard.
  c10::NoGradGuard no_grad;
  const int64_t B = logits.size(0), V = logits.size(1);
  top_n = std::min(top_n, V);
  const at::Tensor raw = logits.to(at::kFloat);
  const at::Tensor logprobs = at::log_softmax(raw, -1);  // [B, V]
  const at::Tensor ids = ChooseIds(ApplyRepetitionPenalty(raw, rows), rows);

  // Pack [B, 2 + 2n] as float64 (ids are exact) for one host transfer.
  std::vector<at::Tensor> columns = {
      ids.unsqueeze(1).to(at::kDouble),
      logprobs.gather(1, ids.unsqueeze(1)).to(at::kDouble)};
  if (top_n > 0) {
    auto top = at::topk(logprobs, top_n, -1);
    columns.push_back(std::get<1>(top).to(at::kDouble));
    columns.push_back(std::get<0>(top).to(at::kDouble));
  }
  const at::Tensor host = at::cat(columns, 1).to(at::kCPU).contiguous();
  const double* data = host.data_ptr<double>();
  const int64_t width = host.size(1);

  std::vector<SampledToken> out(B);
  for (int64_t b = 0; b < B; ++b) {
    const double* row = data + b * width;
    out[b].id = static_cast<int64_t>(row[0]);
    out[b].logprob = static_cast<float>(row[1]);
    for (int64_t i = 0; i < top_n; ++i) {
      out[b].alternatives.push_back(
          {static_cast<int64_t>(row[2 + i]),
           static_cast<float>(row[2 + top_n + i])});
    }
  }
  return out;
}

}  // namespace tinylm
