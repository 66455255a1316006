#include "server/rpc/convert.h"

#include "server/rpc/convert_inspection.h"

namespace tinylm {

v1::FinishReason ToProto(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength: return v1::FINISH_REASON_LENGTH;
    case FinishReason::kStop: return v1::FINISH_REASON_STOP;
    case FinishReason::kEos: return v1::FINISH_REASON_EOS;
    case FinishReason::kCancelled: return v1::FINISH_REASON_CANCELLED;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

void FillToken(const TokenEvent& in, const Tokenizer& tokenizer,
               v1::GeneratedToken* out) {
  out->set_id(in.id);
  out->set_text(in.text);
  out->set_raw(in.raw);
  out->set_logprob(in.logprob);
  out->set_index(in.index);
  for (const TokenLogprob& alt : in.alternatives) {
    v1::TokenLogprob* a = out->add_alternatives();
    a->set_id(alt.id);
    a->set_piece(tokenizer.DisplayPiece(alt.id));
    a->set_logprob(alt.logprob);
  }
  if (in.effect) FillEffect(*in.effect, tokenizer, out->mutable_effect());
}

void FillSummary(const Summary& in, const Tokenizer& tokenizer,
                 v1::GenerateSummary* out) {
  out->set_finish_reason(ToProto(in.reason));
  out->set_prompt_tokens(in.prompt_tokens);
  out->set_generated_tokens(in.generated_tokens());
  out->set_seed(in.seed);
  out->set_stop(in.stop);
  v1::Timings* t = out->mutable_timings();
  t->set_queue_ms(in.queue_ms);
  t->set_time_to_first_token_ms(in.time_to_first_token_ms);
  t->set_total_ms(in.total_ms);
  if (in.effect) FillEffect(*in.effect, tokenizer, out->mutable_effect());
  if (in.analysis) FillStats(in.analysis->stats, out->mutable_attention_stats());
}

void FillTokenProbability(const TokenProbability& in,
                          const Tokenizer& tokenizer,
                          v1::TokenProbability* out) {
  out->set_id(in.id);
  out->set_piece(tokenizer.DisplayPiece(in.id));
  out->set_probability(in.probability);
  out->set_logprob(in.logprob);
}

void FillTopK(const std::vector<TokenProbability>& in,
              const Tokenizer& tokenizer,
              google::protobuf::RepeatedPtrField<v1::TokenProbability>* out) {
  for (const TokenProbability& p : in) {
    FillTokenProbability(p, tokenizer, out->Add());
  }
}

void FillAttention(const std::vector<int64_t>& prompt, const Summary& summary,
                   bool half, const Tokenizer& tokenizer,
                   v1::AttentionMapsResponse* out) {
  std::vector<int64_t> tokens = prompt;
  tokens.insert(tokens.end(), summary.generated.begin(),
                summary.generated.end());
  for (int64_t id : tokens) {
    out->add_token_ids(id);
    out->add_tokens(tokenizer.DisplayPiece(id));
  }
  out->set_prompt_tokens(prompt.size());
  if (!summary.analysis) return;
  for (const AttentionMatrix& m : summary.analysis->maps) {
    FillMapRows(m, half, m.row_begin, m.rows, out->add_maps());
  }
  FillStats(summary.analysis->stats, out->mutable_attention_stats());
}

void FillComparison(const ServedModel& model, const Summary& summary,
                    v1::ModelComparison* out) {
  out->set_model(model.name);
  out->set_continuation(summary.text);
  for (int64_t id : summary.generated) out->add_continuation_ids(id);
  out->set_finish_reason(ToProto(summary.reason));
  out->set_prompt_tokens(summary.prompt_tokens);
  if (!summary.analysis) return;
  FillTopK(summary.analysis->top_k, *model.tokenizer, out->mutable_top_k());
  for (float e : summary.analysis->entropy) out->add_attention_entropy(e);
  FillStats(summary.analysis->stats, out->mutable_attention_stats());
}

void FillModelInfo(const ServedModel& model, v1::ModelInfo* out) {
  const ModelConfig& c = model.config;
  out->set_name(model.name);
  out->set_variant(c.VariantName());
  v1::VariantFlags* flags = out->mutable_flags();
  flags->set_qkv_bias(c.qkv_bias);
  flags->set_qkv_activation(c.qkv_activation);
  flags->set_separate_qkv(c.separate_qkv);
  flags->set_score_fcn(c.score_fcn);
  out->set_parameters(c.ParameterCount());
  v1::ModelDims* dims = out->mutable_dims();
  dims->set_vocab_size(c.vocab_size);
  dims->set_n_embd(c.n_embd);
  dims->set_n_layer(c.n_layer);
  dims->set_n_head(c.n_head);
  dims->set_n_query_groups(c.n_query_groups);
  dims->set_intermediate_size(c.intermediate_size);
  out->set_context_length(c.block_size);
  out->set_device(model.device);
  out->set_dtype(model.dtype);
  out->set_checkpoint_sha256(model.weights_sha256);
  out->set_training_json(model.training_json);
  out->set_max_batch(model.engine->max_batch());
  out->set_format(model.format);
}

}  // namespace tinylm
