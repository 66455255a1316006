// Token choice (sampling.h): one block per row. The raw statistics and the
// greedy argmax stream the row's logits from memory; a row that samples
// holds its logits in registers, kItems consecutive ones per thread, and
// sorts them with CUB's block radix sort, which is stable; alternatives
// are repeated block argmaxes over the registers. Every sum and scan runs over
// fixed thread ranges in a fixed order, so a row's choice never depends on the
// other rows.
#include "kernels/decode/sampling.h"

#include <algorithm>
#include <cmath>

#include <cub/block/block_radix_sort.cuh>
#include <cub/block/block_scan.cuh>

#include "kernels/decode/device_util.cuh"
#include "kernels/decode/launch.cuh"

namespace tinylm::decode {
namespace {

constexpr int kItems = 16;  // logits per thread in a sort
constexpr int kSmallThreads = 512, kLargeThreads = 1024;
static_assert(kLargeThreads * kItems == kMaxSortingVocab);

struct Best {
  float value;
  int index;
};

// The larger value; the lower index among equal ones.
__device__ Best Better(Best a, Best b) {
  return (b.value > a.value || (b.value == a.value && b.index < a.index)) ? b
                                                                          : a;
}

// CUB's sort and scan share one buffer; each use ends with a barrier.
template <int kThreads>
struct Cub {
  using Sort = cub::BlockRadixSort<float, kThreads, kItems, int>;
  using Scan = cub::BlockScan<float, kThreads>;
  union Storage {
    typename Sort::TempStorage sort;
    typename Scan::TempStorage scan;
  };
};

// The block's max or sum of v, the same bits in every thread: a butterfly
// within each warp (a + b == b + a, so partners agree), then the warps in
// warp order.
template <int kThreads>
__device__ float BlockReduce(float v, bool max, float* scratch) {
  for (int off = 16; off > 0; off /= 2) {
    const float o = __shfl_xor_sync(0xffffffffu, v, off);
    v = max ? fmaxf(v, o) : v + o;
  }
  __syncthreads();
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  float r = scratch[0];
  for (int w = 1; w < kThreads / 32; ++w) {
    r = max ? fmaxf(r, scratch[w]) : r + scratch[w];
  }
  return r;
}

template <int kThreads>
__device__ int BlockArgMax(Best b, Best* scratch) {
  for (int off = 16; off > 0; off /= 2) {
    b = Better(b, {__shfl_xor_sync(0xffffffffu, b.value, off),
                   __shfl_xor_sync(0xffffffffu, b.index, off)});
  }
  __syncthreads();
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = b;
  __syncthreads();
  Best r = scratch[0];
  for (int w = 1; w < kThreads / 32; ++w) r = Better(r, scratch[w]);
  return r.index;
}

// Writes value[i] to *out in the thread whose i-th item has rank `rank`
// (items are ranks kItems·thread + i), without indexing the registers.
template <typename T>
__device__ void PublishRank(const T (&value)[kItems], int rank, T* out) {
  const int first = threadIdx.x * kItems;
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    if (first + i == rank) *out = value[i];
  }
}

// Row m's shared memory: CUB's buffer, reduction scratch and two slots
// through which one thread hands a value to all; the penalty's token marks
// [V / 32 + 1] follow it.
template <int kThreads>
struct RowShared {
  typename Cub<kThreads>::Storage cub;
  float scratch[kThreads / 32];
  Best best[kThreads / 32];
  float broadcast;
  int pick;
};

template <int kThreads>
size_t RowSharedBytes(int vocab) {
  return sizeof(RowShared<kThreads>) + sizeof(uint32_t) * (vocab / 32 + 1);
}

// Loads key_of(j) for this thread's tokens j (-inf past V) and sorts the
// block's (key, token) pairs by key, descending and stable: rank
// kItems·thread + i ends in key[i], id[i]. The + 0.0f makes -0 equal to +0,
// as LibTorch's sort compares them.
template <int kThreads, typename KeyOf>
__device__ void SortDescending(KeyOf key_of, int V, float (&key)[kItems],
                               int (&id)[kItems],
                               typename Cub<kThreads>::Storage& storage) {
  const int first = threadIdx.x * kItems;
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int j = first + i;
    id[i] = j;
    key[i] = j < V ? key_of(j) + 0.0f : -INFINITY;
  }
  typename Cub<kThreads>::Sort(storage.sort).SortDescending(key, id);
  __syncthreads();
}

