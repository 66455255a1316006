// Decode attention: one query token per row and head over that row's own
// cached keys 0..position (length-aware, nothing past the row's length is
// read), grouped-query (head h reads group h / (H / G)):
//   s_j = q·k_j / √hs (+ g[h, j] for score_fcn),  p = softmax(s) in fp32,
//   y = Σ_j p_j v_j.
//
// Flash-decoding within a thread-block cluster. A row's keys are cut into
// runs: one run up to KeysPerRun(hs) keys, more (equal ones, at most
// kMaxRuns) for longer rows; within a run, streams of lanes take every
// S-th key with their own running max and sum, combined in stream order,
// and the runs' results are combined in run order. That arithmetic depends
// only on the row's length and hs. How many blocks share a row (1, 2, 4 or
// 8, one cluster; block b takes runs b, b + c, ...) is a matter of speed
// alone: every choice gives the same bits, so it can follow the batch size
// while a row's result never depends on the batch. The blocks combine
// through distributed shared memory, with no global scratch. With PDL the
// blocks ask L2 for the cached keys and values while the previous kernel
// (the one that writes the newest key) still runs.
//
// Plain CUDA C++, no torch.
#ifndef TINYLM_KERNELS_DECODE_DECODE_ATTENTION_H_
#define TINYLM_KERNELS_DECODE_DECODE_ATTENTION_H_

#include <cstdint>
#include <string>

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

namespace tinylm::decode {

using bf16 = __nv_bfloat16;

constexpr int kMaxHeadSize = 1024;

struct AttentionArgs {
  int rows = 0;  // M
  int heads = 0, groups = 0, head_size = 0;
  const bf16* q = nullptr;        // [M, H·hs]
  const bf16* score = nullptr;    // [M, H·score_stride], score_fcn only
  int score_stride = 0;           // block_size
  const bf16* k_cache = nullptr;  // [num_slots, max_len, G, hs]
  const bf16* v_cache = nullptr;  // [num_slots, max_len, G, hs]
  int num_slots = 0, max_len = 0;
  const int* positions = nullptr;  // [M] the query's position
  const int* slots = nullptr;      // [M]
  bf16* y = nullptr;               // [M, H·hs]
  // Optional attention maps [M, H, probs_stride] fp32: the weights used,
  // 0 past each row's position. probs_stride >= the longest row.
  float* probs = nullptr;
  int64_t probs_stride = 0;
  // Blocks per (row, head), one thread-block cluster: 1, 2, 4 or 8, or 0
  // for AttentionBlocksPerRow's choice. The same bits for every value.
  int blocks_per_row = 0;
};

// Runs a row's keys are cut into at most, and blocks per row at most.
constexpr int kMaxRuns = 8;
constexpr int kMaxBlocksPerRow = 8;
// The longest cache the kernel is checked for.
constexpr int kMaxAttentionLength = 65536;

// A row of up to this many keys is one run; rows of up to k times as many
// are k runs (k <= kMaxRuns), longer rows kMaxRuns equal runs.
int KeysPerRun(int head_size);
// The blocks per row a launch uses: args.blocks_per_row when set, else the
// most (up to 8) that keep rows · heads · blocks within one block a
// multiprocessor, at least 2 while rows · heads alone is, else 1 (the
// fastest at 1..128 rows of one head on an H200: docs/benchmarks.md).
int AttentionBlocksPerRow(const AttentionArgs& args);

// Empty when `args` can run, else what is wrong.
std::string ValidateAttention(const AttentionArgs& args);

// `positions` and `slots` are read before the previous kernel has
// finished (with `pdl`): they must have been written two kernels back or
// earlier, as the step's uploaded inputs are.
cudaError_t LaunchDecodeAttention(const AttentionArgs& args,
                                  cudaStream_t stream, bool pdl);

}  // namespace tinylm::decode

#endif  // TINYLM_KERNELS_DECODE_DECODE_ATTENTION_H_
