// Fuzz target: request validation (server/rpc/validate.h) against a registry
// of two tiny models that share the shipped tokenizer ("small" with a
// 32-token context and "wide", a score_fcn model with 48).
//
// Input: a selector byte (which request message: Generate, TopK,
// AttentionMaps, Compare, Tokenize, Detokenize, LogitLens, Score, or
// AttentionMaps for the stream), then the message's protobuf wire bytes,
// parsed as the service parses them (server/rpc/wire.h).
// Properties:
//   - Bytes that do not parse are refused with INVALID_ARGUMENT.
//   - Validation never crashes; it fails only with INVALID_ARGUMENT,
//     NOT_FOUND or RESOURCE_EXHAUSTED and a message.
//   - What it accepts is what the engine relies on: a registered model, a
//     non-empty prompt of in-vocabulary ids that fits the context with the
//     new tokens, sampling parameters in range, bounded stop strings,
//     layer/head indices that exist, attention payloads and row ranges
//     within the limits; interventions on layers and heads that exist, at
//     sites their kind allows, patch sources as long as the prompt and
//     positions inside it; statistics, lens and score sizes in bounds.
//   - Accepted interventions (TopK, Score) and lens requests run through
//     the engine's analysis forward (server/engine/analysis.h) on the same
//     models without error.
//   - Accepted sampling parameters sample a token from logits without
//     error (a failed step fails the whole batch).
//   - Accepted Tokenize text encodes; accepted Detokenize ids decode.
#include <ATen/ATen.h>
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "models/checkpoint.h"
#include "models/config.h"
#include "models/model.h"
#include "models/sampler.h"
#include "server/engine/analysis.h"
#include "util/utf8.h"
#include "server/rpc/validate.h"
#include "server/rpc/wire.h"
#include "tests/fuzz/fuzz_check.h"

namespace tinylm {
namespace {

const ServiceLimits kLimits;

// Saves a random-weight model of the tiny size preset with the shipped
// tokenizer's vocabulary.
void SaveTinyModel(const std::string& dir, const std::string& variant,
                   int64_t block_size) {
  const std::string tokenizer =
      fuzz::SourcePath("models/checkpoints/base/tokenizer.model");
  absl::StatusOr<ModelConfig> config = MakeConfig("tiny", variant);
  FUZZ_CHECK(config.ok(), config.status());
  config->vocab_size = 8000;  // the shipped tokenizer's
  config->block_size = block_size;
  at::manual_seed(7);
  Transformer model(*config);
  SaveOptions options;
  options.tokenizer_path = tokenizer;
  absl::Status saved = SaveCheckpoint(dir, model, options);
  FUZZ_CHECK(saved.ok(), saved);
}

std::string CheckpointsRoot() {
  static const std::string root = fuzz::ScratchDir() + "/checkpoints";
  return root;
}

const ModelRegistry& Registry() {
  static const ModelRegistry* registry = [] {
    const std::string root = CheckpointsRoot();
    SaveTinyModel(root + "/small", "base", 32);
    SaveTinyModel(root + "/wide", "score_fcn", 48);
    RegistryOptions options;
    options.checkpoints_dir = root;
    options.device = "cpu";
    options.scheduler.max_batch = 1;
    options.scheduler.max_queued = 1;
    auto loaded = ModelRegistry::Load(options);
    FUZZ_CHECK(loaded.ok(), loaded.status());
    return loaded->release();
  }();
  return *registry;
}

// The registry's models again, outside their schedulers, for analysis runs.
Transformer& LocalModel(const ServedModel* served) {
  static std::map<std::string, Transformer>* models = [] {
    auto* out = new std::map<std::string, Transformer>();
    for (const auto& m : Registry().models()) {
      auto loaded =
          LoadCheckpoint(CheckpointsRoot() + "/" + m->name, c10::kCPU,
                         c10::kFloat);
      FUZZ_CHECK(loaded.ok(), loaded.status());
      out->emplace(m->name, loaded->model);
    }
    return out;
  }();
  return models->at(served->name);
}

void CheckError(const absl::Status& status) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument ||
                 status.code() == absl::StatusCode::kNotFound ||
                 status.code() == absl::StatusCode::kResourceExhausted,
             status);
  FUZZ_CHECK(!status.message().empty(), status);
}

