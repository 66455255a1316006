#include "server/engine/logit_lens.h"

#include <cmath>

#include <ATen/ATen.h>

#include "models/intervention.h"
#include "server/engine/top_tokens.h"

namespace tinylm {

std::vector<LensPosition> LogitLens(Transformer& model,
                                    const at::Tensor& tokens,
                                    const LensOptions& options) {
  const int64_t layers = model->config().n_layer + 1;  // with the embeddings
  RecordingHooks recorder;
  for (int64_t l = -1; l < layers - 1; ++l) {
    recorder.Record(HookPoint::kResidual, l);
  }
  ForwardInput input(tokens);
  input.hooks = &recorder;
  model->Forward(input);

  const at::Tensor positions =
      at::tensor(options.positions, at::kLong).to(tokens.device());
  std::vector<at::Tensor> streams;  // layers x [P, C]
  for (int64_t l = -1; l < layers - 1; ++l) {
    streams.push_back(recorder.Recorded(HookPoint::kResidual, l)
                          .select(0, 0)
                          .index_select(0, positions));
  }
  // [layers, P, V]: every stream through the final norm and the head.
  const at::Tensor logprobs =
      at::log_softmax(model->Unembed(at::stack(streams)).to(at::kFloat), -1);
  const at::Tensor final = logprobs.select(0, layers - 1);  // [P, V]
  const at::Tensor p_final = final.exp();
  // KL(final || layer) [layers, P]; tokens final gives no mass add 0.
  const at::Tensor kl = at::where(p_final > 0, p_final * (final - logprobs),
                                  at::zeros_like(logprobs))
                            .sum(-1);
  const int64_t P = options.positions.size(), k = options.k;
  const at::Tensor final_top = final.argmax(-1);  // [P]
  const at::Tensor final_top_logprob =
      logprobs.gather(-1, final_top.view({1, P, 1}).expand({layers, P, 1}))
          .squeeze(-1);                    // [layers, P]
  const auto top = at::topk(logprobs, k);  // [layers, P, k] each
  const at::Tensor host =
      at::cat({std::get<1>(top).reshape({-1}).to(at::kDouble),
               std::get<0>(top).reshape({-1}).to(at::kDouble),
               kl.reshape({-1}).to(at::kDouble),
               final_top_logprob.reshape({-1}).to(at::kDouble)})
          .cpu()
          .contiguous();
  const double* ids = host.data_ptr<double>();
  const double* values = ids + layers * P * k;
  const double* kls = values + layers * P * k;
  const double* finals = kls + layers * P;

  std::vector<LensPosition> out(P);
  for (int64_t p = 0; p < P; ++p) {
    out[p].position = options.positions[p];
    for (int64_t l = 0; l < layers; ++l) {
      LensLayer layer;
      layer.layer = l - 1;
      const int64_t at = (l * P + p) * k;
      layer.tokens = TopTokens(ids + at, values + at, k);
      layer.kl_from_final = static_cast<float>(kls[l * P + p]);
      layer.final_top_probability =
          static_cast<float>(std::exp(finals[l * P + p]));
      out[p].layers.push_back(std::move(layer));
    }
  }
  return out;
}

}  // namespace tinylm
