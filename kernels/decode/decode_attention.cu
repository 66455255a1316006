// Decode attention (decode_attention.h). c = gridDim.x blocks of 256
// threads per (head, row), one cluster. A row of `length` keys is cut into
// runs = min(kMaxRuns, ceil(length / KeysPerRun)) equal runs; block b owns
// runs b, b + c, ... and streams their keys through shared memory as one
// sequence of tiles of KeysPerTile(hs, L) keys, two tiles in flight:
//   1. before waiting for the previous kernel, the block issues the
//      asynchronous copies of its first two tiles of keys and values (all
//      cached earlier but the newest, which the previous kernel writes and
//      which is copied again once it has finished);
//   2. per tile: scores s_j = q·k_j / √hs (+ g[h, j]) from shared memory
//      (lanes per key = hs/8 rounded up to a power of two, at most a warp,
//      then a butterfly), the run's running max m and sum l (each warp
//      reduces the tile's scores alike, so no barrier), and
//      y_r += Σ_j e^(s_j - m) v_j with threads owning 8-wide segments of hs;
//      at a run's end its y_r, m_r and l_r go to shared memory;
//   3. the cluster combines through distributed shared memory: every block
//      reads all (m_r, l_r), so c_r = exp(m_r - M) / Σ exp(m_r' - M) l_r',
//      and block b writes its share of hs of y = Σ_r c_r y_r, summed in run
//      order; maps are exp(s_j - M) / L.
// A run's arithmetic and the combine do not depend on c, so neither does
// the result; no global scratch, no atomics.
#include "kernels/decode/decode_attention.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <cooperative_groups.h>

#include "kernels/decode/device_util.cuh"
#include "kernels/decode/launch.cuh"

namespace tinylm::decode {
namespace {

namespace cg = cooperative_groups;

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kStages = 2;
// Keys and values of one tile: 24 KB keeps three blocks on a
// multiprocessor (with the registers) where a block owns one run.
constexpr int kStageBytes = 24 * 1024;
constexpr int kMaxKeysPerTile = 64;
// A run is one tile of keys: the most runs, so the most blocks a short row
// can spread over at small batches (docs/benchmarks.md, run G).
constexpr int kTilesPerRun = 1;
// Dynamic shared memory a launch may use (the attribute is raised once).
constexpr int kMaxDynamicBytes = 160 * 1024;

__host__ __device__ int CeilDiv(int a, int b) { return (a + b - 1) / b; }

// The longest run of a cache of `max_len` positions.
int MaxRunKeys(int head_size, int max_len) {
  return std::max(KeysPerRun(head_size, max_len), CeilDiv(max_len, kMaxRuns));
}

// Shared memory of a block that owns up to ceil(kMaxRuns / c) runs: two
// tiles, then per run its scores, y_r and (m_r, l_r).
struct SharedLayout {
  int stage_bytes, scores_floats, runs_per_block, total_bytes;
};
SharedLayout LayoutFor(int head_size, int max_len, int blocks_per_row) {
  SharedLayout s;
  s.stage_bytes = kStages * 2 * KeysPerTile(head_size, max_len) * head_size *
                  int(sizeof(bf16));
  s.runs_per_block = CeilDiv(kMaxRuns, blocks_per_row);
  // Scores rounded up to 16 bytes, so that y_r stays aligned.
  s.scores_floats = CeilDiv(MaxRunKeys(head_size, max_len), 4) * 4;
  s.total_bytes = s.stage_bytes + s.runs_per_block *
                                      (s.scores_floats + head_size + 2) *
                                      int(sizeof(float));
  return s;
}

__device__ __forceinline__ float Dot8(uint4 k, const float (&q)[8], float s) {
  const uint32_t w[4] = {k.x, k.y, k.z, k.w};
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    s = fmaf(q[2 * e], LowBf16(w[e]), s);
    s = fmaf(q[2 * e + 1], HighBf16(w[e]), s);
  }
  return s;
}

__device__ __forceinline__ void Axpy8(float e, uint4 v, float (&acc)[8]) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    acc[2 * i] = fmaf(e, LowBf16(w[i]), acc[2 * i]);
    acc[2 * i + 1] = fmaf(e, HighBf16(w[i]), acc[2 * i + 1]);
  }
}

// A warp's max and sum of its lanes' values by butterfly: every lane (and
// every warp given the same values) ends with the same bits.
__device__ __forceinline__ float WarpMax(float v) {
  for (int off = 16; off > 0; off /= 2) {
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  }
  return v;
}
__device__ __forceinline__ float WarpSum(float v) {
  for (int off = 16; off > 0; off /= 2) {
    v += __shfl_xor_sync(0xffffffffu, v, off);
  }
  return v;
}

