// Device-side token choice for M rows of fp32 logits, so that a captured
// decode step can end with the next tokens instead of the logits. Separate
// from DecodeStep and optional.
//
// Per row, by models/sampler.cc's rule, so that the same logits and
// uniform give SampleTokens' token:
//   1. repetition penalty on the raw logits over the row's history (CTRL
//      rule: positive logits divided by the penalty, negative multiplied),
//      each distinct token once;
//   2. greedy (inverse temperature 0, or top_k 1): the argmax of the
//      penalized logits, the first index among equal values (LibTorch's
//      argmax); otherwise z = penalized · inverse temperature, sorted
//      descending (stable: equal values in index order), probabilities
//      softmax(z), the kept prefix by top-k, then top-p over the top-k
//      renormalized mass (a token stays while the mass before it is below
//      top_p), then min-p (p >= min_p · p_max), and the inverse CDF over
//      the kept tokens in that order with the row's uniform;
//   3. the chosen token's log-probability under the raw logits, and the
//      row's top_n most probable tokens under them (alternatives), most
//      probable first, equal values in index order.
// Sums and scans run in a fixed order per row (no atomics), so a row's
// choice never depends on the other rows; they are not LibTorch's order,
// so a draw within float rounding of a boundary between two tokens (or a
// top-p cut within rounding of top_p) may land on the neighbour.
// Plain CUDA C++, no torch.
#ifndef TINYLM_KERNELS_DECODE_SAMPLING_H_
#define TINYLM_KERNELS_DECODE_SAMPLING_H_

#include <cstdint>
#include <string>

#include <cuda_runtime_api.h>

namespace tinylm::decode {

// Vocabulary limits: greedy rows without alternatives up to the first;
// rows that sort (sampling, alternatives) up to the second.
constexpr int kMaxSamplingVocab = 32768;
constexpr int kMaxSortingVocab = 16384;
// Most alternatives a row may ask for (the serving API's limit).
constexpr int kMaxAlternatives = 20;

struct SamplingArgs {
  int rows = 0, vocab = 0;        // M, V
  const float* logits = nullptr;  // [M, logits_stride]
  int64_t logits_stride = 0;
  // [M] 1 / temperature as a float (0: greedy); null: all rows greedy.
  // With it, uniform is required and top_k, top_p and min_p are optional
  // (null: no limit).
  const float* inverse_temperature = nullptr;
  const int* top_k = nullptr;           // [M], 0: no limit; 1: greedy
  const float* top_p = nullptr;         // [M] in (0, 1]
  const float* min_p = nullptr;         // [M] in [0, 1)
  const float* uniform = nullptr;       // [M] in [0, 1]
  const float* penalty = nullptr;       // [M], > 0; null: none
  // Token ids [rows, history_stride]: row m's penalty applies to the first
  // history_length[m] of history row history_row[m] (null: row m).
  const int* history = nullptr;
  const int* history_length = nullptr;  // [M]
  const int* history_row = nullptr;     // [M] or null
  int history_stride = 0;
  int* token = nullptr;      // [M] out
  float* logprob = nullptr;  // [M] out
  // Alternatives: top_n [M] in 0..kMaxAlternatives (null: none); row m's
  // i-th is written to alternative_ids and alternative_logprobs at
  // m · alternative_stride + i, for i < top_n[m].
  const int* top_n = nullptr;
  int* alternative_ids = nullptr;
  float* alternative_logprobs = nullptr;
  int alternative_stride = 0;
};

// Empty when `args` can run, else what is wrong. Sampling rows and
// alternatives need vocab <= kMaxSortingVocab.
std::string ValidateSampling(const SamplingArgs& args);

cudaError_t LaunchSampling(const SamplingArgs& args, cudaStream_t stream,
                           bool pdl);

}  // namespace tinylm::decode

#endif  // TINYLM_KERNELS_DECODE_SAMPLING_H_
