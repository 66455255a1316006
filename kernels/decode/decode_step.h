// DecodeStep: one whole decode step of the LLaMA-style model (models/) for
// M rows, each one new token of its own sequence in its own KV-cache slot,
// enqueued on a CUDA stream with no host synchronization and no
// allocation, so that it can be captured once in a CUDA graph and replayed
// with new inputs:
//   x = wte[tokens]
//   per layer: attention input GEMM (RMSNorm prologue; q|k|v|score, bias,
//              GELU, RoPE, k and v written into the cache) -> attention ->
//              proj GEMM + residual -> fc GEMM (RMSNorm prologue, SwiGLU) ->
//              proj GEMM + residual
//   logits = lm_head(RMSNorm(x)) in fp32
// Five kernels per layer, two more per step. A row's logits do not depend
// on the other rows (skinny_gemm.h, decode_attention.h).
//
// Plain C++ over the kernels' launchers; no torch. The weights (packed as
// the kernels need them) and the cache belong to the caller; so does the
// workspace, which holds the activations of up to `max_rows` rows.
#ifndef TINYLM_KERNELS_DECODE_DECODE_STEP_H_
#define TINYLM_KERNELS_DECODE_DECODE_STEP_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include "kernels/decode/skinny_gemm.h"

namespace tinylm::decode {

using bf16 = __nv_bfloat16;

struct DecodeDims {
  int n_embd = 0;  // C
  int n_layer = 0;
  int n_head = 0;          // H
  int n_query_groups = 0;  // G
  int head_size = 0;       // hs
  int intermediate = 0;    // I (SwiGLU width)
  int vocab = 0;           // V
  int block_size = 0;      // RoPE table rows, score_fcn width
  float norm_eps = 1e-5f;
  bool qkv_activation = false;  // GELU on q, k and v
  bool score_fcn = false;       // learned additive score term
  int num_slots = 0;            // KV cache slots
  int max_len = 0;              // KV cache positions per slot

  // Columns of the fused attention-input weight: q | k | v | score.
  int attention_width() const {
    return (n_head + 2 * n_query_groups) * head_size +
           (score_fcn ? n_head * block_size : 0);
  }
};

struct DecodeLayerWeights {
  const bf16* norm_1 = nullptr;          // [C]
  const bf16* attention = nullptr;       // [attention_width, C], packed as
                                         // AttentionInputTarget describes
  const bf16* attention_bias = nullptr;  // [attention_width] or null
  const bf16* proj = nullptr;            // [C, H·hs]
  const bf16* norm_2 = nullptr;          // [C]
  const bf16* fc = nullptr;              // [2I, C]: fc_1 row j at 2j,
                                         // fc_2 row j at 2j + 1
  const bf16* mlp_proj = nullptr;        // [C, I]
  bf16* k_cache = nullptr;               // [num_slots, max_len, G, hs]
  bf16* v_cache = nullptr;               // [num_slots, max_len, G, hs]
};

struct DecodeWeights {
  const bf16* wte = nullptr;               // [V, C]
  std::vector<DecodeLayerWeights> layers;  // n_layer
  const bf16* ln_f = nullptr;              // [C]
  const bf16* lm_head = nullptr;           // [V, C]
  const float* rope_cos = nullptr;         // [block_size, hs] (models/rope.h)
  const float* rope_sin = nullptr;         // [block_size, hs]
};

// One step's inputs and outputs, all device memory.
struct DecodeIo {
  int rows = 0;                    // M <= max_rows
  const int* tokens = nullptr;     // [M] the token fed to each row, unless
  const int* feed = nullptr;       // [M] (optional) says fed_tokens[feed[m]]
  const int* fed_tokens = nullptr;  //     where feed[m] >= 0 (embedding.h)
  const int* positions = nullptr;  // [M] its position (< max_len)
  const int* slots = nullptr;      // [M] its cache slot, all distinct
                                   // unless `prompt`
  float* logits = nullptr;         // [M, V]
  // Optional token record [history_slots, history_stride] int32: each row
  // writes its token at (slot, position) (embedding.h).
  int* token_history = nullptr;
  int history_slots = 0, history_stride = 0;
  // Rows may be positions of one prompt in one slot (each (slot, position)
  // once): a row then attends to keys that other rows of this step write,
  // so attention waits for the kernel before it (no PDL for it). The
  // arithmetic per row is a decode row's: prefilling a prompt this way
  // leaves the cache and logits that decoding it token by token would.
  bool prompt = false;
  // Optional attention maps: n_layer pointers, each [M, H, map_stride]
  // fp32 (decode_attention.h); null for none.
  float* const* maps = nullptr;
  int64_t map_stride = 0;
  // Every product's GemmArgs::tiling: the launcher's choice unless the
  // benchmark measures others. Results are the same.
  GemmTiling gemm_tiling{0, 0};
};

// The kernels of a step, for the benchmark's breakdown.
enum class DecodeStage {
  kEmbedding,
  kAttentionInput,  // per layer
  kAttention,       // per layer
  kAttentionProj,   // per layer
  kMlpInput,        // per layer
  kMlpProj,         // per layer
  kHead,
};

class DecodeStep {
 public:
  DecodeStep(const DecodeDims& dims, int max_rows);

  const DecodeDims& dims() const { return dims_; }
  int max_rows() const { return max_rows_; }

  // Device memory the caller provides for the activations, 256-byte
  // aligned.
  size_t workspace_bytes() const;

  // Empty when the dimensions and weights (or a step's inputs) can run;
  // else what is wrong. Enqueue checks both and returns
  // cudaErrorInvalidValue.
  std::string Validate(const DecodeWeights& weights) const;
  std::string ValidateIo(const DecodeIo& io) const;

  // Enqueues the whole step on `stream`. `pdl`: kernels launched with
  // programmatic dependent launch (their weight loads overlap the previous
  // kernel). The first launch error is returned.
  cudaError_t Enqueue(const DecodeWeights& weights, const DecodeIo& io,
                      void* workspace, cudaStream_t stream, bool pdl) const;

  // One stage of layer `layer` (ignored for kEmbedding and kHead) alone.
  cudaError_t EnqueueStage(DecodeStage stage, int layer,
                           const DecodeWeights& weights, const DecodeIo& io,
                           void* workspace, cudaStream_t stream,
                           bool pdl) const;

 private:
  struct Buffers;  // the workspace's parts
  Buffers Carve(void* workspace) const;

  DecodeDims dims_;
  int max_rows_;
};

}  // namespace tinylm::decode

#endif  // TINYLM_KERNELS_DECODE_DECODE_STEP_H_