// One tile in shared memory: keys then values, [keys_per_tile, hs] each.
struct Tile {
  bf16* keys;
  bf16* values;
};

// The runs of one row: run r holds keys [r · per_run, ...) up to `length`.
struct RowRuns {
  int length, runs, per_run;
  __device__ int start(int r) const { return r * per_run; }
  __device__ int keys(int r) const {
    return min(length, start(r) + per_run) - start(r);
  }
};

// Blocks a multiprocessor must hold: three where a lane holds several
// segments of q (80 registers); two for small heads, which at 80 registers
// would spill (AttentionBlocksPerRow keeps a launch of one head within two
// blocks a multiprocessor).
template <int SEG>
constexpr int MinAttentionBlocks() {
  return SEG == 1 ? 2 : 3;
}

template <int SEG>  // 8-wide segments of hs per lane in the scores
__global__ void __launch_bounds__(kThreads, MinAttentionBlocks<SEG>())
    DecodeAttentionKernel(const AttentionArgs a, int keys_per_tile,
                          int keys_per_run, int scores_per_run) {
  __shared__ float group_sums[kThreads * 8];  // key groups' partial y
  extern __shared__ __align__(16) unsigned char dynamic[];

  const cg::cluster_group cluster = cg::this_cluster();
  const int c = gridDim.x;  // blocks per row: one cluster, a power of 2
  const int c_shift = __ffs(c) - 1;
  const int rank = static_cast<int>(cluster.block_rank());
  const int m = blockIdx.z, h = blockIdx.y;
  const int H = a.heads, hs = a.head_size, segs = hs / 8;
  const int runs_per_block = CeilDiv(kMaxRuns, c);
  const int tile_elems = keys_per_tile * hs;
  bf16* stage_base = reinterpret_cast<bf16*>(dynamic);
  // Per local run lr (global run rank + c·lr): scores, y_r, (m_r, l_r).
  float* scores =
      reinterpret_cast<float*>(stage_base + kStages * 2 * tile_elems);
  float* partial = scores + runs_per_block * scores_per_run;
  float* stats = partial + runs_per_block * hs;

  // The step's inputs: uploaded before its first kernel, which has finished
  // by the time any later kernel may start (PDL waits one kernel back).
  const int pos = a.positions[m], slot = a.slots[m];
  bf16* y = a.y + (int64_t(m) * H + h) * hs;
  float* probs = a.probs != nullptr
                     ? a.probs + (int64_t(m) * H + h) * a.probs_stride
                     : nullptr;
  const int segs_per_block = CeilDiv(segs, c);
  const int first_seg = rank * segs_per_block;
  if (pos < 0 || pos >= a.max_len || slot < 0 || slot >= a.num_slots) {
    WaitForPriorGrids();  // an invalid row: zeros, nothing read
    AllowDependentLaunch();
    const int s = first_seg + int(threadIdx.x);
    if (threadIdx.x < segs_per_block && s < segs) {
      *reinterpret_cast<uint4*>(y + s * 8) = make_uint4(0, 0, 0, 0);
    }
    for (int64_t j = rank * kThreads + threadIdx.x;
         probs != nullptr && j < a.probs_stride; j += c * kThreads) {
      probs[j] = 0.0f;
    }
    return;  // the whole cluster: the condition is the row's
  }
  RowRuns row;
  row.length = pos + 1;
  row.runs = min(kMaxRuns, CeilDiv(row.length, keys_per_run));
  row.per_run = CeilDiv(row.length, row.runs);
  const int my_runs = rank < row.runs ? CeilDiv(row.runs - rank, c) : 0;
  auto run_of = [&](int lr) { return rank + c * lr; };
  // Every run but the row's last has full_tiles tiles; the last run is the
  // block's last if it is the block's at all.
  const int full_tiles = CeilDiv(row.per_run, keys_per_tile);
  const int total_tiles =
      my_runs == 0 ? 0
                   : (my_runs - 1) * full_tiles +
                         CeilDiv(row.keys(run_of(my_runs - 1)), keys_per_tile);

  const int group = h / (H / a.groups);
  const int64_t key_stride = int64_t(a.groups) * hs;
  const int64_t first = int64_t(slot) * a.max_len * key_stride +
                        int64_t(group) * hs;  // key 0 of this group
  const bf16* keys = a.k_cache + first;
  const bf16* values = a.v_cache + first;
  auto tile_at = [&](int t) {
    bf16* base = stage_base + (t % kStages) * 2 * tile_elems;
    return Tile{base, base + tile_elems};
  };
  // The first key of the block's flat tile t and how many it holds.
  auto locate = [&](int t, int& k0, int& count) {
    const int lr = t / full_tiles;
    const int run = run_of(lr);
    k0 = row.start(run) + (t - lr * full_tiles) * keys_per_tile;
    count = min(keys_per_tile, row.start(run) + row.keys(run) - k0);
  };
  auto issue = [&](int t) {  // tile t's keys and values, 16 bytes a copy
    const Tile tile = tile_at(t);
    int k0, count;
    locate(t, k0, count);
    for (int e = threadIdx.x; e < count * segs; e += kThreads) {
      const int jj = e / segs, s = e % segs;
      const int64_t at = (k0 + jj) * key_stride + s * 8;
      CopyAsync16(tile.keys + jj * hs + s * 8, keys + at);
      CopyAsync16(tile.values + jj * hs + s * 8, values + at);
    }
    CommitCopies();
  };
  for (int t = 0; t < min(total_tiles, kStages); ++t) issue(t);

  WaitForPriorGrids();
  AllowDependentLaunch();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  // The score_fcn term, or zero, as each key's starting score.
  const bf16* extra = a.score != nullptr
                          ? a.score + (int64_t(m) * H + h) * a.score_stride
                          : nullptr;
  for (int lr = 0; lr < my_runs; ++lr) {
    const int run = run_of(lr);
    for (int jj = threadIdx.x; jj < row.keys(run); jj += kThreads) {
      scores[lr * scores_per_run + jj] =
          extra != nullptr ? __bfloat162float(extra[row.start(run) + jj])
                           : 0.0f;
    }
  }
  int lanes_per_key = 1;
  while (lanes_per_key < segs && lanes_per_key < 32) lanes_per_key *= 2;
  const int keys_per_pass = 32 / lanes_per_key;
  const int sub = lane / lanes_per_key, sl = lane % lanes_per_key;
  float q[SEG][8];
#pragma unroll
  for (int u = 0; u < SEG; ++u) {
    const int s = sl + lanes_per_key * u;
    const uint4 v =
        s < segs ? LoadActivation16(a.q + (int64_t(m) * H + h) * hs + s * 8)
                 : make_uint4(0, 0, 0, 0);
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      q[u][2 * e] = LowBf16(w[e]);
      q[u][2 * e + 1] = HighBf16(w[e]);
    }
  }
  const float scale = sqrtf(float(hs));
  const int key_groups = max(1, kThreads / segs);
  const int seg = threadIdx.x % segs, kg = threadIdx.x / segs;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  float run_max = -INFINITY, run_sum = 0.0f;

  int lr = 0, ti = 0;  // the local run and its tile of flat tile t
  for (int t = 0; t < total_tiles; ++t) {
    const int run = run_of(lr);
    const int j0 = row.start(run), n = row.keys(run);
    if (ti == 0) {
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[e] = 0.0f;
      run_max = -INFINITY;
      run_sum = 0.0f;
    }
    WaitCopies(t + 1 < total_tiles ? 1 : 0);
    __syncthreads();
    const Tile tile = tile_at(t);
    const int k0 = ti * keys_per_tile;  // within the run
    const int nt = min(keys_per_tile, n - k0);
    float* run_scores = scores + lr * scores_per_run + k0;
    const int newest = pos - j0 - k0;  // written by the previous kernel
    if (newest >= 0 && newest < nt) {
      for (int s = threadIdx.x; s < segs; s += kThreads) {
        const int64_t at = int64_t(pos) * key_stride + s * 8;
        *reinterpret_cast<uint4*>(tile.keys + newest * hs + s * 8) =
            __ldcg(reinterpret_cast<const uint4*>(keys + at));
        *reinterpret_cast<uint4*>(tile.values + newest * hs + s * 8) =
            __ldcg(reinterpret_cast<const uint4*>(values + at));
      }
      __syncthreads();
    }

    // Scores of the tile.
    for (int base = warp * keys_per_pass; base < nt;
         base += kWarps * keys_per_pass) {
      const int jj = base + sub;
      float dot = 0.0f;
#pragma unroll
      for (int u = 0; u < SEG; ++u) {
        const int s = sl + lanes_per_key * u;
        if (jj < nt && s < segs) {
          dot =
              Dot8(*reinterpret_cast<const uint4*>(tile.keys + jj * hs + s * 8),
                   q[u], dot);
        }
      }
      for (int off = lanes_per_key / 2; off > 0; off /= 2) {
        dot += __shfl_xor_sync(0xffffffffu, dot, off);
      }
      if (jj < nt && sl == 0) run_scores[jj] = dot / scale + run_scores[jj];
    }
    __syncthreads();

    // The run's max and sum; weights e_j relative to the new max.
    float local_max = -INFINITY;
    for (int jj = lane; jj < nt; jj += 32) {
      local_max = fmaxf(local_max, run_scores[jj]);
    }
    const float new_max = fmaxf(run_max, WarpMax(local_max));
    const float rescale = expf(run_max - new_max);  // 0 on a run's first tile
    float local_sum = 0.0f;
    for (int jj = lane; jj < nt; jj += 32) {
      local_sum += expf(run_scores[jj] - new_max);
    }
    run_sum = run_sum * rescale + WarpSum(local_sum);
    run_max = new_max;

    // y_r: segment seg of hs over keys kg, kg + key_groups, ...
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[e] *= rescale;
    if (kg < key_groups) {
      for (int jj = kg; jj < nt; jj += key_groups) {
        const float e = expf(run_scores[jj] - new_max);
        Axpy8(e,
              *reinterpret_cast<const uint4*>(tile.values + jj * hs + seg * 8),
              acc);
      }
    }
    const bool run_done = k0 + nt == n;
    if (run_done) {  // key groups summed in group order into y_r
      if (kg > 0 && kg < key_groups) {
        for (int e = 0; e < 8; ++e)
          group_sums[(kg - 1) * hs + seg * 8 + e] = acc[e];
      }
      __syncthreads();
      if (kg == 0) {
        for (int g = 1; g < key_groups; ++g) {
          for (int e = 0; e < 8; ++e)
            acc[e] += group_sums[(g - 1) * hs + seg * 8 + e];
        }
        for (int e = 0; e < 8; ++e) partial[lr * hs + seg * 8 + e] = acc[e];
      }
      if (threadIdx.x == 0) {
        stats[2 * lr] = run_max;
        stats[2 * lr + 1] = run_sum;
      }
    }
    __syncthreads();  // the tile's buffer (and the group sums) are free
    if (t + kStages < total_tiles) issue(t + kStages);
    if (run_done) {
      ++lr;
      ti = 0;
    } else {
      ++ti;
    }
  }
  cluster.sync();  // every run's y_r, m_r and l_r visible to the cluster

  // Run r's shared memory: block r mod c, local run r / c.
  auto stats_of = [&](int r) {
    return cluster.map_shared_rank(stats, r & (c - 1)) + 2 * (r >> c_shift);
  };
  // c_r = exp(m_r - M) / total, the same in every block.
  float total_max = -INFINITY;
  for (int r = 0; r < row.runs; ++r)
    total_max = fmaxf(total_max, stats_of(r)[0]);
  float total = 0.0f;
  for (int r = 0; r < row.runs; ++r) {
    const float* st = stats_of(r);
    total += expf(st[0] - total_max) * st[1];
  }
  const int s = first_seg + int(threadIdx.x);
  if (threadIdx.x < segs_per_block && s < segs) {
    float out[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int r = 0; r < row.runs; ++r) {
      const float cr = expf(stats_of(r)[0] - total_max) / total;
      const float4* p = reinterpret_cast<const float4*>(
          cluster.map_shared_rank(partial, r & (c - 1)) + (r >> c_shift) * hs +
          s * 8);
      const float4 lo = p[0], hi = p[1];
      out[0] = fmaf(cr, lo.x, out[0]);
      out[1] = fmaf(cr, lo.y, out[1]);
      out[2] = fmaf(cr, lo.z, out[2]);
      out[3] = fmaf(cr, lo.w, out[3]);
      out[4] = fmaf(cr, hi.x, out[4]);
      out[5] = fmaf(cr, hi.y, out[5]);
      out[6] = fmaf(cr, hi.z, out[6]);
      out[7] = fmaf(cr, hi.w, out[7]);
    }
    *reinterpret_cast<uint4*>(y + s * 8) =
        make_uint4(PackBf16(out[0], out[1]), PackBf16(out[2], out[3]),
                   PackBf16(out[4], out[5]), PackBf16(out[6], out[7]));
  }
  if (probs != nullptr) {
    for (int r = 0; r < my_runs; ++r) {
      const int run = run_of(r);
      for (int jj = threadIdx.x; jj < row.keys(run); jj += kThreads) {
        probs[row.start(run) + jj] =
            expf(scores[r * scores_per_run + jj] - total_max) / total;
      }
    }
    for (int64_t j = row.length + rank * kThreads + threadIdx.x;
         j < a.probs_stride; j += c * kThreads) {
      probs[j] = 0.0f;
    }
  }
  cluster.sync();  // no block leaves while another reads its shared memory
}

}  // namespace