bool Registered(const ServedModel* model) {
  for (const auto& m : Registry().models()) {
    if (m.get() == model) return true;
  }
  return false;
}

void CheckSampling(const SamplingParams& s, int64_t vocab) {
  FUZZ_CHECK(s.temperature >= 0.0 && s.temperature <= 100.0, "temperature");
  FUZZ_CHECK(s.top_k >= 0 && s.top_k <= vocab, "top_k");
  FUZZ_CHECK(s.top_p > 0.0 && s.top_p <= 1.0, "top_p");
  FUZZ_CHECK(s.min_p >= 0.0 && s.min_p < 1.0, "min_p");
  FUZZ_CHECK(s.repetition_penalty > 0.0 && s.repetition_penalty <= 10.0,
             "repetition_penalty");
}

// The invariants shared by every accepted request. `min_new` is 1 where
// the RPC generates at least one token.
void CheckValid(const ValidRequest& v, int64_t min_new) {
  FUZZ_CHECK(Registered(v.model), "unregistered model");
  const ModelConfig& config = v.model->config;
  const GenerationRequest& r = v.request;
  FUZZ_CHECK(!r.prompt.empty(), "empty prompt");
  for (int64_t id : r.prompt) {
    FUZZ_CHECK(id >= 0 && id < config.vocab_size, absl::StrCat("id ", id));
  }
  FUZZ_CHECK(
      r.max_new_tokens >= min_new && r.max_new_tokens <= kLimits.max_new_tokens,
      absl::StrCat("max_new_tokens ", r.max_new_tokens));
  FUZZ_CHECK(int64_t(r.prompt.size()) + r.max_new_tokens <= config.block_size,
             absl::StrCat(r.prompt.size(), " + ", r.max_new_tokens));
  CheckSampling(r.sampling, config.vocab_size);
  FUZZ_CHECK(int64_t(r.stop.size()) <= kLimits.max_stop_strings, "stops");
  for (const std::string& stop : r.stop) {
    FUZZ_CHECK(!stop.empty() &&
                   int64_t(stop.size()) <= kLimits.max_stop_bytes &&
                   IsValidUtf8(stop),
               "stop string");
  }
  FUZZ_CHECK(r.top_n >= 0 && r.top_n <= kLimits.max_top_n &&
                 r.top_n <= config.vocab_size,
             "top_n");
  FUZZ_CHECK(r.max_tokens_per_message >= 1 &&
                 r.max_tokens_per_message <= kLimits.max_tokens_per_message,
             "max_tokens_per_message");
}

void CheckInterventions(const ValidRequest& v) {
  const ModelConfig& config = v.model->config;
  const GenerationRequest& r = v.request;
  FUZZ_CHECK(int64_t(r.interventions.size()) <= kLimits.max_interventions,
             "interventions");
  for (const InterventionSpec& spec : r.interventions) {
    FUZZ_CHECK(spec.layer >= 0 && spec.layer < config.n_layer,
               absl::StrCat("intervention layer ", spec.layer));
    const bool patch = spec.action == InterventionSpec::Action::kPatch;
    const bool patch_site = spec.point == HookPoint::kResidual ||
                            spec.point == HookPoint::kAttentionPattern;
    FUZZ_CHECK(patch == patch_site, "intervention site for its kind");
    const bool per_head = spec.point == HookPoint::kHeadOutputs ||
                          spec.point == HookPoint::kAttentionPattern;
    FUZZ_CHECK(per_head || spec.heads.empty(), "heads at a site without");
    for (int64_t head : spec.heads) {
      FUZZ_CHECK(head >= 0 && head < config.n_head, "intervention head");
    }
    if (!patch) continue;
    FUZZ_CHECK(spec.source.size() == r.prompt.size(), "patch source length");
    for (int64_t id : spec.source) {
      FUZZ_CHECK(id >= 0 && id < config.vocab_size, "patch source id");
    }
    for (int64_t p : spec.positions) {
      FUZZ_CHECK(p >= 0 && p < int64_t(r.prompt.size()), "patch position");
    }
  }
}