// The inverse-CDF draw of models/sampler.cc (sampling.h, step 2) for a row
// whose penalized logits `adjusted(j)` gives.
template <int kThreads, typename Adjusted>
__device__ int SampleSorted(const SamplingArgs& a, int m, Adjusted adjusted,
                            float inverse_temperature, int top_k,
                            RowShared<kThreads>& s) {
  using C = Cub<kThreads>;
  const int V = a.vocab, first = threadIdx.x * kItems;
  float z[kItems];
  int id[kItems];
  SortDescending<kThreads>(
      [&](int j) { return adjusted(j) * inverse_temperature; }, V, z, id,
      s.cub);

  // probs = softmax(z): exp(z - z_max) / sum; z_max is rank 0's, so
  // p_max = 1 / sum exactly as the reference's probs[0].
  if (threadIdx.x == 0) s.broadcast = z[0];
  __syncthreads();
  const float z_max = s.broadcast;
  float p[kItems], sum = 0.0f;
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    p[i] = expf(z[i] - z_max);  // 0 for the -inf padding
    sum += p[i];
  }
  const float normalizer = BlockReduce<kThreads>(sum, false, s.scratch);
#pragma unroll
  for (int i = 0; i < kItems; ++i) p[i] = p[i] / normalizer;
  const float p_max = 1.0f / normalizer;

  // Top-k, then top-p over the top-k renormalized mass: a token stays
  // while (inclusive cumsum - itself) < top_p, the reference's formula.
  const int k_bound = top_k > 0 ? min(top_k, V) : V;
  float q[kItems], k_sum = 0.0f;
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    q[i] = first + i < k_bound ? p[i] : 0.0f;
    k_sum += q[i];
  }
  const float k_mass = BlockReduce<kThreads>(k_sum, false, s.scratch);
#pragma unroll
  for (int i = 0; i < kItems; ++i) q[i] = q[i] / k_mass;
  float cumulative[kItems];
  typename C::Scan(s.cub.scan).InclusiveSum(q, cumulative);
  __syncthreads();
  const float top_p = a.top_p != nullptr ? a.top_p[m] : 1.0f;
  const float min_p = a.min_p != nullptr ? a.min_p[m] : 0.0f;
  const float p_floor = min_p * p_max;
  float kept[kItems];
  float kept_count = 0.0f;  // exact: at most 2^14
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const bool keep =
        first + i < k_bound && cumulative[i] - q[i] < top_p && p[i] >= p_floor;
    kept[i] = keep ? p[i] : 0.0f;
    kept_count += keep ? 1.0f : 0.0f;
  }

  // cdf = cumsum(p · keep); threshold = u · cdf[V - 1]; the pick is the
  // number of ranks with cdf <= threshold, at most the last kept rank.
  typename C::Scan(s.cub.scan).InclusiveSum(kept, cumulative);
  PublishRank(cumulative, V - 1, &s.broadcast);  // the kept mass
  __syncthreads();
  const float threshold = a.uniform[m] * s.broadcast;
  float below = 0.0f;
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    below += first + i < V && cumulative[i] <= threshold ? 1.0f : 0.0f;
  }
  const int count_below = int(BlockReduce<kThreads>(below, false, s.scratch));
  const int last = int(BlockReduce<kThreads>(kept_count, false, s.scratch)) - 1;
  PublishRank(id, min(count_below, last), &s.pick);
  __syncthreads();
  return s.pick;
}

// Row m's top_n most probable tokens under the raw logits, most probable
// first and equal values in index order: top_n block-wide argmaxes over the
// row held in registers (cheaper than a sort for n <= 20).
template <int kThreads>
__device__ void WriteAlternatives(const SamplingArgs& a, int m,
                                  const float* logits, float log_normalizer,
                                  int top_n, RowShared<kThreads>& s) {
  const int V = a.vocab, first = threadIdx.x * kItems;
  float value[kItems];
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    value[i] = first + i < V ? logits[first + i] : -INFINITY;
  }
  const int64_t out = int64_t(m) * a.alternative_stride;
  uint32_t taken = 0;  // bit i: item i is an earlier alternative
  for (int rank = 0; rank < min(top_n, V); ++rank) {
    Best b = {-INFINITY, V};
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      if (!(taken & (1u << i))) b = Better(b, {value[i], first + i});
    }
    const int best = BlockArgMax<kThreads>(b, s.best);
    if (best >= first && best < first + kItems) taken |= 1u << (best - first);
    if (threadIdx.x == 0) {
      a.alternative_ids[out + rank] = best;
      a.alternative_logprobs[out + rank] = logits[best] - log_normalizer;
    }
  }
}

