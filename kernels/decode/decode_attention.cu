// Decode attention (decode_attention.h). One block of 128 threads per
// (split, head, row); the grid covers the longest possible row, and blocks
// past their row's length return at once. Per block:
//   1. scores of the split's keys: lanes per key = hs/8 rounded up to a
//      power of two (at most a warp), each lane a dot product over its 8-
//      wide segments, then a butterfly over the key's lanes;
//   2. the split's max m_s, weights e_j = exp(s_j - m_s) and their sum l_s
//      (fixed reduction trees);
//   3. y_s = Σ_j e_j v_j: threads own 8-wide segments of hs, key groups
//      added in group order;
//   4. one split: y = y_s / l_s. Several: y_s, m_s, l_s go to the
//      workspace, and the block that arrives last combines them in split
//      order: m = max m_s, l = Σ_s exp(m_s - m) l_s, c_s = exp(m_s - m) / l,
//      y = Σ_s c_s y_s; maps are e_j · c_s, the factors used for y.
#include "kernels/decode/decode_attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/decode/device_util.cuh"
#include "kernels/decode/launch.cuh"

namespace tinylm::decode {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxKeysPerSplit = 256;
constexpr int kUnroll = 4;  // key passes in flight per warp in step 1

__host__ __device__ int SplitsFor(int length, int keys_per_split) {
  return (length + keys_per_split - 1) / keys_per_split;
}

// Byte offsets of the workspace parts (decode_attention.h).
struct WorkspaceLayout {
  size_t counters, stats, partial, total;
};
WorkspaceLayout Layout(int rows, int heads, int head_size, int max_len) {
  auto round_up = [](size_t b) { return (b + 255) / 256 * 256; };
  const size_t splits = SplitsFor(max_len, KeysPerSplit(head_size));
  const size_t units = size_t(rows) * heads;
  WorkspaceLayout l;
  l.counters = 0;
  l.stats = round_up(units * sizeof(int));
  l.partial = l.stats + round_up(units * splits * 2 * sizeof(float));
  l.total = l.partial + units * splits * head_size * sizeof(float);
  return l;
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

template <int SEG>  // 8-wide segments of hs per lane in step 1
__global__ void __launch_bounds__(kThreads)
    DecodeAttentionKernel(const AttentionArgs a, char* workspace,
                          WorkspaceLayout layout, int keys_per_split) {
  __shared__ float weights[kMaxKeysPerSplit];  // s_j, then e_j
  __shared__ float group_sums[kMaxHeadSize];   // step 3 key groups
  __shared__ float scratch[kWarps];
  __shared__ bool last_block;

  WaitForPriorGrids();
  AllowDependentLaunch();
  const int m = blockIdx.z, h = blockIdx.y, split = blockIdx.x;
  const int H = a.heads, hs = a.head_size, segs = hs / 8;
  const int pos = a.positions[m], slot = a.slots[m];
  bf16* y = a.y + (int64_t(m) * H + h) * hs;
  float* probs = a.probs != nullptr
                     ? a.probs + (int64_t(m) * H + h) * a.probs_stride
                     : nullptr;
  if (pos < 0 || pos >= a.max_len || slot < 0 || slot >= a.num_slots) {
    if (split == 0) {  // an invalid row: zeros, nothing read
      for (int d = threadIdx.x; d < hs; d += kThreads) y[d] = bf16(0.0f);
      for (int64_t j = threadIdx.x; probs != nullptr && j < a.probs_stride;
           j += kThreads) {
        probs[j] = 0.0f;
      }
    }
    return;
  }
  const int length = pos + 1;
  const int splits = SplitsFor(length, keys_per_split);
  if (split >= splits) return;
  const int j0 = split * keys_per_split;
  const int n = min(length, j0 + keys_per_split) - j0;
  const int group = h / (H / a.groups);
  const int64_t key_stride = int64_t(a.groups) * hs;
  const int64_t first = (int64_t(slot) * a.max_len + j0) * key_stride +
                        int64_t(group) * hs;  // key j0 of this group
  const bf16* keys = a.k_cache + first;
  const bf16* values = a.v_cache + first;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  // Values are read in step 3: start bringing them into L2 now.
  for (int line = threadIdx.x; line < n * ((hs * 2 + 127) / 128);
       line += kThreads) {
    const int j = line / ((hs * 2 + 127) / 128);
    const int byte = (line % ((hs * 2 + 127) / 128)) * 128;
    asm volatile("prefetch.global.L2 [%0];" ::"l"(
        reinterpret_cast<const char*>(values + j * key_stride) + byte));
  }

  // 1. Scores.
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
  const bf16* extra = a.score != nullptr
                          ? a.score + (int64_t(m) * H + h) * a.score_stride + j0
                          : nullptr;
  const int warp_stride = kWarps * keys_per_pass;
  for (int base = warp * keys_per_pass; base < n;
       base += warp_stride * kUnroll) {
    uint4 kv[kUnroll][SEG];
#pragma unroll
    for (int r = 0; r < kUnroll; ++r) {
      const int jj = base + r * warp_stride + sub;
#pragma unroll
      for (int u = 0; u < SEG; ++u) {
        const int s = sl + lanes_per_key * u;
        kv[r][u] = jj < n && s < segs
                       ? LoadActivation16(keys + jj * key_stride + s * 8)
                       : make_uint4(0, 0, 0, 0);
      }
    }
#pragma unroll
    for (int r = 0; r < kUnroll; ++r) {
      const int jj = base + r * warp_stride + sub;
      float dot = 0.0f;
#pragma unroll
      for (int u = 0; u < SEG; ++u) dot = Dot8(kv[r][u], q[u], dot);
      for (int off = lanes_per_key / 2; off > 0; off /= 2) {
        dot += __shfl_xor_sync(0xffffffffu, dot, off);
      }
      if (jj < n && sl == 0) {
        float s = dot / scale;
        if (extra != nullptr) s += __bfloat162float(extra[jj]);
        weights[jj] = s;
      }
    }
  }
  __syncthreads();

  // 2. Split max, weights and their sum.
  float local_max = -INFINITY;
  for (int jj = threadIdx.x; jj < n; jj += kThreads) {
    local_max = fmaxf(local_max, weights[jj]);
  }
  const float split_max = BlockMax(local_max, scratch);
  float local_sum = 0.0f;
  for (int jj = threadIdx.x; jj < n; jj += kThreads) {
    const float e = expf(weights[jj] - split_max);
    weights[jj] = e;
    local_sum += e;
  }
  const float split_sum = BlockSum(local_sum, scratch);  // syncs: e_j ready

  // 3. y_s over the split: segment seg of hs, keys kg, kg + groups, ...
  const int key_groups = max(1, kThreads / segs);
  const int seg = threadIdx.x % segs, kg = threadIdx.x / segs;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (kg < key_groups) {
    int jj = kg;
    for (; jj + 3 * key_groups < n; jj += 4 * key_groups) {
      uint4 v[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        v[r] = LoadActivation16(values + (jj + r * key_groups) * key_stride +
                                seg * 8);
      }
#pragma unroll
      for (int r = 0; r < 4; ++r)
        Axpy8(weights[jj + r * key_groups], v[r], acc);
    }
    for (; jj < n; jj += key_groups) {
      Axpy8(weights[jj], LoadActivation16(values + jj * key_stride + seg * 8),
            acc);
    }
  }
  if (key_groups > 1) {
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
    }
  }
  const bool owns_segment = kg == 0;  // threads 0..segs-1 hold y_s

  // 4a. A single split: done.
  if (splits == 1) {
    const float c = 1.0f / split_sum;
    if (owns_segment) {
      for (int e = 0; e < 8; e += 2) {
        *reinterpret_cast<uint32_t*>(y + seg * 8 + e) =
            PackBf16(acc[e] * c, acc[e + 1] * c);
      }
    }
    if (probs != nullptr) {
      for (int jj = threadIdx.x; jj < n; jj += kThreads) {
        probs[jj] = weights[jj] * c;
      }
      for (int64_t j = length + threadIdx.x; j < a.probs_stride;
           j += kThreads) {
        probs[j] = 0.0f;
      }
    }
    return;
  }

  // 4b. Several splits: publish this one, and the last block combines.
  const int max_splits = SplitsFor(a.max_len, keys_per_split);
  const int64_t unit = int64_t(m) * H + h;
  float* stats = reinterpret_cast<float*>(workspace + layout.stats) +
                 unit * max_splits * 2;
  float* partial = reinterpret_cast<float*>(workspace + layout.partial) +
                   unit * max_splits * hs;
  int* counter = reinterpret_cast<int*>(workspace + layout.counters) + unit;
  if (owns_segment) {
    float4* out = reinterpret_cast<float4*>(partial + split * hs + seg * 8);
    out[0] = make_float4(acc[0], acc[1], acc[2], acc[3]);
    out[1] = make_float4(acc[4], acc[5], acc[6], acc[7]);
  }
  if (threadIdx.x == 0) {
    stats[2 * split] = split_max;
    stats[2 * split + 1] = split_sum;
  }
  if (probs != nullptr) {
    for (int jj = threadIdx.x; jj < n; jj += kThreads) {
      probs[j0 + jj] = weights[jj];  // rescaled by the combining block
    }
    if (split == 0) {
      for (int64_t j = length + threadIdx.x; j < a.probs_stride;
           j += kThreads) {
        probs[j] = 0.0f;
      }
    }
  }
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) {
    last_block = atomicAdd(counter, 1) == splits - 1;
  }
  __syncthreads();
  if (!last_block) return;
  __threadfence();