// Accepted analyses run: the forward with the interventions, the lens.
void CheckRuns(const ValidRequest& v) {
  const GenerationRequest& r = v.request;
  if (r.interventions.empty() && !r.analysis->lens) return;
  try {
    const AnalysisResult result =
        Analyze(LocalModel(v.model), r.prompt, r.prompt.size(), *r.analysis,
                r.interventions);
    if (r.analysis->lens) {
      FUZZ_CHECK(result.lens.size() == r.analysis->lens->positions.size(),
                 "lens positions");
    }
    FUZZ_CHECK(r.interventions.empty() || result.effect.has_value(),
               "an intervened analysis reports its effect");
  } catch (const c10::Error& e) {
    FUZZ_CHECK(false,
               absl::StrCat("Analyze threw: ", e.what_without_backtrace()));
  }
}

void CheckAnalysis(const ValidRequest& v, int64_t max_map_bytes) {
  const ModelConfig& config = v.model->config;
  FUZZ_CHECK(v.request.analysis.has_value(), "analysis");
  const AnalysisOptions& a = *v.request.analysis;
  FUZZ_CHECK(a.top_k >= 0 && a.top_k <= config.vocab_size, "analysis top_k");
  const int64_t tokens = v.request.prompt.size() + v.request.max_new_tokens;
  if (a.stats) {
    FUZZ_CHECK(a.stats->top_keys >= 0 && a.stats->top_keys <= 16, "top_keys");
    FUZZ_CHECK(config.n_layer * config.n_head * tokens * a.stats->top_keys <=
                   kLimits.max_attention_stat_values,
               "stat values");
  }
  if (a.lens) {
    FUZZ_CHECK(a.lens->k >= 1 && a.lens->k <= kLimits.max_lens_k &&
                   a.lens->k <= config.vocab_size,
               "lens k");
    FUZZ_CHECK(!a.lens->positions.empty(), "lens positions");
    for (int64_t p : a.lens->positions) {
      FUZZ_CHECK(p >= 0 && p < int64_t(v.request.prompt.size()),
                 "lens position");
    }
    FUZZ_CHECK(int64_t(a.lens->positions.size()) * (config.n_layer + 1) *
                       a.lens->k <=
                   kLimits.max_lens_values,
               "lens values");
  }
  CheckInterventions(v);
  if (!a.attention) return;
  FUZZ_CHECK(!a.layers.empty() && !a.heads.empty(), "layers/heads");
  for (int64_t layer : a.layers) {
    FUZZ_CHECK(layer >= 0 && layer < config.n_layer, "layer");
  }
  for (int64_t head : a.heads) {
    FUZZ_CHECK(head >= 0 && head < config.n_head, "head");
  }
  FUZZ_CHECK(a.row_begin >= 0 && a.row_begin < a.row_end &&
                 a.row_end <= tokens,
             absl::StrCat("rows ", a.row_begin, "..", a.row_end));
  const int64_t bytes = int64_t(a.layers.size()) * int64_t(a.heads.size()) *
                        (a.row_end - a.row_begin) * tokens * (a.half ? 2 : 4);
  FUZZ_CHECK(bytes <= max_map_bytes, "attention bytes");
}

// Parses as the service does (server/rpc/wire.h); a message that does not
// parse must be refused with INVALID_ARGUMENT, as the service answers.
bool Parse(google::protobuf::Message& message, const uint8_t* data,
           size_t size) {
  grpc::Slice slice(data, size);
  const grpc::ByteBuffer bytes(&slice, 1);
  const absl::Status parsed = ParseRequest(bytes, &message);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.code() == absl::StatusCode::kInvalidArgument, parsed);
  }
  return parsed.ok();
}

