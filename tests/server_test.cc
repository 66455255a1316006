// The server end to end over a loopback port: every RPC, seeds, stop
// strings, cancellation, deadlines, concurrency.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <gmock/gmock.h>

#include "nlohmann/json.hpp"
#include "server/engine/text_assembler.h"
#include "tests/server_test_util.h"

namespace tinylm {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::SizeIs;

constexpr char kPrompt[] = "吾輩は猫である。名前はまだ無い。";
const std::vector<std::string> kModels = {"base", "qkv_gelu", "score_fcn",
                                          "separate_qkv"};

v1::TopKResponse TopK(v1::TinyLM::Stub& stub, const std::string& model,
                      const std::string& text, uint32_t k) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::TopKRequest request;
  request.set_model(model);
  request.set_text(text);
  request.set_k(k);
  v1::TopKResponse response;
  const grpc::Status status = stub.TopK(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

std::vector<float> Floats(const std::string& bytes) {
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

TEST_F(ServerTest, ListModelsDescribesEveryModel) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::ListModelsResponse response;
  ASSERT_TRUE(stub().ListModels(&context, {}, &response).ok());
  ASSERT_THAT(response.models(), SizeIs(4));
  for (int i = 0; i < 4; ++i) {
    const v1::ModelInfo& info = response.models(i);
    EXPECT_EQ(info.name(), kModels[i]);
    EXPECT_EQ(info.variant(), kModels[i]);  // checkpoints named by variant
    EXPECT_EQ(info.flags().score_fcn(), info.variant() == "score_fcn");
    EXPECT_GT(info.parameters(), 0u);
    EXPECT_GT(info.dims().vocab_size(), 256u);
    EXPECT_GT(info.context_length(), 0u);
    const bool cuda = TestDevice().rfind("cuda", 0) == 0;
    EXPECT_EQ(info.device().substr(0, 4), cuda ? "cuda" : "cpu");
    const char* dtype = std::getenv("TINYLM_TEST_DTYPE");
    EXPECT_EQ(info.dtype(), dtype != nullptr && *dtype != '\0'
                                ? dtype
                                : (cuda ? "bfloat16" : "float32"));
    EXPECT_EQ(info.checkpoint_sha256().size(), 64u);
    EXPECT_EQ(info.max_batch(), uint32_t(kMaxBatch));
    EXPECT_TRUE(nlohmann::json::accept(info.training_json()))
        << info.training_json();
  }
  // score_fcn adds n_layer * (C + 1) * n_head * block_size parameters.
  const v1::ModelInfo& sep = response.models(3);
  const v1::ModelInfo& score = response.models(2);
  EXPECT_EQ(score.parameters() - sep.parameters(),
            uint64_t(sep.dims().n_layer()) * (sep.dims().n_embd() + 1) *
                sep.dims().n_head() * sep.context_length());
}

TEST_F(ServerTest, TokenizeAndDetokenizeRoundTrip) {
  const std::string text = std::string(kPrompt) + " Hello, world!";
  grpc::ClientContext context;
  SetDeadline(context);
  v1::TokenizeRequest request;
  request.set_model("base");
  request.set_text(text);
  v1::TokenizeResponse tokens;
  ASSERT_TRUE(stub().Tokenize(&context, request, &tokens).ok());
  ASSERT_GT(tokens.ids_size(), 0);
  EXPECT_EQ(tokens.ids_size(), tokens.pieces_size());

  grpc::ClientContext context2;
  SetDeadline(context2);
  v1::DetokenizeRequest back;
  back.set_model("base");
  *back.mutable_ids() = tokens.ids();
  v1::DetokenizeResponse decoded;
  ASSERT_TRUE(stub().Detokenize(&context2, back, &decoded).ok());
  EXPECT_EQ(decoded.text(), text);
  EXPECT_EQ(decoded.raw(), text);
}

TEST_F(ServerTest, GreedyGenerateStreamsTokensThenASummary) {
  const GenerateResult result = Generate(Greedy("base", kPrompt, 12));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_TRUE(result.has_summary);
  const v1::GenerateSummary& summary = result.summary;
  EXPECT_THAT(summary.finish_reason(),
              ::testing::AnyOf(v1::FINISH_REASON_LENGTH,
                               v1::FINISH_REASON_EOS));
  // The end-of-sequence token is streamed but not counted.
  const bool eos = summary.finish_reason() == v1::FINISH_REASON_EOS;
  EXPECT_EQ(summary.generated_tokens(), result.tokens.size() - (eos ? 1 : 0));
  if (!eos) EXPECT_EQ(result.tokens.size(), 12u);
  EXPECT_GT(summary.prompt_tokens(), 0u);
  for (size_t i = 0; i < result.tokens.size(); ++i) {
    EXPECT_EQ(result.tokens[i].index(), i);
    EXPECT_LE(result.tokens[i].logprob(), 0.0f);
  }
  EXPECT_GE(summary.timings().total_ms(),
            summary.timings().time_to_first_token_ms());
  EXPECT_GE(summary.timings().time_to_first_token_ms(),
            summary.timings().queue_ms());
  // Text is the raw bytes made valid UTF-8, released in full at the end.
  EXPECT_EQ(result.Text(), SanitizeUtf8(result.Raw()));

  // The first greedy token is TopK's most probable one, same logprob.
  const v1::TopKResponse top = TopK(stub(), "base", kPrompt, 1);
  ASSERT_THAT(top.tokens(), SizeIs(1));
  ASSERT_FALSE(result.tokens.empty());
  EXPECT_EQ(result.tokens[0].id(), top.tokens(0).id());
  EXPECT_NEAR(result.tokens[0].logprob(), top.tokens(0).logprob(),
              LogprobTolerance());
}

// Tokens that wait for the write of the one before go out together, at
// most max_tokens_per_message of them; the output is the same. (Whether
// any do wait depends on timing; the default never batches.)
TEST_F(ServerTest, SeveralTokensPerMessageOnlyWhenAllowed) {
  v1::GenerateRequest request = Greedy("base", kPrompt, 40);
  const GenerateResult one = Generate(request);
  ASSERT_TRUE(one.status.ok()) << one.status.error_message();
  EXPECT_EQ(one.most_per_message, 1u);
  EXPECT_EQ(one.token_messages, int64_t(one.tokens.size()));
  request.set_max_tokens_per_message(3);
  const GenerateResult batched = Generate(request);
  ASSERT_TRUE(batched.status.ok()) << batched.status.error_message();
  EXPECT_EQ(batched.Ids(), one.Ids());
  EXPECT_EQ(batched.Text(), one.Text());
  EXPECT_LE(batched.most_per_message, 3u);
  for (size_t i = 0; i < batched.tokens.size(); ++i) {
    EXPECT_EQ(batched.tokens[i].index(), i);
  }
  EXPECT_EQ(batched.summary.generated_tokens(), one.summary.generated_tokens());
}

TEST_F(ServerTest, AlternativesAreTheMostProbableTokens) {
  v1::GenerateRequest request = Greedy("qkv_gelu", kPrompt, 3);
  request.set_top_n(4);
  const GenerateResult result = Generate(request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_FALSE(result.tokens.empty());
  const v1::GeneratedToken& first = result.tokens[0];
  ASSERT_THAT(first.alternatives(), SizeIs(4));
  // Greedy: the chosen token is the most probable alternative.
  EXPECT_EQ(first.alternatives(0).id(), first.id());
  EXPECT_FLOAT_EQ(first.alternatives(0).logprob(), first.logprob());
  for (int i = 1; i < 4; ++i) {
    EXPECT_LE(first.alternatives(i).logprob(),
              first.alternatives(i - 1).logprob());
    EXPECT_FALSE(first.alternatives(i).piece().empty());
  }
}

TEST_F(ServerTest, SameSeedSameTokens) {
  v1::GenerateRequest request;
  request.set_model("separate_qkv");
  request.set_text(kPrompt);
  request.set_max_new_tokens(16);
  request.mutable_sampling()->set_temperature(1.5f);
  request.mutable_sampling()->set_seed(77);
  const GenerateResult a = Generate(request);
  const GenerateResult b = Generate(request);
  ASSERT_TRUE(a.status.ok() && b.status.ok());
  EXPECT_EQ(a.summary.seed(), 77u);
  EXPECT_EQ(a.Ids(), b.Ids());

  // Without a seed the server picks one; replaying it reproduces the run.
  request.mutable_sampling()->clear_seed();
  const GenerateResult picked = Generate(request);
  ASSERT_TRUE(picked.status.ok());
  request.mutable_sampling()->set_seed(picked.summary.seed());
  EXPECT_EQ(Generate(request).Ids(), picked.Ids());

  // A flat-enough distribution makes other seeds differ somewhere.
  bool any_differs = false;
  for (uint64_t seed = 1; seed <= 5 && !any_differs; ++seed) {
    request.mutable_sampling()->set_seed(77 + seed);
    any_differs = Generate(request).Ids() != a.Ids();
  }
  EXPECT_TRUE(any_differs);
}

// A float temperature can be tiny (1e-40): scaling the logits by its
// inverse once overflowed them to NaN, failing the whole batch with
// INTERNAL. It now samples greedily, next to a stream that must not suffer.
TEST_F(ServerTest, TinyTemperatureIsGreedyAndHarmsNoOtherStream) {
  v1::GenerateRequest tiny = Greedy("base", kPrompt, 6);
  tiny.mutable_sampling()->set_temperature(1e-40f);
  tiny.mutable_sampling()->set_seed(3);
  const GenerateResult greedy = Generate(Greedy("base", kPrompt, 6));
  ASSERT_TRUE(greedy.status.ok()) << greedy.status.error_message();

  GenerateResult neighbour;
  std::thread other([&] { neighbour = Generate(Greedy("base", kPrompt, 6)); });
  const GenerateResult result = Generate(tiny);
  other.join();
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.Ids(), greedy.Ids());
  ASSERT_TRUE(neighbour.status.ok()) << neighbour.status.error_message();
  EXPECT_EQ(neighbour.Ids(), greedy.Ids());
}

// The lowest repetition penalty the API allows, as the float a client
// sends (0.01f is a little below 0.01), is accepted.
TEST_F(ServerTest, LowestRepetitionPenaltyIsAccepted) {
  v1::GenerateRequest request = Greedy("base", kPrompt, 2);
  request.mutable_sampling()->set_repetition_penalty(0.01f);
  const GenerateResult result = Generate(request);
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
}

// The first complete UTF-8 character of `raw` at or after `from`.
std::string CharacterAt(const std::string& raw, size_t from) {
  for (size_t begin = from; begin < raw.size(); ++begin) {
    for (size_t len = 1; len <= 4 && begin + len <= raw.size(); ++len) {
      const std::string c = raw.substr(begin, len);
      if (SanitizeUtf8(c) == c && CompleteUtf8Prefix(c) == len) return c;
      if (SanitizeUtf8(c) != c && CompleteUtf8Prefix(c) == len) break;
    }
  }
  return "";
}

TEST_F(ServerTest, StopStringEndsTheTextBeforeIt) {
  const GenerateResult full = Generate(Greedy("base", kPrompt, 24));
  ASSERT_TRUE(full.status.ok());
  const std::string raw = full.Raw();
  // A stop string taken from the middle of the greedy output.
  const std::string stop = CharacterAt(raw, 4);
  ASSERT_FALSE(stop.empty()) << "greedy output too short: " << full.Text();

  v1::GenerateRequest request = Greedy("base", kPrompt, 24);
  request.add_stop("never appears \x01");
  request.add_stop(stop);
  const GenerateResult stopped = Generate(request);
  ASSERT_TRUE(stopped.status.ok());
  EXPECT_EQ(stopped.summary.finish_reason(), v1::FINISH_REASON_STOP);
  EXPECT_EQ(stopped.summary.stop(), stop);
  const std::string expected = SanitizeUtf8(raw.substr(0, raw.find(stop)));
  EXPECT_EQ(stopped.Text(), expected);
  EXPECT_EQ(stopped.Text().find(stop), std::string::npos);
  // Greedy: the same tokens up to the stop.
  const std::vector<int32_t> ids = full.Ids();
  const std::vector<int32_t> prefix(ids.begin(),
                                    ids.begin() + stopped.tokens.size());
  EXPECT_EQ(stopped.Ids(), prefix);
}

TEST_F(ServerTest, TopKIsSortedAndNormalized) {
  const v1::TopKResponse top = TopK(stub(), "score_fcn", kPrompt, 5);
  ASSERT_THAT(top.tokens(), SizeIs(5));
  EXPECT_GT(top.prompt_tokens(), 0u);
  double sum = 0.0;
  for (int i = 0; i < 5; ++i) {
    const v1::TokenProbability& t = top.tokens(i);
    EXPECT_NEAR(t.probability(), std::exp(t.logprob()), 1e-5);
    EXPECT_FALSE(t.piece().empty());
    if (i > 0) {
      EXPECT_LE(t.probability(), top.tokens(i - 1).probability());
    }
    sum += t.probability();
  }
  EXPECT_LE(sum, 1.0 + 1e-5);
  // All of the vocabulary sums to one.
  const uint32_t vocab = Info("score_fcn").dims().vocab_size();
  const v1::TopKResponse all = TopK(stub(), "score_fcn", kPrompt, vocab);
  double total = 0.0;
  for (const auto& t : all.tokens()) total += t.probability();
  EXPECT_NEAR(total, 1.0, 1e-3);
}

TEST_F(ServerTest, AttentionMapsAreCausalRowStochasticMatrices) {
  const v1::ModelInfo info = Info("score_fcn");
  grpc::ClientContext context;
  SetDeadline(context);
  v1::AttentionMapsRequest request;
  request.set_model("score_fcn");
  request.set_text(kPrompt);
  v1::AttentionMapsResponse response;
  ASSERT_TRUE(stub().AttentionMaps(&context, request, &response).ok());
  const int64_t T = response.token_ids_size();
  EXPECT_EQ(uint32_t(T), response.prompt_tokens());
  EXPECT_EQ(response.tokens_size(), T);
  ASSERT_EQ(uint32_t(response.maps_size()),
            info.dims().n_layer() * info.dims().n_head());
  // The maps are the weights the model multiplied with v, in its dtype:
  // bfloat16's 8-bit mantissa leaves rows within ~1e-3 of one.
  const double tolerance = info.dtype() == "bfloat16" ? 1e-2 : 1e-4;
  for (const v1::AttentionMap& map : response.maps()) {
    EXPECT_THAT(map.shape(), ElementsAre(T, T));
    EXPECT_EQ(map.dtype(), v1::TENSOR_DTYPE_FLOAT32);
    const std::vector<float> m = Floats(map.data());
    ASSERT_EQ(int64_t(m.size()), T * T);
    for (int64_t i = 0; i < T; ++i) {
      double row = 0.0;
      for (int64_t j = 0; j < T; ++j) {
        if (j > i) {
          EXPECT_EQ(m[i * T + j], 0.0f);
        }
        row += m[i * T + j];
      }
      EXPECT_NEAR(row, 1.0, tolerance);
    }
  }
}

TEST_F(ServerTest, AttentionMapsOfAGreedyContinuation) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::AttentionMapsRequest request;
  request.set_model("base");
  request.set_text(kPrompt);
  request.set_continuation_tokens(4);
  request.add_layers(1);
  request.add_heads(0);
  request.set_dtype(v1::TENSOR_DTYPE_FLOAT16);
  v1::AttentionMapsResponse response;
  ASSERT_TRUE(stub().AttentionMaps(&context, request, &response).ok());
  ASSERT_THAT(response.maps(), SizeIs(1));
  EXPECT_EQ(response.maps(0).layer(), 1u);
  EXPECT_EQ(response.maps(0).dtype(), v1::TENSOR_DTYPE_FLOAT16);
  const int64_t T = response.token_ids_size();
  EXPECT_EQ(response.maps(0).data().size(), size_t(T * T * 2));
  // The continuation is what greedy Generate produces.
  const GenerateResult greedy = Generate(Greedy("base", kPrompt, 4));
  std::vector<int32_t> continuation(
      response.token_ids().begin() + response.prompt_tokens(),
      response.token_ids().end());
  EXPECT_EQ(continuation, greedy.Ids());
}

TEST_F(ServerTest, CompareRunsEveryModelWithOneSeed) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::CompareRequest request;
  request.set_prompt(kPrompt);
  request.set_max_new_tokens(6);
  request.mutable_sampling()->set_seed(5);
  v1::CompareResponse response;
  ASSERT_TRUE(stub().Compare(&context, request, &response).ok());
  EXPECT_EQ(response.seed(), 5u);
  ASSERT_THAT(response.results(), SizeIs(4));
  for (int i = 0; i < 4; ++i) {
    const v1::ModelComparison& c = response.results(i);
    EXPECT_EQ(c.model(), kModels[i]);
    EXPECT_THAT(c.top_k(), SizeIs(5));
    EXPECT_EQ(uint32_t(c.attention_entropy_size()),
              Info(c.model()).dims().n_layer());
    for (float e : c.attention_entropy()) EXPECT_GE(e, 0.0f);
    // Same seed through Generate gives the same continuation.
    v1::GenerateRequest generate;
    generate.set_model(c.model());
    generate.set_text(kPrompt);
    generate.set_max_new_tokens(6);
    generate.mutable_sampling()->set_seed(5);
    const GenerateResult g = Generate(generate);
    EXPECT_THAT(c.continuation_ids(), ElementsAreArray(g.Ids()));
    EXPECT_EQ(c.continuation(), g.Text());
  }
}

