#include "train/continuation.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "absl/strings/str_cat.h"
#include "models/kv_cache.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

absl::StatusOr<std::vector<int64_t>> EncodePrompt(const Tokenizer& tokenizer,
                                                  const ModelConfig& config,
                                                  const std::string& prompt) {
  TINYLM_ASSIGN_OR_RETURN(std::vector<int64_t> ids, tokenizer.Encode(prompt));
  if (ids.empty() || int64_t(ids.size()) >= config.block_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prompt of ", ids.size(), " tokens; need 1 to ",
        config.block_size - 1));
  }
  return ids;
}

// Runs `ids` at positions [start, start + n) of cache slot 0; returns the
// last position's logits [1, V].
at::Tensor Step(Transformer& model, KvCache& cache,
                const std::vector<int64_t>& ids, int64_t start) {
  const auto device = model->parameters().front().device();
  const int64_t n = ids.size();
  ForwardInput in;
  in.tokens = at::tensor(ids, at::kLong).view({1, n}).to(device);
  in.positions =
      at::arange(start, start + n, at::kLong).view({1, n}).to(device);
  in.cache = &cache;
  in.slots = {0};
  in.kv_length = start + n;
  return model->Forward(in).logits.select(1, n - 1);
}

}  // namespace

absl::StatusOr<std::string> Continue(Transformer& model,
                                     const Tokenizer& tokenizer,
                                     const std::string& prompt,
                                     int64_t max_new_tokens,
                                     const SamplingParams& params) {
  const ModelConfig& config = model->config();
  TINYLM_ASSIGN_OR_RETURN(std::vector<int64_t> ids,
                          EncodePrompt(tokenizer, config, prompt));
  torch::NoGradGuard no_grad;
  const at::Tensor any = model->parameters().front();
  KvCache cache(config, 1, config.block_size, any.device(), any.scalar_type());
  at::Tensor logits = Step(model, cache, ids, 0);
  for (int64_t i = 0; i < max_new_tokens; ++i) {
    const int64_t position = ids.size();
    const SampledToken next =
        SampleTokens(logits, {SampleRow{params, position, &ids}})[0];
    if (next.id == tokenizer.eos_id()) break;
    ids.push_back(next.id);
    if (int64_t(ids.size()) >= config.block_size) break;
    logits = Step(model, cache, {next.id}, position);
  }
  return tokenizer.Decode(ids);
}

absl::StatusOr<std::vector<NextToken>> MostProbableNext(
    Transformer& model, const Tokenizer& tokenizer, const std::string& prompt,
    int64_t k) {
  TINYLM_ASSIGN_OR_RETURN(std::vector<int64_t> ids,
                          EncodePrompt(tokenizer, model->config(), prompt));
  torch::NoGradGuard no_grad;
  ForwardInput in;
  in.tokens = at::tensor(ids, at::kLong)
                  .view({1, int64_t(ids.size())})
                  .to(model->parameters().front().device());
  const at::Tensor probs =
      at::softmax(model->Forward(in).logits[0][-1].to(at::kFloat), -1).cpu();
  const auto top = probs.topk(k);
  std::vector<NextToken> out;
  for (int64_t i = 0; i < k; ++i) {
    out.push_back({tokenizer.DisplayPiece(std::get<1>(top)[i].item<int64_t>()),
                   std::get<0>(top)[i].item<double>()});
  }
  return out;
}

}  // namespace tinylm
