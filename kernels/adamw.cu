#include <cuda_bf16.h>

#include <algorithm>

#include "kernels/adamw.h"
#include "kernels/common.cuh"

namespace tinylm::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocksPerBuffer = 2048;

struct AdamWBuffers {
  AdamWBuffer buffer[kMaxAdamWBuffers];
  bool vec4[kMaxAdamWBuffers];  // all pointers 16-byte aligned (copy: 8)
  int count;
};

// The step's scalars, rounded to float32 as LibTorch's CUDA kernels round
// their scalar arguments.
struct StepScalars {
  float decay;  // 1 - lr·wd
  float beta1, one_minus_beta1;
  float beta2, one_minus_beta2;
  float inv_sqrt_bc2;  // 1 / sqrt(1 - β2^t)
  float eps;
  float neg_step_size;  // -lr / (1 - β1^t)
  float clip;
};

__device__ __forceinline__ void Update(const StepScalars& s, float& p,
                                       float grad, float& m, float& v) {
  const float g = grad * s.clip;
  p *= s.decay;
  m = m * s.beta1 + s.one_minus_beta1 * g;
  v = v * s.beta2 + s.one_minus_beta2 * g * g;
  const float denom = sqrtf(v) * s.inv_sqrt_bc2 + s.eps;
  p += s.neg_step_size * (m / denom);
}

// Grid (blocks, buffers): blockIdx.y picks the buffer.
__global__ void __launch_bounds__(kThreads)
    AdamWKernel(AdamWBuffers buffers, AdamWHyper hyper,
                const double* __restrict__ lr, const int64_t* __restrict__ step,
                const float* __restrict__ clip_coef) {
  const AdamWBuffer& b = buffers.buffer[blockIdx.y];
  // 1. The step's scalars, in float64 as the host computes them for
  //    torch::optim::AdamW.
  const double t = double(*step);
  const double bias_correction1 = 1.0 - pow(hyper.beta1, t);
  const double bias_correction2 = 1.0 - pow(hyper.beta2, t);
  StepScalars s;
  s.decay = float(1.0 - *lr * b.weight_decay);
  s.beta1 = float(hyper.beta1);
  s.one_minus_beta1 = float(1.0 - hyper.beta1);
  s.beta2 = float(hyper.beta2);
  s.one_minus_beta2 = float(1.0 - hyper.beta2);
  s.inv_sqrt_bc2 = 1.f / float(sqrt(bias_correction2));
  s.eps = float(hyper.eps);
  s.neg_step_size = float(-*lr / bias_correction1);
  s.clip = clip_coef ? *clip_coef : 1.f;

  // 2. The elements, four at a time where aligned.
  const int64_t thread = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t threads = int64_t(gridDim.x) * blockDim.x;
  __nv_bfloat16* copy = static_cast<__nv_bfloat16*>(b.param_bf16);
  int64_t scalar_begin = 0;
  if (buffers.vec4[blockIdx.y]) {
    float4* p4 = reinterpret_cast<float4*>(b.param);
    const float4* g4 = reinterpret_cast<const float4*>(b.grad);
    float4* m4 = reinterpret_cast<float4*>(b.exp_avg);
    float4* v4 = reinterpret_cast<float4*>(b.exp_avg_sq);
    for (int64_t i = thread; i < b.size / 4; i += threads) {
      float4 p = p4[i], m = m4[i], v = v4[i];
      const float4 g = g4[i];
      Update(s, p.x, g.x, m.x, v.x);
      Update(s, p.y, g.y, m.y, v.y);
      Update(s, p.z, g.z, m.z, v.z);
      Update(s, p.w, g.w, m.w, v.w);
      p4[i] = p;
      m4[i] = m;
      v4[i] = v;
      if (copy != nullptr) {
        __nv_bfloat162* c2 = reinterpret_cast<__nv_bfloat162*>(copy + 4 * i);
        c2[0] = __floats2bfloat162_rn(p.x, p.y);
        c2[1] = __floats2bfloat162_rn(p.z, p.w);
      }
    }
    scalar_begin = b.size / 4 * 4;
  }
  for (int64_t i = scalar_begin + thread; i < b.size; i += threads) {
    Update(s, b.param[i], b.grad[i], b.exp_avg[i], b.exp_avg_sq[i]);
    if (copy != nullptr) copy[i] = __float2bfloat16_rn(b.param[i]);
  }
}

}  // namespace

cudaError_t AdamWStep(const AdamWBuffer* buffers, int count,
                      const AdamWHyper& hyper, const double* lr,
                      const int64_t* step, const float* clip_coef,
                      cudaStream_t stream) {
  if (count < 0 || count > kMaxAdamWBuffers) return cudaErrorInvalidValue;
  if (count == 0) return cudaSuccess;
  AdamWBuffers all{};
  all.count = count;
  int64_t largest = 0;
  for (int b = 0; b < count; ++b) {
    const AdamWBuffer& buffer = buffers[b];
    if (buffer.size < 0) return cudaErrorInvalidValue;
    all.buffer[b] = buffer;
    all.vec4[b] = detail::IsAligned(buffer.param, 16) &&
                  detail::IsAligned(buffer.grad, 16) &&
                  detail::IsAligned(buffer.exp_avg, 16) &&
                  detail::IsAligned(buffer.exp_avg_sq, 16) &&
                  detail::IsAligned(buffer.param_bf16, 8);
    largest = std::max(largest, buffer.size);
  }
  const int blocks = std::max(
      1, int(std::min<int64_t>(kMaxBlocksPerBuffer,
                               detail::CeilDiv(largest, 4 * kThreads))));
  AdamWKernel<<<dim3(blocks, count), kThreads, 0, stream>>>(all, hyper, lr,
                                                            step, clip_coef);
  return cudaGetLastError();
}

}  // namespace tinylm::kernels
