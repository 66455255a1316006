// Decode attention (decode_attention.h). c = gridDim.x blocks of 256
// threads per (head, row), one cluster. A row of `length` keys is cut into
// runs = min(kMaxRuns, ceil(length / KeysPerRun(hs))) equal runs; block b
// owns runs b, b + c, ... A run's keys are dealt to S streams, each a group
// of lanes of one warp (lanes per key = hs/8 rounded up to a power of two,
// at most a warp; stream i takes keys i, i + S, ...), and every stream
// keeps its own running max, sum and y, with no barrier between keys:
//   1. before waiting for the previous kernel, the block asks L2 for its
//      runs' keys and values (prefetch only: the newest key, which the
//      previous kernel writes, is read after the wait like the rest);
//   2. per two keys of a stream: both keys' and values' 16-byte pieces are
//      loaded at once, s_j = q·k_j / √hs (+ g[h, j]) by a butterfly over
//      the stream's lanes, then m, l and y_s rescaled once for the pair;
//   3. at a run's end the streams are combined in stream order into
//      (y_r, m_r, l_r) in shared memory;
//   4. the cluster combines through distributed shared memory: every block
//      reads all (m_r, l_r), so c_r = exp(m_r - M) / Σ exp(m_r' - M) l_r',
//      and block b writes its share of hs of y = Σ_r c_r y_r, summed in run
//      order; maps are exp(s_j - M) / L (the raw scores are parked in the
//      map row meanwhile).
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
constexpr int kKeysPerStream = 2;  // keys a stream loads at once

__host__ __device__ int CeilDiv(int a, int b) { return (a + b - 1) / b; }

// Lanes that share one key: hs/8 16-byte pieces, a power of two <= 32.
__host__ __device__ int LanesPerKey(int head_size) {
  int lanes = 1;
  while (lanes < head_size / 8 && lanes < 32) lanes *= 2;
  return lanes;
}

__host__ __device__ int StreamsPerBlock(int head_size) {
  return kWarps * (32 / LanesPerKey(head_size));
}

