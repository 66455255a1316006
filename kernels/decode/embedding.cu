#include "kernels/decode/embedding.h"

#include "kernels/decode/device_util.cuh"
#include "kernels/decode/launch.cuh"

namespace tinylm::decode {
namespace {

// One block per row, 16 bytes per thread and step.
__global__ void EmbeddingKernel(const bf16* table, int vocab, int width,
                                const EmbeddingInput input, bf16* x) {
  WaitForPriorGrids();  // x may still be read by the previous step
  AllowDependentLaunch();
  const int m = blockIdx.x;
  const int from = input.feed != nullptr ? input.feed[m] : -1;
  const int token = from >= 0 ? input.fed_tokens[from] : input.tokens[m];
  uint4* out = reinterpret_cast<uint4*>(x + int64_t(m) * width);
  const uint4* row =
      reinterpret_cast<const uint4*>(table + int64_t(token) * width);
  const bool valid = token >= 0 && token < vocab;
  if (input.history != nullptr && threadIdx.x == 0) {
    const int position = input.positions[m], slot = input.slots[m];
    if (position >= 0 && position < input.history_stride && slot >= 0 &&
        slot < input.history_slots) {
      input.history[int64_t(slot) * input.history_stride + position] = token;
    }
  }
  for (int i = threadIdx.x; i < width / 8; i += blockDim.x) {
    out[i] = valid ? row[i] : make_uint4(0, 0, 0, 0);
  }
}

}  // namespace

cudaError_t LaunchEmbedding(const bf16* table, int vocab, int width,
                            const EmbeddingInput& input, int rows, bf16* x,
                            cudaStream_t stream, bool pdl) {
  if (width % 8 != 0 || rows < 1 || input.tokens == nullptr ||
      (input.feed != nullptr && input.fed_tokens == nullptr) ||
      (input.history != nullptr &&
       (input.positions == nullptr || input.slots == nullptr)) ||
      reinterpret_cast<uintptr_t>(table) % 16 != 0 ||
      reinterpret_cast<uintptr_t>(x) % 16 != 0) {
    return cudaErrorInvalidValue;
  }
  const int threads = width / 8 < 128 ? 32 * ((width / 8 + 31) / 32) : 128;
  return LaunchKernel(EmbeddingKernel, dim3(rows), dim3(threads), 0, stream,
                      pdl, table, vocab, width, input, x);
}

}  // namespace tinylm::decode