template <int kThreads>
__global__ void __launch_bounds__(kThreads)
    SamplingKernel(const SamplingArgs a) {
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  RowShared<kThreads>& s =
      *reinterpret_cast<RowShared<kThreads>*>(shared_bytes);
  uint32_t* marks = reinterpret_cast<uint32_t*>(&s + 1);
  WaitForPriorGrids();
  AllowDependentLaunch();
  const int m = blockIdx.x, V = a.vocab;
  const float* logits = a.logits + int64_t(m) * a.logits_stride;

  // The raw distribution's max and normalizer, for the log-probabilities.
  float local_max = -INFINITY;
  for (int j = threadIdx.x; j < V; j += kThreads) {
    local_max = fmaxf(local_max, logits[j]);
  }
  for (int j = threadIdx.x; j < V / 32 + 1; j += kThreads) marks[j] = 0;
  const float raw_max = BlockReduce<kThreads>(local_max, true, s.scratch);
  float local_sum = 0.0f;
  for (int j = threadIdx.x; j < V; j += kThreads) {
    local_sum += expf(logits[j] - raw_max);
  }
  const float raw_sum = BlockReduce<kThreads>(local_sum, false, s.scratch);
  const float log_normalizer = raw_max + logf(raw_sum);

  // 1. Repetition penalty, each distinct history token once.
  const float penalty = a.penalty != nullptr ? a.penalty[m] : 1.0f;
  const bool penalized = penalty != 1.0f && a.history != nullptr;
  if (penalized) {
    const int n = a.history_length[m];
    const int row = a.history_row != nullptr ? a.history_row[m] : m;
    const int* history = a.history + int64_t(row) * a.history_stride;
    for (int i = threadIdx.x; i < n; i += kThreads) {
      const int t = history[i];
      if (t >= 0 && t < V) atomicOr(&marks[t / 32], 1u << (t % 32));
    }
  }
  __syncthreads();
  auto adjusted = [&](int j) {
    const float x = logits[j];
    if (!penalized || !(marks[j / 32] & (1u << (j % 32)))) return x;
    return x > 0 ? x / penalty : x * penalty;
  };

  // 2. The choice.
  const float inverse_temperature =
      a.inverse_temperature != nullptr ? a.inverse_temperature[m] : 0.0f;
  const int top_k = a.top_k != nullptr ? a.top_k[m] : 0;
  int chosen;
  if (inverse_temperature == 0.0f || top_k == 1) {
    Best b = {-INFINITY, V};
    for (int j = threadIdx.x; j < V; j += kThreads) {
      b = Better(b, {adjusted(j), j});
    }
    chosen = BlockArgMax<kThreads>(b, s.best);
    if (chosen >= V) chosen = 0;
  } else {
    chosen =
        SampleSorted<kThreads>(a, m, adjusted, inverse_temperature, top_k, s);
  }

  // 3. Log-probabilities under the raw logits.
  if (threadIdx.x == 0) {
    a.token[m] = chosen;
    a.logprob[m] = logits[chosen] - log_normalizer;
  }
  const int top_n = a.top_n != nullptr ? min(a.top_n[m], kMaxAlternatives) : 0;
  if (top_n > 0) {
    WriteAlternatives<kThreads>(a, m, logits, log_normalizer, top_n, s);
  }
}

template <int kThreads>
cudaError_t Launch(const SamplingArgs& args, cudaStream_t stream, bool pdl) {
  const size_t shared_bytes = RowSharedBytes<kThreads>(args.vocab);
  const cudaError_t raised = cudaFuncSetAttribute(
      SamplingKernel<kThreads>, cudaFuncAttributeMaxDynamicSharedMemorySize,
      int(shared_bytes));
  if (raised != cudaSuccess) return raised;
  return LaunchKernel(SamplingKernel<kThreads>, dim3(args.rows), dim3(kThreads),
                      shared_bytes, stream, pdl, args);
}

}  // namespace

std::string ValidateSampling(const SamplingArgs& a) {
  if (a.rows < 1 || a.vocab < 1 || a.vocab > kMaxSamplingVocab) {
    return "rows must be positive and vocab in 1..32768";
  }
  if (a.logits == nullptr || a.logits_stride < a.vocab || a.token == nullptr ||
      a.logprob == nullptr) {
    return "logits, token and logprob must be set";
  }
  const bool sorts = a.inverse_temperature != nullptr || a.top_n != nullptr;
  if (sorts && a.vocab > kMaxSortingVocab) {
    return "sampling and alternatives take vocab up to 16384";
  }
  if (a.inverse_temperature != nullptr && a.uniform == nullptr) {
    return "inverse_temperature needs uniform";
  }
  if (a.inverse_temperature == nullptr &&
      (a.top_k != nullptr || a.top_p != nullptr || a.min_p != nullptr)) {
    return "top_k, top_p and min_p need inverse_temperature";
  }
  if (a.penalty != nullptr && a.history != nullptr &&
      a.history_length == nullptr) {
    return "history needs history_length";
  }
  if (a.top_n != nullptr &&
      (a.alternative_ids == nullptr || a.alternative_logprobs == nullptr ||
       a.alternative_stride < kMaxAlternatives)) {
    return "top_n needs alternative_ids, alternative_logprobs and a stride "
           "of at least 20";
  }
  return "";
}

cudaError_t LaunchSampling(const SamplingArgs& args, cudaStream_t stream,
                           bool pdl) {
  if (!ValidateSampling(args).empty()) return cudaErrorInvalidValue;
  // Enough threads for a sort of the whole row; greedy rows of larger
  // vocabularies stream with the larger block.
  return args.vocab <= kSmallThreads * kItems
             ? Launch<kSmallThreads>(args, stream, pdl)
             : Launch<kLargeThreads>(args, stream, pdl);
}

}  // namespace tinylm::decode
