// Bad requests: each gets the right status code and a message naming the
// problem, and the server keeps serving.
#include <functional>
#include <string>

#include <gmock/gmock.h>

#include "tests/server_test_util.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

constexpr char kPrompt[] = "吾輩は猫である。";

struct BadCase {
  std::string name;
  grpc::StatusCode code;
  std::string message;  // a substring of the expected message
  std::function<grpc::Status(v1::TinyLM::Stub&)> call;
};

grpc::Status CallGenerate(v1::TinyLM::Stub& stub,
                          const v1::GenerateRequest& request) {
  grpc::ClientContext context;
  SetDeadline(context);
  auto reader = stub.Generate(&context, request);
  v1::GenerateResponse response;
  while (reader->Read(&response)) {
  }
  return reader->Finish();
}

// A valid Generate request, changed by `edit`.
std::function<grpc::Status(v1::TinyLM::Stub&)> Gen(
    std::function<void(v1::GenerateRequest&)> edit) {
  return [edit](v1::TinyLM::Stub& stub) {
    v1::GenerateRequest request;
    request.set_model("base");
    request.set_text(kPrompt);
    request.set_max_new_tokens(4);
    edit(request);
    return CallGenerate(stub, request);
  };
}

std::function<grpc::Status(v1::TinyLM::Stub&)> TopK(
    std::function<void(v1::TopKRequest&)> edit) {
  return [edit](v1::TinyLM::Stub& stub) {
    v1::TopKRequest request;
    request.set_model("base");
    request.set_text(kPrompt);
    request.set_k(5);
    edit(request);
    grpc::ClientContext context;
    SetDeadline(context);
    v1::TopKResponse response;
    return stub.TopK(&context, request, &response);
  };
}

std::function<grpc::Status(v1::TinyLM::Stub&)> Attention(
    std::function<void(v1::AttentionMapsRequest&)> edit) {
  return [edit](v1::TinyLM::Stub& stub) {
    v1::AttentionMapsRequest request;
    request.set_model("base");
    request.set_text(kPrompt);
    edit(request);
    grpc::ClientContext context;
    SetDeadline(context);
    v1::AttentionMapsResponse response;
    return stub.AttentionMaps(&context, request, &response);
  };
}

std::function<grpc::Status(v1::TinyLM::Stub&)> Detokenize(
    std::vector<int32_t> ids) {
  return [ids](v1::TinyLM::Stub& stub) {
    v1::DetokenizeRequest request;
    request.set_model("base");
    for (int32_t id : ids) request.add_ids(id);
    grpc::ClientContext context;
    SetDeadline(context);
    v1::DetokenizeResponse response;
    return stub.Detokenize(&context, request, &response);
  };
}

std::function<grpc::Status(v1::TinyLM::Stub&)> Compare(
    std::vector<std::string> models) {
  return [models](v1::TinyLM::Stub& stub) {
    v1::CompareRequest request;
    request.set_prompt(kPrompt);
    for (const auto& m : models) request.add_models(m);
    grpc::ClientContext context;
    SetDeadline(context);
    v1::CompareResponse response;
    return stub.Compare(&context, request, &response);
  };
}

