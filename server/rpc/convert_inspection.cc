#include "server/rpc/convert_inspection.h"

#include <cmath>

#include "server/rpc/convert.h"

namespace tinylm {

void FillEffect(const InterventionEffect& in, const Tokenizer& tokenizer,
                v1::InterventionEffect* out) {
  out->set_mean_kl(in.mean_kl);
  out->set_max_kl(in.max_kl);
  out->set_positions(in.positions);
  out->set_top_changed(in.top_changed);
  out->set_max_logit_change(in.max_logit_change);
  FillTokenProbability(in.clean_top, tokenizer, out->mutable_clean_top());
  FillTokenProbability(in.intervened_top, tokenizer,
                       out->mutable_intervened_top());
}

void FillStats(
    const std::vector<HeadStats>& in,
    google::protobuf::RepeatedPtrField<v1::HeadAttentionStats>* out) {
  for (const HeadStats& s : in) {
    v1::HeadAttentionStats* h = out->Add();
    h->set_layer(s.layer);
    h->set_head(s.head);
    h->set_entropy(s.entropy);
    h->set_first_token_mass(s.first_token_mass);
    h->set_mean_distance(s.mean_distance);
    h->set_diagonal_mass(s.diagonal_mass);
    for (size_t i = 0; i < s.top_keys.size(); ++i) {
      v1::QueryTopKeys* q = h->add_top_keys();
      q->set_query(i);
      for (int64_t key : s.top_keys[i].keys) q->add_keys(key);
      for (float w : s.top_keys[i].weights) q->add_weights(w);
    }
  }
}

void FillMapRows(const AttentionMatrix& in, bool half, int64_t row_begin,
                 int64_t rows, v1::AttentionMap* out) {
  const int64_t row_bytes = in.size * (half ? 2 : 4);
  out->set_layer(in.layer);
  out->set_head(in.head);
  out->add_shape(rows);
  out->add_shape(in.size);
  out->set_dtype(half ? v1::TENSOR_DTYPE_FLOAT16 : v1::TENSOR_DTYPE_FLOAT32);
  out->set_row_begin(row_begin);
  out->set_data(in.bytes.substr((row_begin - in.row_begin) * row_bytes,
                                rows * row_bytes));
}

void FillLens(const std::vector<int64_t>& prompt,
              const std::vector<LensPosition>& lens,
              const Tokenizer& tokenizer, v1::LogitLensResponse* out) {
  for (int64_t id : prompt) {
    out->add_token_ids(id);
    out->add_tokens(tokenizer.DisplayPiece(id));
  }
  for (const LensPosition& p : lens) {
    v1::LensPosition* position = out->add_positions();
    position->set_position(p.position);
    for (const LensLayer& l : p.layers) {
      v1::LensLayer* layer = position->add_layers();
      layer->set_layer(l.layer);
      FillTopK(l.tokens, tokenizer, layer->mutable_tokens());
      layer->set_kl_from_final(l.kl_from_final);
      layer->set_final_top_probability(l.final_top_probability);
    }
  }
}

void FillModelScore(const std::string& model, const Tokenizer& tokenizer,
                    const std::vector<int64_t>& tokens, const Summary& summary,
                    v1::ModelScore* out) {
  const AnalysisResult& analysis = *summary.analysis;
  const TokenScores& scores = *analysis.scores;
  out->set_model(model);
  for (size_t t = 0; t < tokens.size(); ++t) {
    v1::TokenScore* token = out->add_tokens();
    token->set_id(tokens[t]);
    token->set_piece(tokenizer.DisplayPiece(tokens[t]));
    if (t == 0) continue;  // no prediction for the first token
    token->set_logprob(scores.logprobs[t - 1]);
    if (!scores.clean_logprobs.empty()) {
      token->set_clean_logprob(scores.clean_logprobs[t - 1]);
      token->set_kl(scores.kl[t - 1]);
    }
  }
  out->set_mean_loss(scores.mean_loss);
  out->set_perplexity(std::exp(scores.mean_loss));
  if (analysis.effect) {
    out->set_clean_mean_loss(scores.clean_mean_loss);
    FillEffect(*analysis.effect, tokenizer, out->mutable_effect());
  }
}

void FillTokenComparisons(
    const std::vector<TokenComparison>& in,
    google::protobuf::RepeatedPtrField<v1::TokenComparison>* out) {
  for (const TokenComparison& c : in) {
    v1::TokenComparison* t = out->Add();
    t->set_position(c.position);
    for (float v : c.logprobs) t->add_logprobs(v);
    t->set_best(c.best);
    t->set_spread(c.spread);
  }
}

}  // namespace tinylm