int KeysPerTile(int head_size, int max_len) {
  const int fit = kStageBytes / (2 * head_size * int(sizeof(bf16)));
  return std::max(1,
                  std::min({fit, kMaxKeysPerTile, CeilDiv(max_len, kMaxRuns)}));
}

int KeysPerRun(int head_size, int max_len) {
  return kTilesPerRun * KeysPerTile(head_size, max_len);
}

int AttentionBlocksPerRow(const AttentionArgs& a) {
  if (a.blocks_per_row > 0) return a.blocks_per_row;
  const int work = std::max(1, a.rows * a.heads);
  int c = kMaxBlocksPerRow;
  while (c > 1 && work * c > 2 * MultiprocessorCount()) c /= 2;
  while (c < kMaxBlocksPerRow &&
         LayoutFor(a.head_size, a.max_len, c).total_bytes > kMaxDynamicBytes) {
    c *= 2;
  }
  return c;
}

std::string ValidateAttention(const AttentionArgs& a) {
  if (a.rows < 1 || a.heads < 1 || a.groups < 1 || a.heads % a.groups != 0) {
    return "rows and heads must be positive, heads a multiple of groups";
  }
  if (a.head_size < 8 || a.head_size > kMaxHeadSize || a.head_size % 8 != 0) {
    return "head_size must be a multiple of 8 in 8..1024";
  }
  if (a.q == nullptr || a.k_cache == nullptr || a.v_cache == nullptr ||
      a.y == nullptr || a.positions == nullptr || a.slots == nullptr) {
    return "q, caches, y, positions and slots must be set";
  }
  auto aligned = [](const void* p) {
    return reinterpret_cast<uintptr_t>(p) % 16 == 0;
  };
  if (!aligned(a.q) || !aligned(a.k_cache) || !aligned(a.v_cache) ||
      !aligned(a.y)) {
    return "q, caches and y must be 16-byte aligned";
  }
  if (a.num_slots < 1 || a.max_len < 1) return "empty cache";
  if (a.max_len > kMaxAttentionLength) {
    return "max_len must be at most " + std::to_string(kMaxAttentionLength);
  }
  if (a.score != nullptr && a.score_stride < a.max_len) {
    return "score_stride must cover max_len";
  }
  if (a.probs != nullptr && a.probs_stride < a.max_len) {
    return "probs_stride must cover max_len";
  }
  const int c = a.blocks_per_row;
  if (c != 0 && c != 1 && c != 2 && c != 4 && c != 8) {
    return "blocks_per_row must be 0, 1, 2, 4 or 8";
  }
  if (LayoutFor(a.head_size, a.max_len, AttentionBlocksPerRow(a)).total_bytes >
      kMaxDynamicBytes) {
    return "blocks_per_row too small for max_len: a block's scores would "
           "not fit in shared memory";
  }
  return "";
}

