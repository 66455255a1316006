// The decode step's matrix product: out = epilogue(prologue(x) · wᵀ) for
// M = 1..128 rows of activations x [M, K] (bf16) and a weight w [N, K] (bf16,
// nn.Linear layout), fp32 accumulation on the tensor cores.
//
// Batch invariance: a row's output bits depend only on that row, w and the
// epilogue inputs, never on M or on the other rows. The K dimension is cut
// into 32-wide chunks dealt to a fixed number of warps that depends on K
// alone; each warp accumulates its chunks in order and the warps' partial
// sums are added in warp order. Tile sizes along N and M change with M for
// speed, but they never change which products are added in which order.
//
// Every block streams its weight rows from memory once, into registers,
// and applies them to its share of the M rows. Weights are read before the
// kernel waits for the previous one (programmatic dependent launch),
// activations after.
//
// Plain CUDA C++, no torch.
#ifndef TINYLM_KERNELS_DECODE_SKINNY_GEMM_H_
#define TINYLM_KERNELS_DECODE_SKINNY_GEMM_H_

#include <cstdint>
#include <string>

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

namespace tinylm::decode {

using bf16 = __nv_bfloat16;

// Largest batch and reduction width one call handles.
constexpr int kMaxGemmRows = 128;
constexpr int kMaxGemmK = 2048;

enum class GemmEpilogue {
  // out [M, N] bf16 = round(acc + bias), then GELU (rounded again) when
  // `gelu`, or round(residual + acc + bias) when `residual` is set.
  kBf16,
  // out [M, N] fp32 = acc + bias (the LM head's logits).
  kFloat,
  // w interleaves two weights row by row (row 2j of A, row 2j + 1 of B):
  // out [M, N / 2] bf16, out[:, j] = silu(round(a_j)) * round(b_j), each
  // product rounded as LibTorch rounds silu(fc_1 x) * fc_2 x.
  kSwiGlu,
  // The attention input (see AttentionInputTarget): N = (H + 2G)·hs + Hs·B
  // columns of q | k | v | score; q and k rotated by RoPE, k and v written
  // into the KV cache, q and score into their buffers.
  kAttentionInput,
};

// Destinations of the kAttentionInput epilogue. Column layout of w (and
// bias): q heads [H·hs], k groups [G·hs], v groups [G·hs], score [H·B],
// where within each q head and k group the rows are reordered so that the
// RoPE pair (i, i + hs/2) sits in columns (2i, 2i + 1); v and score keep
// their order. PackRopePairs() in the torch layer builds that order.
struct AttentionInputTarget {
  int heads = 0;                    // H
  int groups = 0;                   // G
  int head_size = 0;                // hs, even
  int score_width = 0;              // H·block_size for score_fcn, else 0
  bool activation = false;          // GELU on q, k and v (not on score)
  const float* rope_cos = nullptr;  // [rope_len, hs], models/rope.h tables
  const float* rope_sin = nullptr;  // [rope_len, hs]
  int rope_len = 0;
  const int* positions = nullptr;  // [M] position of each row's token
  const int* slots = nullptr;      // [M] cache slot of each row
  bf16* q = nullptr;               // [M, H·hs] rotated queries
  bf16* score = nullptr;           // [M, H·block_size] when score_width > 0
  bf16* k_cache = nullptr;         // [num_slots, max_len, G, hs]
  bf16* v_cache = nullptr;         // [num_slots, max_len, G, hs]
  int num_slots = 0;
  int max_len = 0;
};

// How the launcher lays a product over the device: blocks of 8 ·
// tiles_per_block weight rows, the 16-row tiles of x split over row_splits
// blocks each (grid.y, in one wave of the blocks a multiprocessor holds).
// Speed only: a row's arithmetic is the same in every tiling.
struct GemmTiling {
  int tiles_per_block = 1;  // NT: 1, 2 or 4 (fewer where K needs registers)
  int row_splits = 1;
};

struct GemmArgs {
  int m = 0, n = 0, k = 0;
  const bf16* x = nullptr;  // [M, K], rows x_stride apart
  int64_t x_stride = 0;
  const bf16* w = nullptr;  // [N, K], contiguous
  // RMSNorm prologue when set: each x row is replaced by
  // round(x · rsqrt(mean(x²) + eps) · norm_weight) before the product.
  const bf16* norm_weight = nullptr;  // [K]
  float norm_eps = 1e-5f;
  const bf16* bias = nullptr;      // [N], optional
  bool gelu = false;               // kBf16 only
  const bf16* residual = nullptr;  // [M, N] (kBf16), may alias out
  int64_t residual_stride = 0;
  void* out = nullptr;  // bf16 or fp32, see GemmEpilogue (unused by
                        // kAttentionInput)
  int64_t out_stride = 0;
  GemmEpilogue epilogue = GemmEpilogue::kBf16;
  AttentionInputTarget attention;  // kAttentionInput only
  // 0 (the default): ChooseGemmTiling's. A width of 1, 2 or 4 forces the
  // tiling, to measure it (row_splits 0: as many as one wave allows).
  GemmTiling tiling{0, 0};
};

// Empty when `args` can run; else what is wrong (shapes, strides,
// alignment: x, w, out and norm_weight 16-byte aligned, K and x_stride
// multiples of 8, out_stride even except for kSwiGlu).
std::string ValidateGemm(const GemmArgs& args);

// Enqueues the product on `stream`; `pdl` launches it with programmatic
// stream serialization. cudaErrorInvalidValue when ValidateGemm fails.
cudaError_t LaunchSkinnyGemm(const GemmArgs& args, cudaStream_t stream,
                             bool pdl);

// Warps that share a row's reduction for a given K (the batch-invariant
// split): exposed for tests and the benchmark's notes.
int GemmWarpsForK(int k);

// The widest tiling (n8 tiles a block) K's registers allow: 4, 2 or 1.
int GemmMaxTilesPerBlock(int k);

// The tiling of the fewest serial row tiles per block times the load of the
// busiest multiprocessor (its warps over eight, at least 1), the narrower
// tile on a tie; with one row tile (M <= 16), a block on every
// multiprocessor first where a width gives that. Why (docs/benchmarks.md,
// 2026-12-04, run K): these kernels issue more than they wait (Nsight
// Compute), so blocks that share a multiprocessor take turns, and every
// block of a product with the RMSNorm prologue normalizes all its rows,
// which wider tiles do fewer times; but at one row tile a step streams its
// weights from memory, and fewer blocks than multiprocessors stream them
// slower (the article size's one-row step: 275 us with its products over
// 144 and 192 blocks, 297 us over 72 and 96).
GemmTiling ChooseGemmTiling(int m, int n, int k);

}  // namespace tinylm::decode

#endif  // TINYLM_KERNELS_DECODE_SKINNY_GEMM_H_
