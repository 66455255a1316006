#include "tests/model_test_util.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <ATen/ATen.h>
#include <torch/utils.h>

namespace tinylm {
namespace testutil {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ModelConfig TinyConfig(absl::string_view variant) {
  absl::StatusOr<ModelConfig> config = MakeConfig("tiny", variant);
  if (!config.ok()) {
    std::fprintf(stderr, "TinyConfig: %s\n",
                 std::string(config.status().message()).c_str());
    std::abort();
  }
  return *config;
}

void RandomizeParameters(Transformer& model) {
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    at::Tensor& p = item.value();
    if (EndsWith(name, "norm_1.weight") || EndsWith(name, "norm_2.weight") ||
        name == "ln_f.weight") {
      p.normal_(1.0, 0.2);
    } else if (EndsWith(name, ".bias")) {
      p.normal_(0.0, 0.2);
    } else if (name == "wte.weight") {
      p.normal_(0.0, 1.0);
    } else {
      p.normal_(0.0, 1.0 / std::sqrt(double(p.size(1))));
    }
  }
}

Transformer MakeRandomModel(const ModelConfig& config, uint64_t seed) {
  torch::manual_seed(seed);
  Transformer model(config);
  RandomizeParameters(model);
  model->eval();
  return model;
}

at::Tensor RandomTokens(int64_t rows, int64_t length, int64_t vocab) {
  return at::randint(vocab, {rows, length}, at::TensorOptions(at::kLong));
}

double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes()) {
    std::fprintf(stderr, "MaxAbsDiff: shapes differ\n");
    std::abort();
  }
  if (a.numel() == 0) return 0.0;
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

at::Tensor Param(Transformer& model, const std::string& name) {
  auto params = model->named_parameters();  // handles share the storage
  at::Tensor* p = params.find(name);
  if (p == nullptr) {
    std::fprintf(stderr, "Param: no parameter %s\n", name.c_str());
    std::abort();
  }
  return *p;
}

}  // namespace testutil
}  // namespace tinylm
