// Helpers shared by the model tests and the reference dump program: models
// with weights large enough that attention is far from uniform (the
// default initialisation, N(0, 0.02), makes every attention row nearly flat
// and would hide mask, position and layout mistakes), and tensor compares.
#ifndef TINYLM_TESTS_MODEL_TEST_UTIL_H_
#define TINYLM_TESTS_MODEL_TEST_UTIL_H_

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "absl/strings/string_view.h"
#include "models/config.h"
#include "models/model.h"

namespace tinylm {
namespace testutil {

// MakeConfig("tiny", variant); aborts the test binary on an unknown name
// (a bug in the test itself, not an input).
ModelConfig TinyConfig(absl::string_view variant);

// Draws every parameter from the global torch generator:
//   norm weights 1 + N(0, 0.2²), biases N(0, 0.2²), wte N(0, 1),
//   other weights [out, in] N(0, 1/in).
void RandomizeParameters(Transformer& model);

// A model in eval mode with RandomizeParameters applied after seeding.
Transformer MakeRandomModel(const ModelConfig& config, uint64_t seed);

// Uniform token ids in [0, vocab) as [rows, length] int64.
at::Tensor RandomTokens(int64_t rows, int64_t length, int64_t vocab);

// max |a - b| over all elements, in double; shapes must match.
double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b);

// The named parameter (e.g. "h.0.attn.qkv.weight"); aborts if absent.
at::Tensor Param(Transformer& model, const std::string& name);

}  // namespace testutil
}  // namespace tinylm

#endif  // TINYLM_TESTS_MODEL_TEST_UTIL_H_