  // Unrolled so that several splits' loads are in flight at once.
  float total_max = -INFINITY;
#pragma unroll 8
  for (int s = 0; s < splits; ++s) {
    total_max = fmaxf(total_max, __ldcg(&stats[2 * s]));
  }
  float total = 0.0f;
#pragma unroll 8
  for (int s = 0; s < splits; ++s) {
    total +=
        expf(__ldcg(&stats[2 * s]) - total_max) * __ldcg(&stats[2 * s + 1]);
  }
  auto factor = [&](int s) {
    return expf(__ldcg(&stats[2 * s]) - total_max) / total;
  };
  for (int sg = threadIdx.x; sg < segs; sg += kThreads) {
    float out[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll 4
    for (int s = 0; s < splits; ++s) {
      const float c = factor(s);
      const float4* p =
          reinterpret_cast<const float4*>(partial + s * hs + sg * 8);
      const float4 lo = __ldcg(p), hi = __ldcg(p + 1);
      out[0] = fmaf(c, lo.x, out[0]);
      out[1] = fmaf(c, lo.y, out[1]);
      out[2] = fmaf(c, lo.z, out[2]);
      out[3] = fmaf(c, lo.w, out[3]);
      out[4] = fmaf(c, hi.x, out[4]);
      out[5] = fmaf(c, hi.y, out[5]);
      out[6] = fmaf(c, hi.z, out[6]);
      out[7] = fmaf(c, hi.w, out[7]);
    }
    for (int e = 0; e < 8; e += 2) {
      *reinterpret_cast<uint32_t*>(y + sg * 8 + e) =
          PackBf16(out[e], out[e + 1]);
    }
  }
  if (probs != nullptr) {
    for (int j = threadIdx.x; j < length; j += kThreads) {
      probs[j] = __ldcg(&probs[j]) * factor(j / keys_per_split);
    }
  }
  if (threadIdx.x == 0) *counter = 0;  // ready for the next call
}

}  // namespace

