// The inspection calls through the in-process server, checked against the
// server's other answers: the logit lens's last block is TopK, the scores
// of a greedy continuation are the logprobs Generate streamed (KV cache
// steps against one forward without it), an intervention that changes
// nothing reports exactly that, streamed maps equal the unary ones. The
// values themselves are checked against the numpy reference in
// inspection_interop_test.py.
#include <cmath>
#include <string>
#include <vector>

#include <gmock/gmock.h>

#include "tests/server_test_util.h"

namespace tinylm {
namespace {

constexpr char kPrompt[] = "吾輩は猫である。";

TEST_F(ServerTest, LensLastBlockIsTheModelsOwnTopK) {
  for (const char* model : {"base", "score_fcn"}) {
    const v1::ModelInfo info = Info(model);
    grpc::ClientContext lens_context;
    SetDeadline(lens_context);
    v1::LogitLensRequest request;
    request.set_model(model);
    request.set_text(kPrompt);
    request.set_k(4);
    v1::LogitLensResponse lens;
    ASSERT_TRUE(stub().LogitLens(&lens_context, request, &lens).ok());
    ASSERT_EQ(lens.positions_size(), 1);
    const v1::LensPosition& p = lens.positions(0);
    EXPECT_EQ(p.position(), uint32_t(lens.token_ids_size() - 1));
    ASSERT_EQ(p.layers_size(), int(info.dims().n_layer()) + 1);
    EXPECT_EQ(p.layers(0).layer(), -1);

    grpc::ClientContext topk_context;
    SetDeadline(topk_context);
    v1::TopKRequest topk;
    topk.set_model(model);
    topk.set_text(kPrompt);
    topk.set_k(4);
    v1::TopKResponse top;
    ASSERT_TRUE(stub().TopK(&topk_context, topk, &top).ok());
    const v1::LensLayer& last = p.layers(p.layers_size() - 1);
    EXPECT_EQ(last.kl_from_final(), 0.0f);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(last.tokens(i).id(), top.tokens(i).id()) << model << i;
      EXPECT_NEAR(last.tokens(i).probability(), top.tokens(i).probability(),
                  1e-5);
    }
    EXPECT_NEAR(last.final_top_probability(), top.tokens(0).probability(),
                1e-5);
    for (const v1::LensLayer& l : p.layers()) {
      EXPECT_GE(l.kl_from_final(), -1e-6);
    }
  }
}

TEST_F(ServerTest, ScoresOfAContinuationAreTheLogprobsGenerateStreamed) {
  const GenerateResult run = Generate(Greedy("qkv_gelu", kPrompt, 6));
  ASSERT_TRUE(run.status.ok()) << run.status.error_message();
  v1::ScoreRequest request;
  request.add_models("qkv_gelu");
  const uint32_t prompt = run.summary.prompt_tokens();
  grpc::ClientContext tokenize_context;
  SetDeadline(tokenize_context);
  v1::TokenizeRequest tokenize;
  tokenize.set_model("qkv_gelu");
  tokenize.set_text(kPrompt);
  v1::TokenizeResponse ids;
  ASSERT_TRUE(stub().Tokenize(&tokenize_context, tokenize, &ids).ok());
  for (int32_t id : ids.ids()) request.mutable_token_ids()->add_ids(id);
  for (int32_t id : run.Ids()) request.mutable_token_ids()->add_ids(id);
  grpc::ClientContext context;
  SetDeadline(context);
  v1::ScoreResponse scores;
  ASSERT_TRUE(stub().Score(&context, request, &scores).ok());
  ASSERT_EQ(scores.results_size(), 1);
  const v1::ModelScore& r = scores.results(0);
  EXPECT_FALSE(scores.comparable());  // one model: nothing to compare
  ASSERT_EQ(r.tokens_size(), int(prompt + run.tokens.size()));
  double sum = 0;
  for (size_t i = 0; i < run.tokens.size(); ++i) {
    const v1::TokenScore& t = r.tokens(prompt + i);
    EXPECT_EQ(t.id(), run.tokens[i].id());
    EXPECT_NEAR(t.logprob(), run.tokens[i].logprob(), LogprobTolerance()) << i;
  }
  for (int i = 1; i < r.tokens_size(); ++i) sum += r.tokens(i).logprob();
  EXPECT_NEAR(r.mean_loss(), -sum / (r.tokens_size() - 1), 1e-5);
  EXPECT_NEAR(r.perplexity(), std::exp(r.mean_loss()), 1e-3);
}

TEST_F(ServerTest, AnInterventionThatChangesNothingSaysSo) {
  // Patching the residual from the prompt itself leaves every activation.
  v1::GenerateRequest request = Greedy("separate_qkv", kPrompt, 5);
  v1::Patch* patch = request.add_interventions()->mutable_patch();
  patch->set_site(v1::INTERVENTION_SITE_RESIDUAL);
  patch->set_layer(0);
  patch->set_source_text(kPrompt);
  const GenerateResult patched = Generate(request);
  ASSERT_TRUE(patched.status.ok()) << patched.status.error_message();
  const GenerateResult plain = Generate(Greedy("separate_qkv", kPrompt, 5));
  EXPECT_EQ(patched.Ids(), plain.Ids());
  for (const v1::GeneratedToken& t : patched.tokens) {
    ASSERT_TRUE(t.has_effect());
    EXPECT_EQ(t.effect().positions(), 1u);
    EXPECT_EQ(t.effect().max_logit_change(), 0.0f);
    EXPECT_EQ(t.effect().mean_kl(), 0.0f);
  }
  const v1::InterventionEffect& total = patched.summary.effect();
  EXPECT_EQ(total.positions(), patched.tokens.size());
  EXPECT_EQ(total.top_changed(), 0u);
  EXPECT_EQ(total.max_logit_change(), 0.0f);
  EXPECT_FALSE(plain.summary.has_effect());
}

TEST_F(ServerTest, AnAblationChangesTheOutputAndReportsIt) {
  v1::TopKRequest request;
  request.set_model("base");
  request.set_text(kPrompt);
  request.set_k(3);
  v1::Ablation* a = request.add_interventions()->mutable_ablate();
  a->set_site(v1::INTERVENTION_SITE_MLP_OUTPUT);
  a->set_layer(0);
  grpc::ClientContext context;
  SetDeadline(context);
  v1::TopKResponse response;
  ASSERT_TRUE(stub().TopK(&context, request, &response).ok());
  ASSERT_TRUE(response.has_effect());
  EXPECT_GT(response.effect().max_logit_change(), 0.0f);
  EXPECT_GT(response.effect().mean_kl(), 0.0f);
  ASSERT_EQ(response.clean_tokens_size(), 3);
  EXPECT_EQ(response.effect().clean_top().id(), response.clean_tokens(0).id());
  EXPECT_EQ(response.effect().intervened_top().id(), response.tokens(0).id());
}

TEST_F(ServerTest, StreamedMapsAreTheUnaryMaps) {
  v1::AttentionMapsRequest request;
  request.set_model("score_fcn");
  request.set_text(kPrompt);
  request.set_continuation_tokens(3);
  request.set_row_begin(1);
  request.mutable_attention_stats()->set_top_keys(2);
  grpc::ClientContext unary_context;
  SetDeadline(unary_context);
  v1::AttentionMapsResponse unary;
  ASSERT_TRUE(stub().AttentionMaps(&unary_context, request, &unary).ok());
  grpc::ClientContext stream_context;
  SetDeadline(stream_context);
  auto reader = stub().StreamAttentionMaps(&stream_context, request);
  std::vector<v1::AttentionMapsChunk> chunks;
  v1::AttentionMapsChunk chunk;
  while (reader->Read(&chunk)) chunks.push_back(chunk);
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_FALSE(chunks.empty());
  const v1::AttentionMapsHeader& header = chunks[0].header();
  EXPECT_EQ(header.token_ids_size(), unary.token_ids_size());
  EXPECT_EQ(header.attention_stats_size(), unary.attention_stats_size());
  ASSERT_EQ(header.messages(), uint32_t(unary.maps_size()));
  ASSERT_EQ(chunks.size(), header.messages() + 1);
  const int T = unary.token_ids_size();
  for (int i = 0; i < unary.maps_size(); ++i) {
    const v1::AttentionMap& m = chunks[i + 1].map();
    EXPECT_EQ(m.row_begin(), 1u);
    EXPECT_THAT(m.shape(), ::testing::ElementsAre(T - 1, T));
    EXPECT_EQ(m.data(), unary.maps(i).data()) << i;
  }
  for (const v1::HeadAttentionStats& s : unary.attention_stats()) {
    ASSERT_EQ(s.top_keys_size(), T);  // statistics cover every row
    EXPECT_THAT(s.top_keys(0).keys(), ::testing::ElementsAre(0u));
  }
}

}  // namespace
}  // namespace tinylm