// Accepted sampling parameters must make a working sampler call: one
// poisoned row fails the model step of every sequence in its batch.
void CheckSampler(const ValidRequest& v) {
  static const at::Tensor* logits = [] {
    at::manual_seed(11);
    // [1, V]: both models share the shipped tokenizer's vocabulary.
    return new at::Tensor(at::randn({1, 8000}) * 8);
  }();
  SampleRow row;
  row.params = v.request.sampling;
  row.position = v.request.prompt.size();
  row.history = &v.request.prompt;
  try {
    const std::vector<SampledToken> sampled =
        SampleTokens(*logits, {row}, v.request.top_n);
    FUZZ_CHECK(sampled.size() == 1, "one row");
    FUZZ_CHECK(sampled[0].id >= 0 && sampled[0].id < logits->size(1),
               absl::StrCat("sampled id ", sampled[0].id));
    FUZZ_CHECK(int64_t(sampled[0].alternatives.size()) == v.request.top_n,
               "alternatives");
  } catch (const c10::Error& e) {
    FUZZ_CHECK(false, absl::StrCat("SampleTokens threw: ",
                                   e.what_without_backtrace()));
  }
}

void FuzzGenerate(const uint8_t* data, size_t size) {
  v1::GenerateRequest in;
  if (!Parse(in, data, size)) return;
  auto v = ValidateGenerate(in, Registry(), kLimits, absl::InfiniteFuture());
  if (!v.ok()) return CheckError(v.status());
  CheckValid(*v, 1);
  CheckInterventions(*v);
  const auto& analysis = v->request.analysis;
  if (analysis) {  // only for statistics
    FUZZ_CHECK(analysis->stats && !analysis->attention &&
                   analysis->top_k == 0 && !analysis->lens && !analysis->score,
               "Generate's analysis");
    CheckAnalysis(*v, 0);
  }
  CheckSampler(*v);
}

void FuzzTopK(const uint8_t* data, size_t size) {
  v1::TopKRequest in;
  if (!Parse(in, data, size)) return;
  auto v = ValidateTopK(in, Registry(), kLimits, absl::InfiniteFuture());
  if (!v.ok()) return CheckError(v.status());
  CheckValid(*v, 0);
  CheckAnalysis(*v, 0);
  FUZZ_CHECK(v->request.analysis->top_k >= 1, "top_k");
  CheckRuns(*v);
}

void FuzzAttentionMaps(const uint8_t* data, size_t size) {
  v1::AttentionMapsRequest in;
  if (!Parse(in, data, size)) return;
  auto v =
      ValidateAttentionMaps(in, Registry(), kLimits, absl::InfiniteFuture());
  if (!v.ok()) return CheckError(v.status());
  CheckValid(*v, 0);
  CheckAnalysis(*v, kLimits.max_attention_bytes);
  FUZZ_CHECK(v->request.analysis->attention, "attention");
  CheckSampler(*v);
}

void FuzzCompare(const uint8_t* data, size_t size) {
  v1::CompareRequest in;
  if (!Parse(in, data, size)) return;
  auto v = ValidateCompare(in, Registry(), kLimits, absl::InfiniteFuture());
  if (!v.ok()) return CheckError(v.status());
  const size_t expected =
      in.models_size() > 0 ? in.models_size() : Registry().models().size();
  FUZZ_CHECK(v->size() == expected, "one request per model");
  for (const ValidRequest& one : *v) {
    CheckValid(one, 1);
    CheckAnalysis(one, 0);
    CheckSampler(one);
    FUZZ_CHECK(one.request.sampling.seed == v->front().request.sampling.seed,
               "one seed for all models");
  }
}

