// Token embedding gather for the decode step: x[m] = table[token of m].
// Plain CUDA C++, no torch.
#ifndef TINYLM_KERNELS_DECODE_EMBEDDING_H_
#define TINYLM_KERNELS_DECODE_EMBEDDING_H_

#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

namespace tinylm::decode {

// Where a row's token comes from: tokens[m], or, when `feed` is set and
// feed[m] >= 0, fed_tokens[feed[m]] (the ids an earlier step chose on the
// device, so that the next step needs no host round trip).
struct EmbeddingInput {
  const int* tokens = nullptr;      // [rows]
  const int* feed = nullptr;        // [rows] or null
  const int* fed_tokens = nullptr;  // indexed by feed
  // Optional token record [history_slots, history_stride]: a row with a
  // slot and position inside it writes its token there, so that the
  // sampler's repetition penalty reads a sequence's tokens, fed ones
  // included, without the host (sampling.h, history).
  int* history = nullptr;
  int history_slots = 0, history_stride = 0;
  const int* positions = nullptr;  // [rows], with history
  const int* slots = nullptr;      // [rows], with history
};

// table [vocab, width] bf16, x [rows, width] bf16; width a multiple of 8,
// pointers 16-byte aligned. A token outside the vocabulary gives a zero row
// (its logits are then unspecified).
cudaError_t LaunchEmbedding(const __nv_bfloat16* table, int vocab, int width,
                            const EmbeddingInput& input, int rows,
                            __nv_bfloat16* x, cudaStream_t stream, bool pdl);

}  // namespace tinylm::decode

#endif  // TINYLM_KERNELS_DECODE_EMBEDDING_H_
