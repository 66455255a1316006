// Token choice (sampling.h): one block per row, the row's logits in shared
// memory. Reductions run over fixed thread ranges in a fixed order, so a
// row's choice never depends on the other rows.
#include "kernels/decode/sampling.h"

#include <cmath>

#include "kernels/decode/device_util.cuh"
#include "kernels/decode/launch.cuh"

namespace tinylm::decode {
namespace {

constexpr int kThreads = 256;

struct Best {
  float value;
  int index;
};

// The larger value; the lower index among equal ones.
__device__ Best Better(Best a, Best b) {
  return (b.value > a.value || (b.value == a.value && b.index < a.index)) ? b
                                                                          : a;
}

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

__global__ void __launch_bounds__(kThreads)
    SamplingKernel(const SamplingArgs a) {
  extern __shared__ float row[];  // [V] logits, then [V / 32 + 1] marks
  __shared__ float scratch[kThreads / 32];
  __shared__ float partial[kThreads];
  __shared__ Best best[kThreads / 32];
  __shared__ int chosen;
  uint32_t* marks = reinterpret_cast<uint32_t*>(row + a.vocab);
  WaitForPriorGrids();
  AllowDependentLaunch();
  const int m = blockIdx.x, V = a.vocab;
  const float* logits = a.logits + int64_t(m) * a.logits_stride;

  // The raw distribution's max and normalizer, for the log-probability.
  float local_max = -INFINITY;
  for (int j = threadIdx.x; j < V; j += kThreads) {
    row[j] = logits[j];
    local_max = fmaxf(local_max, row[j]);
  }
  for (int j = threadIdx.x; j < V / 32 + 1; j += kThreads) marks[j] = 0;
  const float raw_max = BlockReduce(local_max, true, scratch);
  float local_sum = 0.0f;
  for (int j = threadIdx.x; j < V; j += kThreads) {
    local_sum += expf(row[j] - raw_max);
  }
  const float raw_sum = BlockReduce(local_sum, false, scratch);
  const float log_normalizer = raw_max + logf(raw_sum);

  // 1. Repetition penalty, each distinct history token once.
  const float penalty = a.penalty != nullptr ? a.penalty[m] : 1.0f;
  if (penalty != 1.0f && a.history != nullptr) {
    const int n = a.history_length[m];
    const int* history = a.history + int64_t(m) * a.history_stride;
    for (int i = threadIdx.x; i < n; i += kThreads) {
      const int t = history[i];
      if (t >= 0 && t < V) atomicOr(&marks[t / 32], 1u << (t % 32));
    }
    __syncthreads();
    for (int j = threadIdx.x; j < V; j += kThreads) {
      if (marks[j / 32] & (1u << (j % 32))) {
        row[j] = row[j] > 0 ? row[j] / penalty : row[j] * penalty;
      }
    }
  }
  __syncthreads();

  // 2. The choice.
  const float temperature = a.temperature != nullptr ? a.temperature[m] : 0.0f;
  if (temperature == 0.0f) {
    Best b = {-INFINITY, V};
    for (int j = threadIdx.x; j < V; j += kThreads) b = Better(b, {row[j], j});
    for (int off = 16; off > 0; off /= 2) {
      b = Better(b, {__shfl_xor_sync(0xffffffffu, b.value, off),
                     __shfl_xor_sync(0xffffffffu, b.index, off)});
    }
    if (threadIdx.x % 32 == 0) best[threadIdx.x / 32] = b;
    __syncthreads();
    if (threadIdx.x == 0) {
      Best r = best[0];
      for (int w = 1; w < kThreads / 32; ++w) r = Better(r, best[w]);
      chosen = r.index < V ? r.index : 0;
    }
  } else {
    // Contiguous ranges per thread: weights, range sums, then the range
    // that holds u · total is walked in index order.
    const int chunk = (V + kThreads - 1) / kThreads;
    const int begin = min(V, int(threadIdx.x) * chunk);
    const int end = min(V, begin + chunk);
    float local = -INFINITY;
    for (int j = begin; j < end; ++j)
      local = fmaxf(local, row[j] / temperature);
    const float z_max = BlockReduce(local, true, scratch);
    float sum = 0.0f;
    for (int j = begin; j < end; ++j) {
      row[j] = expf(row[j] / temperature - z_max);
      sum += row[j];
    }
    partial[threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.x == 0) {
      float total = 0.0f;
      for (int t = 0; t < kThreads; ++t) total += partial[t];
      const float threshold = a.uniform[m] * total;
      float seen = 0.0f;
      int pick = -1, last = 0;
      for (int t = 0; t < kThreads && pick < 0; ++t) {
        if (partial[t] > 0.0f) last = t;
        if (seen + partial[t] > threshold)
          pick = t;
        else
          seen += partial[t];
      }
      // Rounding can leave u · total past every range: the last non-empty.
      const int t = pick >= 0 ? pick : last;
      int j = min(V, t * chunk), stop = min(V, j + chunk), token = stop - 1;
      for (; j < stop; ++j) {
        seen += row[j];
        if (seen > threshold && row[j] > 0.0f) {
          token = j;
          break;
        }
      }
      chosen = token;
    }
  }
  __syncthreads();

  // 3. Log-probability under the raw logits.
  if (threadIdx.x == 0) {
    a.token[m] = chosen;
    a.logprob[m] = logits[chosen] - log_normalizer;
  }
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
  if (a.temperature != nullptr && a.uniform == nullptr) {
    return "temperature needs uniform";
  }
  if (a.penalty != nullptr && a.history != nullptr &&
      a.history_length == nullptr) {
    return "history needs history_length";
  }
  return "";
}

cudaError_t LaunchSampling(const SamplingArgs& args, cudaStream_t stream,
                           bool pdl) {
  if (!ValidateSampling(args).empty()) return cudaErrorInvalidValue;
  const size_t shared_bytes =
      sizeof(float) * args.vocab + sizeof(uint32_t) * (args.vocab / 32 + 1);
  if (shared_bytes > 48 * 1024) {
    const cudaError_t e = cudaFuncSetAttribute(
        SamplingKernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
        int(shared_bytes));
    if (e != cudaSuccess) return e;
  }
  return LaunchKernel(SamplingKernel, dim3(args.rows), dim3(kThreads),
                      shared_bytes, stream, pdl, args);
}

}  // namespace tinylm::decode
