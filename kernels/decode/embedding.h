// Token embedding gather for the decode step: x[m] = table[tokens[m]].
// Plain CUDA C++, no torch.
#ifndef TINYLM_KERNELS_DECODE_EMBEDDING_H_
#define TINYLM_KERNELS_DECODE_EMBEDDING_H_

#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

namespace tinylm::decode {

// table [vocab, width] bf16, tokens [rows] int32, x [rows, width] bf16;
// width a multiple of 8, pointers 16-byte aligned. A token outside the
// vocabulary gives a zero row (its logits are then unspecified).
cudaError_t LaunchEmbedding(const __nv_bfloat16* table, int vocab, int width,
                            const int* tokens, int rows, __nv_bfloat16* x,
                            cudaStream_t stream, bool pdl);

}  // namespace tinylm::decode

#endif  // TINYLM_KERNELS_DECODE_EMBEDDING_H_
