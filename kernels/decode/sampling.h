// Device-side token choice for M rows of fp32 logits, so that a captured
// decode step can end with the next tokens instead of the logits. Separate
// from DecodeStep and optional.
//
// Per row, as models/sampler.h orders the transforms:
//   1. repetition penalty on the raw logits over the row's history (CTRL
//      rule: positive logits divided by the penalty, negative multiplied),
//      each distinct token once;
//   2. temperature 0: the argmax of the penalized logits (the first index
//      among equal values, as LibTorch's argmax); temperature t > 0: a
//      draw from softmax(penalized / t) by the inverse CDF over token ids
//      in index order with the row's uniform (no top-k, top-p or min-p:
//      rows that ask for those stay with models/sampler.cc);
//   3. the chosen token's log-probability under the raw logits.
// Plain CUDA C++, no torch.
#ifndef TINYLM_KERNELS_DECODE_SAMPLING_H_
#define TINYLM_KERNELS_DECODE_SAMPLING_H_

#include <cstdint>
#include <string>

#include <cuda_runtime_api.h>

namespace tinylm::decode {

constexpr int kMaxSamplingVocab = 32768;

struct SamplingArgs {
  int rows = 0, vocab = 0;        // M, V
  const float* logits = nullptr;  // [M, logits_stride]
  int64_t logits_stride = 0;
  const float* temperature = nullptr;   // [M], >= 0; null: all greedy
  const float* penalty = nullptr;       // [M], > 0; null: none
  const int* history = nullptr;         // [M, history_stride] token ids
  const int* history_length = nullptr;  // [M]
  int history_stride = 0;
  const float* uniform = nullptr;  // [M] in [0, 1) (temperature > 0)
  int* token = nullptr;            // [M] out
  float* logprob = nullptr;        // [M] out
};

// Empty when `args` can run, else what is wrong.
std::string ValidateSampling(const SamplingArgs& args);

cudaError_t LaunchSampling(const SamplingArgs& args, cudaStream_t stream,
                           bool pdl);

}  // namespace tinylm::decode

#endif  // TINYLM_KERNELS_DECODE_SAMPLING_H_