void FuzzStreamAttentionMaps(const uint8_t* data, size_t size) {
  v1::AttentionMapsRequest in;
  if (!Parse(in, data, size)) return;
  auto v = ValidateStreamAttentionMaps(in, Registry(), kLimits,
                                       absl::InfiniteFuture());
  if (!v.ok()) return CheckError(v.status());
  CheckValid(*v, 0);
  CheckAnalysis(*v, kLimits.max_streamed_attention_bytes);
  const AnalysisOptions& a = *v->request.analysis;
  const int64_t row = (v->request.prompt.size() + v->request.max_new_tokens) *
                      (a.half ? 2 : 4);
  FUZZ_CHECK(row + kMapMessageOverhead <= kLimits.max_send_message_bytes,
             "a row fits one message");
  CheckSampler(*v);
}

void FuzzLogitLens(const uint8_t* data, size_t size) {
  v1::LogitLensRequest in;
  if (!Parse(in, data, size)) return;
  auto v = ValidateLogitLens(in, Registry(), kLimits, absl::InfiniteFuture());
  if (!v.ok()) return CheckError(v.status());
  CheckValid(*v, 0);
  CheckAnalysis(*v, 0);
  FUZZ_CHECK(v->request.analysis->lens.has_value(), "lens");
  CheckRuns(*v);
}

void FuzzScore(const uint8_t* data, size_t size) {
  v1::ScoreRequest in;
  if (!Parse(in, data, size)) return;
  auto v = ValidateScore(in, Registry(), kLimits, absl::InfiniteFuture());
  if (!v.ok()) return CheckError(v.status());
  const size_t expected =
      in.models_size() > 0 ? in.models_size() : Registry().models().size();
  FUZZ_CHECK(v->size() == expected, "one request per model");
  for (const ValidRequest& one : *v) {
    CheckValid(one, 0);
    CheckAnalysis(one, 0);
    FUZZ_CHECK(one.request.analysis->score, "score");
    FUZZ_CHECK(one.request.prompt.size() >= 2, "two tokens to score");
    CheckRuns(one);
  }
}

void FuzzTokenize(const uint8_t* data, size_t size) {
  v1::TokenizeRequest in;
  if (!Parse(in, data, size)) return;
  auto model = ValidateTokenize(in, Registry(), kLimits);
  if (!model.ok()) return CheckError(model.status());
  FUZZ_CHECK(Registered(*model), "unregistered model");
  auto ids = (*model)->tokenizer->Encode(in.text());
  FUZZ_CHECK(ids.ok(), ids.status());
}

void FuzzDetokenize(const uint8_t* data, size_t size) {
  v1::DetokenizeRequest in;
  if (!Parse(in, data, size)) return;
  auto v = ValidateDetokenize(in, Registry());
  if (!v.ok()) return CheckError(v.status());
  FUZZ_CHECK(Registered(v->model), "unregistered model");
  auto text = v->model->tokenizer->Decode(v->ids);
  FUZZ_CHECK(text.ok(), text.status());
}

}  // namespace
}  // namespace tinylm

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Protobuf logs every string field with invalid UTF-8 it refuses; the
  // refusal is what is being tested, the log only slows fuzzing down.
  google::protobuf::SetLogHandler(nullptr);
  tinylm::fuzz::UseOneThread();
  tinylm::Registry();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tinylm;
  if (size == 0) return 0;
  const uint8_t* message = data + 1;
  const size_t length = size - 1;
  switch (data[0] % 9) {
    case 0:
      FuzzGenerate(message, length);
      break;
    case 1:
      FuzzTopK(message, length);
      break;
    case 2:
      FuzzAttentionMaps(message, length);
      break;
    case 3:
      FuzzCompare(message, length);
      break;
    case 4:
      FuzzTokenize(message, length);
      break;
    case 5:
      FuzzDetokenize(message, length);
      break;
    case 6:
      FuzzLogitLens(message, length);
      break;
    case 7:
      FuzzScore(message, length);
      break;
    default:
      FuzzStreamAttentionMaps(message, length);
      break;
  }
  return 0;
}