cudaError_t LaunchDecodeAttention(const AttentionArgs& args,
                                  cudaStream_t stream, bool pdl) {
  if (!ValidateAttention(args).empty()) return cudaErrorInvalidValue;
  const int segs_per_lane = (args.head_size / 8 + 31) / 32;
  auto kernel = segs_per_lane <= 1   ? DecodeAttentionKernel<1>
                : segs_per_lane <= 2 ? DecodeAttentionKernel<2>
                                     : DecodeAttentionKernel<4>;
  // Once per instantiation: allow more than the default 48 KB.
  static const cudaError_t raised[3] = {
      cudaFuncSetAttribute(DecodeAttentionKernel<1>,
                           cudaFuncAttributeMaxDynamicSharedMemorySize,
                           kMaxDynamicBytes),
      cudaFuncSetAttribute(DecodeAttentionKernel<2>,
                           cudaFuncAttributeMaxDynamicSharedMemorySize,
                           kMaxDynamicBytes),
      cudaFuncSetAttribute(DecodeAttentionKernel<4>,
                           cudaFuncAttributeMaxDynamicSharedMemorySize,
                           kMaxDynamicBytes)};
  for (cudaError_t e : raised) {
    if (e != cudaSuccess) return e;
  }
  const int c = AttentionBlocksPerRow(args);
  const SharedLayout layout = LayoutFor(args.head_size, args.max_len, c);
  const dim3 grid(c, args.heads, args.rows);
  return LaunchClusterKernel(
      kernel, grid, dim3(kThreads), c, layout.total_bytes, stream, pdl, args,
      KeysPerTile(args.head_size, args.max_len),
      KeysPerRun(args.head_size, args.max_len), layout.scores_floats);
}

}  // namespace tinylm::decode