// Shared memory of a block that owns up to ceil(kMaxRuns / c) runs: the
// streams' y and (m, l) of the current run, then per run y_r and (m_r, l_r).
int SharedBytes(int head_size, int blocks_per_row) {
  const int streams = StreamsPerBlock(head_size);
  const int runs = CeilDiv(kMaxRuns, blocks_per_row);
  return int(sizeof(float)) *
         (streams * (head_size + 2) + runs * (head_size + 2));
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

// out += f · p[0..8), p 16-byte aligned (local or distributed shared
// memory).
__device__ __forceinline__ void AddScaled8(float f, const float* p,
                                           float (&out)[8]) {
  const float4 lo = reinterpret_cast<const float4*>(p)[0];
  const float4 hi = reinterpret_cast<const float4*>(p)[1];
  out[0] = fmaf(f, lo.x, out[0]);
  out[1] = fmaf(f, lo.y, out[1]);
  out[2] = fmaf(f, lo.z, out[2]);
  out[3] = fmaf(f, lo.w, out[3]);
  out[4] = fmaf(f, hi.x, out[4]);
  out[5] = fmaf(f, hi.y, out[5]);
  out[6] = fmaf(f, hi.z, out[6]);
  out[7] = fmaf(f, hi.w, out[7]);
}

// The runs of one row: run r holds keys [r · per_run, ...) up to `length`.
struct RowRuns {
  int length, runs, per_run;
  __device__ int start(int r) const { return r * per_run; }
  __device__ int keys(int r) const {
    return min(length, start(r) + per_run) - start(r);
  }
};

// Blocks a multiprocessor must hold: two (up to 128 registers; no spills
// but at hs > 768, 40 bytes).
template <int SEG>  // 16-byte pieces of hs per lane
__global__ void __launch_bounds__(kThreads, 2)
    DecodeAttentionKernel(const AttentionArgs a, int keys_per_run) {
  extern __shared__ __align__(16) float shared[];

  const cg::cluster_group cluster = cg::this_cluster();
  const int c = gridDim.x;  // blocks per row: one cluster, a power of 2
  const int c_shift = __ffs(c) - 1;
  const int rank = static_cast<int>(cluster.block_rank());
  const int m = blockIdx.z, h = blockIdx.y;
  const int H = a.heads, hs = a.head_size, segs = hs / 8;
  const int lanes_per_key = LanesPerKey(hs);
  const int streams = StreamsPerBlock(hs);
  const int runs_per_block = CeilDiv(kMaxRuns, c);
  float* stream_y = shared;                       // [streams, hs]
  float* stream_stats = stream_y + streams * hs;  // [streams, 2]
  float* partial = stream_stats + 2 * streams;    // [runs_per_block, hs]
  float* stats = partial + runs_per_block * hs;   // [runs_per_block, 2]

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

  const int group = h / (H / a.groups);
  const int64_t key_stride = int64_t(a.groups) * hs;
  const int64_t first = int64_t(slot) * a.max_len * key_stride +
                        int64_t(group) * hs;  // key 0 of this group
  const bf16* keys = a.k_cache + first;
  const bf16* values = a.v_cache + first;

  // 1. The block's keys and values into L2, 128-byte lines.
  const int lines_per_key = CeilDiv(hs * int(sizeof(bf16)), 128);
  for (int lr = 0; lr < my_runs; ++lr) {
    const int run = run_of(lr);
    const int count = row.keys(run) * lines_per_key;
    for (int e = threadIdx.x; e < count; e += kThreads) {
      const int64_t at = (row.start(run) + e / lines_per_key) * key_stride +
                         (e % lines_per_key) * (128 / int(sizeof(bf16)));
      PrefetchL2(keys + at);
      PrefetchL2(values + at);
    }
  }
  WaitForPriorGrids();
  AllowDependentLaunch();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int sub = lane / lanes_per_key, sl = lane % lanes_per_key;
  const int stream = warp * (32 / lanes_per_key) + sub;
  const bf16* extra = a.score != nullptr
                          ? a.score + (int64_t(m) * H + h) * a.score_stride
                          : nullptr;
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
  // Key jj's pieces of this lane, [SEG] 16-byte loads (zeros past hs or
  // for no key).
  auto load = [&](const bf16* base, int jj, bool valid, uint4(&out)[SEG]) {
#pragma unroll
    for (int u = 0; u < SEG; ++u) {
      const int s = sl + lanes_per_key * u;
      out[u] = valid && s < segs ? __ldcg(reinterpret_cast<const uint4*>(
                                       base + int64_t(jj) * key_stride + s * 8))
                                 : make_uint4(0, 0, 0, 0);
    }
  };
  // The score of key jj from its pieces, the same in the stream's lanes;
  // every lane of the warp takes part (the butterfly), -inf for no key.
  auto score = [&](const uint4(&k)[SEG], int jj, bool valid) {
    float dot = 0.0f;
#pragma unroll
    for (int u = 0; u < SEG; ++u) dot = Dot8(k[u], q[u], dot);
    for (int off = lanes_per_key / 2; off > 0; off /= 2) {
      dot += __shfl_xor_sync(0xffffffffu, dot, off);
    }
    if (!valid) return -INFINITY;
    const float g = extra != nullptr ? __bfloat162float(extra[jj]) : 0.0f;
    const float s = dot / scale + g;
    if (probs != nullptr && sl == 0) probs[jj] = s;  // raw, until the end
    return s;
  };

  const int streams_per_warp = 32 / lanes_per_key;
  for (int lr = 0; lr < my_runs; ++lr) {
    const int run = run_of(lr);
    const int j0 = row.start(run), n = row.keys(run);
    // 2. This stream's keys j0 + stream, j0 + stream + S, ..., two at once;
    //    the loop is the warp's, so that its butterflies see every lane.
    float acc[SEG][8];
#pragma unroll
    for (int u = 0; u < SEG; ++u) {
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[u][e] = 0.0f;
    }
    float run_max = -INFINITY, run_sum = 0.0f;
    for (int base = warp * streams_per_warp; base < n;
         base += kKeysPerStream * streams) {
      const int i = base + sub;
      const bool has_a = i < n, has_b = i + streams < n;
      const int ja = j0 + i, jb = ja + streams;
      uint4 ka[SEG], kb[SEG], va[SEG], vb[SEG];
      load(keys, ja, has_a, ka);
      load(values, ja, has_a, va);
      load(keys, jb, has_b, kb);
      load(values, jb, has_b, vb);
      const float sa = score(ka, ja, has_a);
      const float sb = score(kb, jb, has_b);
      if (!has_a) continue;  // no key of this stream here (nor later)
      const float new_max = fmaxf(run_max, fmaxf(sa, sb));
      const float rescale = expf(run_max - new_max);  // 0 on the first pair
      const float ea = expf(sa - new_max);
      const float eb = expf(sb - new_max);  // 0 for no key
      run_sum = run_sum * rescale + ea + eb;
      run_max = new_max;
#pragma unroll
      for (int u = 0; u < SEG; ++u) {
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[u][e] *= rescale;
        Axpy8(ea, va[u], acc[u]);
        Axpy8(eb, vb[u], acc[u]);
      }
    }
    // 3. The streams in stream order into y_r, m_r, l_r.
#pragma unroll
    for (int u = 0; u < SEG; ++u) {
      const int s = sl + lanes_per_key * u;
      if (s < segs) {
        float4* to = reinterpret_cast<float4*>(stream_y + stream * hs + s * 8);
        to[0] = make_float4(acc[u][0], acc[u][1], acc[u][2], acc[u][3]);
        to[1] = make_float4(acc[u][4], acc[u][5], acc[u][6], acc[u][7]);
      }
    }
    if (sl == 0) {
      stream_stats[2 * stream] = run_max;
      stream_stats[2 * stream + 1] = run_sum;
    }
    __syncthreads();
    float m_r = -INFINITY;
    for (int t = 0; t < streams; ++t) m_r = fmaxf(m_r, stream_stats[2 * t]);
    for (int s = threadIdx.x; s < segs; s += kThreads) {
      float out[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int t = 0; t < streams; ++t) {
        const float f = expf(stream_stats[2 * t] - m_r);  // 0 if no keys
        AddScaled8(f, stream_y + t * hs + s * 8, out);
      }
      float4* to = reinterpret_cast<float4*>(partial + lr * hs + s * 8);
      to[0] = make_float4(out[0], out[1], out[2], out[3]);
      to[1] = make_float4(out[4], out[5], out[6], out[7]);
    }
    if (threadIdx.x == 0) {
      float l_r = 0.0f;
      for (int t = 0; t < streams; ++t) {
        l_r += expf(stream_stats[2 * t] - m_r) * stream_stats[2 * t + 1];
      }
      stats[2 * lr] = m_r;
      stats[2 * lr + 1] = l_r;
    }
    __syncthreads();  // the streams' buffers are free for the next run
  }
  cluster.sync();  // every run's y_r, m_r and l_r visible to the cluster

  // 4. Run r's shared memory: block r mod c, local run r / c.
  auto stats_of = [&](int r) {
    return cluster.map_shared_rank(stats, r & (c - 1)) + 2 * (r >> c_shift);
  };
  // c_r = exp(m_r - M) / total, the same in every block.
  float total_max = -INFINITY;
  for (int r = 0; r < row.runs; ++r) {
    total_max = fmaxf(total_max, stats_of(r)[0]);
  }
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
      AddScaled8(cr,
                 cluster.map_shared_rank(partial, r & (c - 1)) +
                     (r >> c_shift) * hs + s * 8,
                 out);
    }
    *reinterpret_cast<uint4*>(y + s * 8) =
        make_uint4(PackBf16(out[0], out[1]), PackBf16(out[2], out[3]),
                   PackBf16(out[4], out[5]), PackBf16(out[6], out[7]));
  }
  if (probs != nullptr) {  // the block's raw scores, written above
    for (int lr = 0; lr < my_runs; ++lr) {
      const int run = run_of(lr);
      for (int jj = threadIdx.x; jj < row.keys(run); jj += kThreads) {
        float* p = probs + row.start(run) + jj;
        *p = expf(*p - total_max) / total;
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

int KeysPerRun(int head_size) {
  return kKeysPerStream * StreamsPerBlock(head_size);
}

int AttentionBlocksPerRow(const AttentionArgs& a) {
  if (a.blocks_per_row > 0) return a.blocks_per_row;
  const int work = std::max(1, a.rows * a.heads);
  if (work > MultiprocessorCount()) return 1;
  int c = kMaxBlocksPerRow;
  while (c > 2 && work * c > MultiprocessorCount()) c /= 2;
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
  return "";
}

cudaError_t LaunchDecodeAttention(const AttentionArgs& args,
                                  cudaStream_t stream, bool pdl) {
  if (!ValidateAttention(args).empty()) return cudaErrorInvalidValue;
  const int pieces = CeilDiv(args.head_size / 8, LanesPerKey(args.head_size));
  auto kernel = pieces <= 1   ? DecodeAttentionKernel<1>
                : pieces <= 2 ? DecodeAttentionKernel<2>
                : pieces <= 3 ? DecodeAttentionKernel<3>
                              : DecodeAttentionKernel<4>;
  // Once per instantiation: allow more than the default 48 KB (the most
  // any head size and spread needs).
  static const int most = SharedBytes(kMaxHeadSize, 1);
  static const cudaError_t raised[4] = {
      cudaFuncSetAttribute(DecodeAttentionKernel<1>,
                           cudaFuncAttributeMaxDynamicSharedMemorySize, most),
      cudaFuncSetAttribute(DecodeAttentionKernel<2>,
                           cudaFuncAttributeMaxDynamicSharedMemorySize, most),
      cudaFuncSetAttribute(DecodeAttentionKernel<3>,
                           cudaFuncAttributeMaxDynamicSharedMemorySize, most),
      cudaFuncSetAttribute(DecodeAttentionKernel<4>,
                           cudaFuncAttributeMaxDynamicSharedMemorySize, most)};
  for (cudaError_t e : raised) {
    if (e != cudaSuccess) return e;
  }
  const int c = AttentionBlocksPerRow(args);
  const dim3 grid(c, args.heads, args.rows);
  return LaunchClusterKernel(kernel, grid, dim3(kThreads), c,
                             SharedBytes(args.head_size, c), stream, pdl, args,
                             KeysPerRun(args.head_size));
}

}  // namespace tinylm::decode
