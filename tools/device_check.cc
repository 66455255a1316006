// tinylm-device-check: runs the same forward pass on the CPU (float32, the
// reference) and on CUDA in float32 and bfloat16, and prints the largest
// differences of logits and attention maps, plus cached decoding against
// the full forward on CUDA. One JSON object per line.
//
//   tinylm-device-check [--checkpoints=DIR]   (default: random small models)
#include <algorithm>
#include <cstdio>
#include <memory>
#include <filesystem>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/cuda.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "models/checkpoint.h"
#include "models/config.h"
#include "models/kv_cache.h"
#include "models/model.h"
#include "models/tokenizer.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, checkpoints, "",
          "directory of checkpoint folders; empty = random small models");
ABSL_FLAG(int64_t, tokens, 64, "prompt length");

namespace tinylm {
namespace {

struct Result {
  at::Tensor logits;                  // [1, T, V] float32, CPU
  std::vector<at::Tensor> attention;  // n_layer x [1, H, T, T], CPU
};

Result RunFull(Transformer& model, const at::Tensor& tokens) {
  torch::NoGradGuard no_grad;
  ForwardInput in;
  in.tokens = tokens.to(model->parameters().front().device());
  in.return_attention = true;
  ForwardOutput out = model->Forward(in);
  Result r{out.logits.to(at::kFloat).cpu(), {}};
  for (const at::Tensor& a : out.attention) r.attention.push_back(a.cpu());
  return r;
}

// Prefill of the first half, then one token at a time; logits [1, T, V].
at::Tensor RunCached(Transformer& model, const at::Tensor& tokens) {
  torch::NoGradGuard no_grad;
  const at::Tensor p = model->parameters().front();
  const int64_t T = tokens.size(1), half = T / 2;
  KvCache cache(model->config(), 1, T, p.device(), p.scalar_type());
  std::vector<at::Tensor> logits;
  for (int64_t start = 0; start < T;) {
    const int64_t n = start == 0 ? half : 1;
    ForwardInput in;
    in.tokens = tokens.narrow(1, start, n).to(p.device());
    in.positions = at::arange(start, start + n, at::kLong)
                       .view({1, n})
                       .to(p.device());
    in.cache = &cache;
    in.slots = {0};
    in.kv_length = start + n;
    logits.push_back(model->Forward(in).logits.to(at::kFloat).cpu());
    start += n;
  }
  return at::cat(logits, 1);
}

double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

double MaxAttentionDiff(const Result& a, const Result& b) {
  double worst = 0;
  for (size_t i = 0; i < a.attention.size(); ++i) {
    worst = std::max(worst, MaxDiff(a.attention[i], b.attention[i]));
  }
  return worst;
}

nlohmann::json Check(const std::string& name, Transformer& cpu_model,
                     const at::Tensor& tokens) {
  nlohmann::json line = {{"model", name}, {"variant", cpu_model->config().VariantName()}};
  const Result reference = RunFull(cpu_model, tokens);
  line["cpu_cached_vs_full"] = MaxDiff(RunCached(cpu_model, tokens), reference.logits);
  if (!torch::cuda::is_available()) {
    line["cuda"] = "not available";
    return line;
  }
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    Transformer gpu(cpu_model->config());
    {
      torch::NoGradGuard no_grad;
      auto src = cpu_model->named_parameters();
      for (auto& item : gpu->named_parameters()) item.value().copy_(src[item.key()]);
    }
    gpu->to(at::Device(at::kCUDA, 0), dtype);
    gpu->eval();
    const std::string key = dtype == at::kFloat ? "cuda_fp32" : "cuda_bf16";
    const Result r = RunFull(gpu, tokens);
    line[key] = {{"logits_max_abs_diff", MaxDiff(r.logits, reference.logits)},
                 {"logits_max_abs", reference.logits.abs().max().item<double>()},
                 {"attention_max_abs_diff", MaxAttentionDiff(r, reference)},
                 {"argmax_agreement",
                  (r.logits.argmax(-1) == reference.logits.argmax(-1))
                      .to(at::kFloat).mean().item<double>()},
                 {"cached_vs_full", MaxDiff(RunCached(gpu, tokens), r.logits)}};
  }
  return line;
}

constexpr char kText[] =
    "彼女が子供の頃に住んでいた、海の見える小さな町は、"
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"
    "何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。"
    "吾輩はここで始めて人間というものを見た。";

}  // namespace
}  // namespace tinylm

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace tinylm;
  const std::string dir = absl::GetFlag(FLAGS_checkpoints);
  const int64_t T = absl::GetFlag(FLAGS_tokens);
  torch::manual_seed(7);
  if (dir.empty()) {
    for (const std::string& variant : VariantNames()) {
      ModelConfig config = *MakeConfig("small", variant);
      Transformer model(config);
      model->eval();
      const at::Tensor tokens = at::randint(config.vocab_size, {1, T}, at::kLong);
      std::printf("%s\n", Check("random-" + variant, model, tokens).dump().c_str());
    }
    return 0;
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!std::filesystem::exists(entry.path() / "config.json")) continue;
    absl::StatusOr<LoadedCheckpoint> ckpt =
        LoadCheckpoint(entry.path().string(), at::kCPU, at::kFloat);
    if (!ckpt.ok()) {
      std::fprintf(stderr, "%s\n", std::string(ckpt.status().message()).c_str());
      return 1;
    }
    // Trained models see real text: the study's prompt, then the start of
    // a held-out novel, cut to T tokens.
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
        Tokenizer::Load(ckpt->tokenizer_path);
    if (!tokenizer.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(tokenizer.status().message()).c_str());
      return 1;
    }
    std::vector<int64_t> ids = *(*tokenizer)->Encode(kText);
    ids.resize(std::min<size_t>(ids.size(), T));
    const at::Tensor tokens =
        at::tensor(ids, at::kLong).view({1, int64_t(ids.size())});
    std::printf("%s\n", Check(entry.path().filename().string(), ckpt->model,
                              tokens).dump().c_str());
  }
  return 0;
}