std::vector<BadCase> BadCases(int64_t context, int64_t vocab,
                              int64_t layers) {
  using C = grpc::StatusCode;
  const std::vector<int32_t> too_long(context, 5);
  return {
      {"empty prompt", C::INVALID_ARGUMENT, "prompt.text: must not be empty",
       Gen([](auto& r) { r.set_text(""); })},
      {"invalid UTF-8 prompt", C::INVALID_ARGUMENT,
       "text: not valid UTF-8 (byte 0xff at offset 1)",
       Gen([](auto& r) { r.set_text("a\xff"); })},
      {"invalid UTF-8 stop string", C::INVALID_ARGUMENT,
       "stop: not valid UTF-8 (byte 0xe7 at offset 0)",
       Gen([](auto& r) { r.add_stop("\xe7\x8c"); })},
      {"no prompt", C::INVALID_ARGUMENT, "prompt: set text or token_ids",
       Gen([](auto& r) { r.clear_prompt(); })},
      {"empty token ids", C::INVALID_ARGUMENT,
       "prompt.token_ids: must not be empty",
       Gen([](auto& r) { r.mutable_token_ids(); })},
      {"unknown model", C::NOT_FOUND, "model \"nope\" is not loaded",
       Gen([](auto& r) { r.set_model("nope"); })},
      // A megabyte of model name once came back whole inside the message,
      // past the client's metadata limit: RESOURCE_EXHAUSTED, not NOT_FOUND.
      {"megabyte model name", C::NOT_FOUND,
       "model \"" + std::string(64, 'm') +
           "...\" (1048576 bytes) is not "
           "loaded",
       Gen([](auto& r) { r.set_model(std::string(1 << 20, 'm')); })},
      {"megabyte model name in TopK", C::NOT_FOUND, "(1048576 bytes)",
       TopK([](auto& r) { r.set_model(std::string(1 << 20, 'm')); })},
      // Refused before tokenizing: a megabyte was once tokenized first, at
      // the cost of seconds and hundreds of megabytes of memory.
      {"megabyte prompt", C::INVALID_ARGUMENT,
       "prompt.text: 1048575 bytes make at least",
       Gen([](auto& r) { r.set_text(std::string((1 << 20) - 1, 'a')); })},
      {"missing model", C::INVALID_ARGUMENT, "model: required",
       Gen([](auto& r) { r.clear_model(); })},
      {"prompt longer than the context", C::INVALID_ARGUMENT,
       "do not fit the context length", Gen([too_long](auto& r) {
         for (int32_t id : too_long) r.mutable_token_ids()->add_ids(id);
       })},
      {"token id outside the vocabulary", C::INVALID_ARGUMENT,
       "prompt.token_ids.ids[1]: id -3 is outside the vocabulary",
       Gen([](auto& r) {
         r.mutable_token_ids()->add_ids(1);
         r.mutable_token_ids()->add_ids(-3);
       })},
      {"max_new_tokens beyond the context", C::INVALID_ARGUMENT,
       "new tokens exceed the context length",
       Gen([context](auto& r) { r.set_max_new_tokens(context); })},
      {"max_new_tokens beyond the server limit", C::INVALID_ARGUMENT,
       "max_new_tokens: 5000 exceeds the server limit",
       Gen([](auto& r) { r.set_max_new_tokens(5000); })},
      {"negative temperature", C::INVALID_ARGUMENT,
       "sampling.temperature: must be in [0, 100], got -1",
       Gen([](auto& r) { r.mutable_sampling()->set_temperature(-1); })},
      {"top_p zero", C::INVALID_ARGUMENT,
       "sampling.top_p: must be in (0, 1], got 0",
       Gen([](auto& r) { r.mutable_sampling()->set_top_p(0); })},
      {"top_p above one", C::INVALID_ARGUMENT,
       "sampling.top_p: must be in (0, 1], got 1.5",
       Gen([](auto& r) { r.mutable_sampling()->set_top_p(1.5); })},
      {"min_p one", C::INVALID_ARGUMENT, "sampling.min_p: must be in [0, 1)",
       Gen([](auto& r) { r.mutable_sampling()->set_min_p(1); })},
      {"repetition penalty zero", C::INVALID_ARGUMENT,
       "sampling.repetition_penalty: must be in [0.01, 10]",
       Gen([](auto& r) { r.mutable_sampling()->set_repetition_penalty(0); })},
      // A tiny float penalty once overflowed the logits to NaN, and the
      // failed step ended every stream of the batch with INTERNAL.
      {"repetition penalty tiny", C::INVALID_ARGUMENT,
       "sampling.repetition_penalty: must be in [0.01, 10], got 9.99995e-41",
       Gen([](auto& r) {
         r.mutable_sampling()->set_repetition_penalty(1e-40f);
       })},
      {"sampling top_k beyond the vocabulary", C::INVALID_ARGUMENT,
       "sampling.top_k: " + std::to_string(vocab + 1) + " exceeds",
       Gen([vocab](auto& r) { r.mutable_sampling()->set_top_k(vocab + 1); })},
      {"too many alternatives", C::INVALID_ARGUMENT,
       "top_n: 21 exceeds the limit of 20",
       Gen([](auto& r) { r.set_top_n(21); })},
      {"too many tokens per message", C::INVALID_ARGUMENT,
       "max_tokens_per_message: 257 exceeds the limit of 256",
       Gen([](auto& r) { r.set_max_tokens_per_message(257); })},
      {"empty stop string", C::INVALID_ARGUMENT, "stop[1]: must not be empty",
       Gen([](auto& r) {
         r.add_stop("ok");
         r.add_stop("");
       })},
      {"k = 0", C::INVALID_ARGUMENT, "k: must be at least 1",
       TopK([](auto& r) { r.set_k(0); })},
      {"k beyond the vocabulary", C::INVALID_ARGUMENT,
       "k: " + std::to_string(vocab + 1) + " exceeds the vocabulary size",
       TopK([vocab](auto& r) { r.set_k(vocab + 1); })},
      {"TopK on an unknown model", C::NOT_FOUND, "is not loaded",
       TopK([](auto& r) { r.set_model("gpt-5"); })},
      {"bad layer index", C::INVALID_ARGUMENT,
       "layers[1]: layer " + std::to_string(layers) + " does not exist",
       Attention([layers](auto& r) {
         r.add_layers(0);
         r.add_layers(layers);
       })},
      {"bad head index", C::INVALID_ARGUMENT, "heads[0]: head 99",
       Attention([](auto& r) { r.add_heads(99); })},
      {"huge attention request", C::RESOURCE_EXHAUSTED,
       "exceed the limit of " +
           std::to_string(TestLimits().max_attention_bytes),
       Attention([context](auto& r) {
         r.mutable_token_ids()->add_ids(5);
         r.mutable_token_ids()->add_ids(6);
         r.set_continuation_tokens(context - 2);
       })},
      {"ablation of a layer that does not exist", C::INVALID_ARGUMENT,
       "interventions[0].ablate.layer: layer " + std::to_string(layers) +
           " does not exist",
       TopK([layers](auto& r) {
         v1::Ablation* a = r.add_interventions()->mutable_ablate();
         a->set_site(v1::INTERVENTION_SITE_MLP_OUTPUT);
         a->set_layer(layers);
       })},
      {"patch source of another length", C::INVALID_ARGUMENT,
       "interventions[0].patch.source_text: ", Gen([](auto& r) {
         v1::Patch* p = r.add_interventions()->mutable_patch();
         p->set_site(v1::INTERVENTION_SITE_RESIDUAL);
         p->set_source_text("猫");
       })},
      {"rows past the maps", C::INVALID_ARGUMENT, "row_end: 999 is past the",
       Attention([](auto& r) { r.set_row_end(999); })},
      {"too many top keys", C::INVALID_ARGUMENT,
       "attention_stats.top_keys: 17 exceeds 16",
       TopK([](auto& r) { r.mutable_attention_stats()->set_top_keys(17); })},
      {"unknown token id in Detokenize", C::INVALID_ARGUMENT,
       "ids[1]: id " + std::to_string(vocab) + " is outside the vocabulary",
       Detokenize({3, int32_t(vocab)})},
      {"Compare with an unknown model", C::NOT_FOUND,
       "model \"nope\" is not loaded", Compare({"base", "nope"})},
      {"Compare with a model twice", C::INVALID_ARGUMENT,
       "models[1]: \"base\" is listed twice", Compare({"base", "base"})},
  };
}

TEST_F(ServerTest, BadRequestsGetClearErrorsAndServingContinues) {
  const v1::ModelInfo info = Info("base");
  const auto cases = BadCases(info.context_length(), info.dims().vocab_size(),
                              info.dims().n_layer());
  ASSERT_GE(cases.size(), 15u);
  for (const BadCase& c : cases) {
    const grpc::Status status = c.call(stub());
    EXPECT_EQ(status.error_code(), c.code)
        << c.name << ": " << status.error_message().substr(0, 200);
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.name;
    // User values are quoted short: no message grows with the request.
    EXPECT_LT(status.error_message().size(), 400u) << c.name;
  }
  // Still serving.
  const GenerateResult ok = Generate(Greedy("base", kPrompt, 3));
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_FALSE(ok.tokens.empty());
}

}  // namespace
}  // namespace tinylm
