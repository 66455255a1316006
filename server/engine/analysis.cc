#include "server/engine/analysis.h"

#include <cmath>

#include <ATen/ATen.h>

namespace tinylm {
namespace {

// logits: [T, V] float32 -> the k most probable tokens after row `row`.
std::vector<TokenProbability> NextTokenTopK(const at::Tensor& logits,
                                            int64_t row, int64_t k) {
  const at::Tensor logprobs = at::log_softmax(logits.select(0, row), -1);
  const auto top = at::topk(logprobs, k);
  const at::Tensor host = at::stack({std::get<1>(top).to(at::kDouble),
                                     std::get<0>(top).to(at::kDouble)})
                              .cpu()
                              .contiguous();  // [2, k]: ids, logprobs
  const double* data = host.data_ptr<double>();
  std::vector<TokenProbability> out(k);
  for (int64_t i = 0; i < k; ++i) {
    out[i].id = static_cast<int64_t>(data[i]);
    out[i].logprob = static_cast<float>(data[k + i]);
    out[i].probability = static_cast<float>(std::exp(data[k + i]));
  }
  return out;
}

// attention: n_layer tensors [1, H, T, T]. The selected maps travel to the
// host in one copy; bytes are the host's (little-endian) layout.
std::vector<AttentionMatrix> SelectMaps(
    const std::vector<at::Tensor>& attention, const AnalysisOptions& options) {
  std::vector<at::Tensor> selected;
  std::vector<AttentionMatrix> out;
  for (int64_t layer : options.layers) {
    for (int64_t head : options.heads) {
      selected.push_back(attention[layer].select(0, 0).select(0, head));
      AttentionMatrix m;
      m.layer = layer;
      m.head = head;
      m.size = selected.back().size(0);
      out.push_back(std::move(m));
    }
  }
  const at::Tensor host = at::stack(selected)
                              .to(options.half ? at::kHalf : at::kFloat)
                              .cpu()
                              .contiguous();  // [n, T, T]
  const int64_t each = host.nbytes() / int64_t(out.size());
  const char* data = static_cast<const char*>(host.data_ptr());
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].bytes.assign(data + i * each, each);
  }
  return out;
}

// Mean over heads and query rows of -sum_j p log p, one value per layer.
std::vector<float> LayerEntropy(const std::vector<at::Tensor>& attention) {
  std::vector<at::Tensor> per_layer;
  for (const at::Tensor& p : attention) {  // [1, H, T, T]
    per_layer.push_back((-at::xlogy(p, p)).sum(-1).mean());
  }
  const at::Tensor host = at::stack(per_layer).cpu().contiguous();
  const float* data = host.data_ptr<float>();
  return std::vector<float>(data, data + host.numel());
}

}  // namespace

AnalysisResult Analyze(Transformer& model, const std::vector<int64_t>& tokens,
                       int64_t prompt_tokens, const AnalysisOptions& options) {
  at::NoGradGuard no_grad;
  const c10::Device device = model->parameters().front().device();
  ForwardInput input;
  input.tokens = at::tensor(tokens, at::kLong).view({1, -1}).to(device);
  input.return_attention = options.attention || options.entropy;
  const ForwardOutput output = model->Forward(input);

  AnalysisResult result;
  if (options.top_k > 0) {
    result.top_k = NextTokenTopK(output.logits.select(0, 0).to(at::kFloat),
                                 prompt_tokens - 1, options.top_k);
  }
  if (options.attention) result.maps = SelectMaps(output.attention, options);
  if (options.entropy) result.entropy = LayerEntropy(output.attention);
  return result;
}

}  // namespace tinylm
