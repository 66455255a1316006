// Decode attention (decode_attention.h). A cluster of kClusterBlocks blocks
// of 256 threads per (head, row); block r of the cluster owns the r-th of
// kClusterBlocks equal runs of the row's keys, which it streams through
// shared memory in tiles of KeysPerTile(hs, L) keys, two tiles in flight:
//   1. before waiting for the previous kernel, the block issues the
//      asynchronous copies of its first two tiles of keys and values (all
//      cached earlier but the newest, which the previous kernel writes and
//      which is copied again once it has finished);
//   2. per tile: scores s_j = q·k_j / √hs (+ g[h, j]) from shared memory
//      (lanes per key = hs/8 rounded up to a power of two, at most a warp,
//      then a butterfly), the running max m and sum l (fixed reduction
//      trees, online rescaling), and y_r += Σ_j e^(s_j - m) v_j with threads
//      owning 8-wide segments of hs;
//   3. the cluster combines through distributed shared memory: every block
//      reads all (m_r, l_r), so c_r = exp(m_r - M) / Σ exp(m_r' - M) l_r',
//      and block r writes its share of hs of y = Σ_r c_r y_r, summed in rank
//      order; maps are exp(s_j - M) / L.
// No global scratch, no atomics: the split depends only on the row's length.
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
// multiprocessor (with the registers), so that 64 rows' 512 blocks take
// under two waves; a row of many keys pays more tile barriers for it.
constexpr int kStageBytes = 24 * 1024;
constexpr int kMaxKeysPerTile = 64;
// Dynamic shared memory at most: two tiles plus the scores of a block.
constexpr int kMaxDynamicBytes =
    kStages * kStageBytes + kMaxAttentionLength / kClusterBlocks * 4;

__host__ __device__ int CeilDiv(int a, int b) { return (a + b - 1) / b; }