int KeysPerSplit(int head_size) {
  int keys = 16;
  while (keys < kMaxKeysPerSplit && keys * 2 * head_size <= 8192) keys *= 2;
  return keys;
}

size_t AttentionWorkspaceBytes(int rows, int heads, int head_size,
                               int max_len) {
  return Layout(rows, heads, head_size, max_len).total;
}

cudaError_t ZeroAttentionWorkspace(void* workspace, int rows, int heads,
                                   cudaStream_t stream) {
  return cudaMemsetAsync(workspace, 0, size_t(rows) * heads * sizeof(int),
                         stream);
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
  if (a.score != nullptr && a.score_stride < a.max_len) {
    return "score_stride must cover max_len";
  }
  if (a.probs != nullptr && a.probs_stride < a.max_len) {
    return "probs_stride must cover max_len";
  }
  return "";
}

cudaError_t LaunchDecodeAttention(const AttentionArgs& args, void* workspace,
                                  cudaStream_t stream, bool pdl) {
  if (!ValidateAttention(args).empty() || workspace == nullptr) {
    return cudaErrorInvalidValue;
  }
  const int keys_per_split = KeysPerSplit(args.head_size);
  const WorkspaceLayout layout =
      Layout(args.rows, args.heads, args.head_size, args.max_len);
  const dim3 grid(SplitsFor(args.max_len, keys_per_split), args.heads,
                  args.rows);
  const int segs_per_lane = (args.head_size / 8 + 31) / 32;
  auto kernel = segs_per_lane <= 1   ? DecodeAttentionKernel<1>
                : segs_per_lane <= 2 ? DecodeAttentionKernel<2>
                                     : DecodeAttentionKernel<4>;
  return LaunchKernel(kernel, grid, dim3(kThreads), 0, stream, pdl, args,
                      static_cast<char*>(workspace), layout, keys_per_split);
}

}  // namespace tinylm::decode
