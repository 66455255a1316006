#include "server/engine/analysis.h"

#include <algorithm>
#include <memory>

#include <ATen/ATen.h>

#include "server/engine/attention_stats.h"
#include "server/engine/interventions.h"
#include "server/engine/logit_lens.h"
#include "server/engine/token_scores.h"
#include "server/engine/top_tokens.h"

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
  return TopTokens(data, data + k, k);
}

// attention: n_layer tensors [1, H, T, T]. The selected rows of the
// selected maps travel to the host in one copy; bytes are the host's
// (little-endian) layout.
std::vector<AttentionMatrix> SelectMaps(
    const std::vector<at::Tensor>& attention, const AnalysisOptions& options) {
  const int64_t T = attention.front().size(-1);
  const int64_t begin = std::min(options.row_begin, T);
  const int64_t end = options.row_end == 0 ? T : std::min(options.row_end, T);
  std::vector<at::Tensor> selected;
  std::vector<AttentionMatrix> out;
  for (int64_t layer : options.layers) {
    for (int64_t head : options.heads) {
      selected.push_back(attention[layer].select(0, 0).select(0, head).narrow(
          0, begin, std::max<int64_t>(end - begin, 0)));
      AttentionMatrix m;
      m.layer = layer;
      m.head = head;
      m.size = T;
      m.row_begin = begin;
      m.rows = selected.back().size(0);
      out.push_back(std::move(m));
    }
  }
  const at::Tensor host = at::stack(selected)
                              .to(options.half ? at::kHalf : at::kFloat)
                              .cpu()
                              .contiguous();  // [n, rows, T]
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
                       int64_t prompt_tokens, const AnalysisOptions& options,
                       const std::vector<InterventionSpec>& interventions) {
  at::NoGradGuard no_grad;
  const c10::Device device = model->parameters().front().device();
  const std::unique_ptr<InterventionHooks> hooks =
      interventions.empty() ? nullptr
                            : PrepareInterventions(model, interventions);
  ForwardInput input;
  input.tokens = at::tensor(tokens, at::kLong).view({1, -1}).to(device);
  input.return_attention =
      options.attention || options.entropy || options.stats.has_value();
  input.hooks = hooks.get();
  const ForwardOutput output = model->Forward(input);
  const at::Tensor logits = output.logits.select(0, 0).to(at::kFloat);
  // The same sequence without the interventions, for their effect.
  at::Tensor clean;  // [T, V]
  if (hooks != nullptr) {
    clean = model->Forward(ForwardInput(input.tokens))
                .logits.select(0, 0)
                .to(at::kFloat);
  }

  AnalysisResult result;
  if (options.top_k > 0) {
    result.top_k = NextTokenTopK(logits, prompt_tokens - 1, options.top_k);
    if (clean.defined()) {
      result.clean_top_k =
          NextTokenTopK(clean, prompt_tokens - 1, options.top_k);
      result.effect = EffectOf(clean.narrow(0, prompt_tokens - 1, 1),
                               logits.narrow(0, prompt_tokens - 1, 1));
    }
  }
  if (options.attention) result.maps = SelectMaps(output.attention, options);
  if (options.entropy) result.entropy = LayerEntropy(output.attention);
  if (options.stats) {
    result.stats = AttentionStats(output.attention, options.stats->top_keys);
  }
  if (options.lens) {
    result.lens = LogitLens(model, input.tokens, *options.lens);
  }
  if (options.score) {
    InterventionEffect effect;
    result.scores =
        ScoreTokens(logits, input.tokens.select(0, 0), clean, &effect);
    if (clean.defined()) result.effect = effect;
  }
  return result;
}

}  // namespace tinylm