// Keys a block of the cluster owns for a row of `length` keys.
__host__ __device__ int KeysPerBlock(int length) {
  return CeilDiv(length, kClusterBlocks);
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

// Block-wide reductions over one value per thread, in a fixed tree.
__device__ float BlockMax(float v, float* scratch) {
  for (int off = 16; off > 0; off /= 2) {
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  }
  __syncthreads();  // scratch may still be read by an earlier reduction
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  float m = scratch[0];
  for (int w = 1; w < kWarps; ++w) m = fmaxf(m, scratch[w]);
  return m;
}
__device__ float BlockSum(float v, float* scratch) {
  for (int off = 16; off > 0; off /= 2) {
    v += __shfl_xor_sync(0xffffffffu, v, off);
  }
  __syncthreads();
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  float s = scratch[0];
  for (int w = 1; w < kWarps; ++w) s += scratch[w];
  return s;
}

// One tile in shared memory: keys then values, [keys_per_tile, hs] each.
struct Tile {
  bf16* keys;
  bf16* values;
};

template <int SEG>  // 8-wide segments of hs per lane in the scores
__global__ void __launch_bounds__(kThreads)
    DecodeAttentionKernel(const AttentionArgs a, int keys_per_tile) {
  __shared__ float group_sums[kThreads * 8];  // key groups' partial y
  __shared__ float partial[kMaxHeadSize];     // this block's y_r
  __shared__ float stats[2];                  // m_r, l_r
  __shared__ float scratch[kWarps];
  extern __shared__ __align__(16) unsigned char dynamic[];

  const cg::cluster_group cluster = cg::this_cluster();
  const int rank = static_cast<int>(cluster.block_rank());
  const int m = blockIdx.z, h = blockIdx.y;
  const int H = a.heads, hs = a.head_size, segs = hs / 8;
  // The step's inputs: uploaded before its first kernel, which has finished
  // by the time any later kernel may start (PDL waits one kernel back).
  const int pos = a.positions[m], slot = a.slots[m];
  bf16* y = a.y + (int64_t(m) * H + h) * hs;
  float* probs = a.probs != nullptr
                     ? a.probs + (int64_t(m) * H + h) * a.probs_stride
                     : nullptr;
  const int segs_per_block = CeilDiv(segs, kClusterBlocks);
  const int first_seg = rank * segs_per_block;
  if (pos < 0 || pos >= a.max_len || slot < 0 || slot >= a.num_slots) {
    WaitForPriorGrids();  // an invalid row: zeros, nothing read
    AllowDependentLaunch();
    const int s = first_seg + int(threadIdx.x);
    if (threadIdx.x < segs_per_block && s < segs) {
      *reinterpret_cast<uint4*>(y + s * 8) = make_uint4(0, 0, 0, 0);
    }
    for (int64_t j = rank * kThreads + threadIdx.x;
         probs != nullptr && j < a.probs_stride;
         j += kClusterBlocks * kThreads) {
      probs[j] = 0.0f;
    }
    return;  // the whole cluster: the condition is the row's
  }
  const int length = pos + 1;
  const int per_block = KeysPerBlock(length);
  const int j0 = min(length, rank * per_block);
  const int n = min(length, j0 + per_block) - j0;  // may be 0
  const int tiles = CeilDiv(n, keys_per_tile);
  const int group = h / (H / a.groups);
  const int64_t key_stride = int64_t(a.groups) * hs;
  const int64_t first = (int64_t(slot) * a.max_len + j0) * key_stride +
                        int64_t(group) * hs;  // key j0 of this group
  const bf16* keys = a.k_cache + first;
  const bf16* values = a.v_cache + first;

  bf16* stage_base = reinterpret_cast<bf16*>(dynamic);
  const int tile_elems = keys_per_tile * hs;
  auto tile_at = [&](int t) {
    bf16* base = stage_base + (t % kStages) * 2 * tile_elems;
    return Tile{base, base + tile_elems};
  };
  float* scores = reinterpret_cast<float*>(
      dynamic + size_t(kStages) * 2 * tile_elems * sizeof(bf16));
  auto issue = [&](int t) {  // tile t's keys and values, 16 bytes a copy
    const Tile tile = tile_at(t);
    const int k0 = t * keys_per_tile;
    const int count = min(keys_per_tile, n - k0) * segs;
    for (int c = threadIdx.x; c < count; c += kThreads) {
      const int jj = c / segs, s = c % segs;
      const int64_t at = (k0 + jj) * key_stride + s * 8;
      CopyAsync16(tile.keys + jj * hs + s * 8, keys + at);
      CopyAsync16(tile.values + jj * hs + s * 8, values + at);
    }
    CommitCopies();
  };
  for (int t = 0; t < min(tiles, kStages); ++t) issue(t);

  WaitForPriorGrids();
  AllowDependentLaunch();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  // The score_fcn term, or zero, as each key's starting score.
  const bf16* extra = a.score != nullptr
                          ? a.score + (int64_t(m) * H + h) * a.score_stride + j0
                          : nullptr;
  for (int jj = threadIdx.x; jj < n; jj += kThreads) {
    scores[jj] = extra != nullptr ? __bfloat162float(extra[jj]) : 0.0f;
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

  for (int t = 0; t < tiles; ++t) {
    WaitCopies(t + 1 < tiles ? 1 : 0);
    __syncthreads();
    const Tile tile = tile_at(t);
    const int k0 = t * keys_per_tile;
    const int nt = min(keys_per_tile, n - k0);
    const int newest = pos - j0 - k0;  // written by the previous kernel
    if (newest >= 0 && newest < nt) {
      for (int s = threadIdx.x; s < segs; s += kThreads) {
        const int64_t at = int64_t(newest) * key_stride + s * 8;
        const int64_t from = k0 * key_stride + at;
        *reinterpret_cast<uint4*>(tile.keys + newest * hs + s * 8) =
            __ldcg(reinterpret_cast<const uint4*>(keys + from));
        *reinterpret_cast<uint4*>(tile.values + newest * hs + s * 8) =
            __ldcg(reinterpret_cast<const uint4*>(values + from));
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
      if (jj < nt && sl == 0) scores[k0 + jj] = dot / scale + scores[k0 + jj];
    }
    __syncthreads();

    // Running max and sum; weights e_j relative to the new max.
    float local_max = -INFINITY;
    for (int jj = threadIdx.x; jj < nt; jj += kThreads) {
      local_max = fmaxf(local_max, scores[k0 + jj]);
    }
    const float new_max = fmaxf(run_max, BlockMax(local_max, scratch));
    const float rescale = expf(run_max - new_max);  // 0 on the first tile
    float local_sum = 0.0f;
    for (int jj = threadIdx.x; jj < nt; jj += kThreads) {
      local_sum += expf(scores[k0 + jj] - new_max);
    }
    run_sum = run_sum * rescale + BlockSum(local_sum, scratch);
    run_max = new_max;

    // y_r: segment seg of hs over keys kg, kg + key_groups, ...
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[e] *= rescale;
    if (kg < key_groups) {
      for (int jj = kg; jj < nt; jj += key_groups) {
        const float e = expf(scores[k0 + jj] - new_max);
        Axpy8(e,
              *reinterpret_cast<const uint4*>(tile.values + jj * hs + seg * 8),
              acc);
      }
    }
    __syncthreads();  // the tile's buffer is free
    if (t + kStages < tiles) issue(t + kStages);
  }

  // Key groups summed in group order into this block's y_r.
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
    for (int e = 0; e < 8; ++e) partial[seg * 8 + e] = acc[e];
  }
  if (threadIdx.x == 0) {
    stats[0] = run_max;
    stats[1] = run_sum;
  }
  cluster.sync();  // every block's y_r, m_r and l_r visible to the cluster

  // c_r = factor[r] / total, the same in every block.
  float factor[kClusterBlocks];
  float total_max = -INFINITY;
#pragma unroll
  for (int r = 0; r < kClusterBlocks; ++r) {
    factor[r] = cluster.map_shared_rank(stats, r)[0];  // m_r for now
    total_max = fmaxf(total_max, factor[r]);
  }
  float total = 0.0f;
#pragma unroll
  for (int r = 0; r < kClusterBlocks; ++r) {
    factor[r] = expf(factor[r] - total_max);  // 0 for a block without keys
    total += factor[r] * cluster.map_shared_rank(stats, r)[1];
  }
  const int s = first_seg + int(threadIdx.x);
  if (threadIdx.x < segs_per_block && s < segs) {
    float out[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
    for (int r = 0; r < kClusterBlocks; ++r) {
      const float c = factor[r] / total;
      const float4* p = reinterpret_cast<const float4*>(
          cluster.map_shared_rank(partial, r) + s * 8);
      const float4 lo = p[0], hi = p[1];
      out[0] = fmaf(c, lo.x, out[0]);
      out[1] = fmaf(c, lo.y, out[1]);
      out[2] = fmaf(c, lo.z, out[2]);
      out[3] = fmaf(c, lo.w, out[3]);
      out[4] = fmaf(c, hi.x, out[4]);
      out[5] = fmaf(c, hi.y, out[5]);
      out[6] = fmaf(c, hi.z, out[6]);
      out[7] = fmaf(c, hi.w, out[7]);
    }
    *reinterpret_cast<uint4*>(y + s * 8) =
        make_uint4(PackBf16(out[0], out[1]), PackBf16(out[2], out[3]),
                   PackBf16(out[4], out[5]), PackBf16(out[6], out[7]));
  }
  if (probs != nullptr) {
    for (int jj = threadIdx.x; jj < n; jj += kThreads) {
      probs[j0 + jj] = expf(scores[jj] - total_max) / total;
    }
    for (int64_t j = length + rank * kThreads + threadIdx.x; j < a.probs_stride;
         j += kClusterBlocks * kThreads) {
      probs[j] = 0.0f;
    }
  }
  cluster.sync();  // no block leaves while another reads its shared memory
}

int DynamicBytes(int head_size, int max_len) {
  return kStages * 2 * KeysPerTile(head_size, max_len) * head_size *
             int(sizeof(bf16)) +
         KeysPerBlock(max_len) * int(sizeof(float));
}

}  // namespace

int KeysPerTile(int head_size, int max_len) {
  const int fit = kStageBytes / (2 * head_size * int(sizeof(bf16)));
  return std::max(1, std::min({fit, kMaxKeysPerTile, KeysPerBlock(max_len)}));
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
  const dim3 grid(kClusterBlocks, args.heads, args.rows);
  return LaunchClusterKernel(kernel, grid, dim3(kThreads), kClusterBlocks,
                             DynamicBytes(args.head_size, args.max_len), stream,
                             pdl, args,
                             KeysPerTile(args.head_size, args.max_len));
}

}  // namespace tinylm::decode