TEST_F(ServerTest, CancellingMidStreamEndsTheCallAndFreesTheSlot) {
  const uint32_t context_length = Info("base").context_length();
  // More cancelled streams than slots: a leaked slot would leave the last
  // request queued forever (and fail on its deadline).
  for (int i = 0; i < 2 * kMaxBatch; ++i) {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GenerateRequest request = Greedy("base", "a", 0);
    request.set_max_new_tokens(context_length - 8);
    request.set_top_n(20);
    auto reader = stub().Generate(&context, request);
    v1::GenerateResponse response;
    ASSERT_TRUE(reader->Read(&response));
    EXPECT_TRUE(response.has_token());
    context.TryCancel();
    while (reader->Read(&response)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  const GenerateResult after = Generate(Greedy("base", kPrompt, 4),
                                        std::chrono::seconds(60));
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
}

TEST_F(ServerTest, ExpiredDeadlineIsReportedAndServingContinues) {
  const GenerateResult late =
      Generate(Greedy("base", kPrompt, 8), std::chrono::milliseconds(0));
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(Generate(Greedy("base", kPrompt, 2)).status.ok());
}

TEST_F(ServerTest, ConcurrentStreamsOnAllModelsMatchSoloRuns) {
  // Solo greedy runs first, then the same requests all at once (more
  // streams than slots, so some wait and join the batch later).
  std::vector<v1::GenerateRequest> requests;
  const std::vector<std::string> prompts = {
      kPrompt, "Once upon a time", "猫", "The", "春はあけぼの", "x y z"};
  for (const std::string& model : kModels) {
    for (const std::string& prompt : prompts) {
      requests.push_back(Greedy(model, prompt, 10));
    }
  }
  std::vector<std::vector<int32_t>> solo;
  for (const auto& request : requests) solo.push_back(Generate(request).Ids());

  std::vector<GenerateResult> together(requests.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < requests.size(); ++i) {
    threads.emplace_back([&, i] { together[i] = Generate(requests[i]); });
  }
  for (auto& thread : threads) thread.join();
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(together[i].status.ok()) << together[i].status.error_message();
    EXPECT_EQ(together[i].Ids(), solo[i]) << "request " << i;
  }
}

}  // namespace
}  // namespace tinylm
