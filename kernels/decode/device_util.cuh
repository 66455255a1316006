// Device helpers shared by the decode kernels: bf16 rounding and packing,
// 16-byte loads, the bf16 tensor-core product, and programmatic dependent
// launch (PDL). Included by the .cu files only.
#ifndef TINYLM_KERNELS_DECODE_DEVICE_UTIL_CUH_
#define TINYLM_KERNELS_DECODE_DEVICE_UTIL_CUH_

#include <cstdint>

#include <cuda_bf16.h>

namespace tinylm::decode {

using bf16 = __nv_bfloat16;

// Rounds to bfloat16 and back: the rounding points of the LibTorch
// reference, where it stores an intermediate in the model dtype.
__device__ __forceinline__ float RoundBf16(float v) {
  return __bfloat162float(__float2bfloat16(v));
}

// The two bf16 halves of a 32-bit word, low half first.
__device__ __forceinline__ float LowBf16(uint32_t w) {
  return __uint_as_float(w << 16);
}
__device__ __forceinline__ float HighBf16(uint32_t w) {
  return __uint_as_float(w & 0xffff0000u);
}
__device__ __forceinline__ uint32_t PackBf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// 16 bytes of activations. Read-only for the whole kernel (written by an
// earlier kernel), so the non-coherent path is safe.
__device__ __forceinline__ uint4 LoadActivation16(const void* p) {
  return __ldg(reinterpret_cast<const uint4*>(p));
}

// 16 bytes of weights, each read once per kernel: no L1 allocation. The
// asm is volatile so that these loads stay ahead of WaitForPriorGrids().
__device__ __forceinline__ uint4 LoadWeight16(const void* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

// Asks L2 for the 128-byte line holding p; no register, no wait.
__device__ __forceinline__ void PrefetchL2(const void* p) {
  asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
}

// d += a·b for one m16n8k16 tile, bf16 inputs, fp32 accumulators
// (PTX ISA fragment layouts for mma.m16n8k16 .row.col).
__device__ __forceinline__ void MmaBf16(float (&d)[4], uint32_t a0, uint32_t a1,
                                        uint32_t a2, uint32_t a3, uint32_t b0,
                                        uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// Asynchronous 16-byte copies from global (L2, no L1) to shared memory,
// in commit groups.
__device__ __forceinline__ void CopyAsync16(void* shared, const void* global) {
  const uint32_t to = static_cast<uint32_t>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(to),
               "l"(global));
}
__device__ __forceinline__ void CommitCopies() {
  asm volatile("cp.async.commit_group;" ::: "memory");
}
// Waits until at most `pending` (0 or 1) committed groups are in flight.
__device__ __forceinline__ void WaitCopies(int pending) {
  if (pending > 0) {
    asm volatile("cp.async.wait_group 1;" ::: "memory");
  } else {
    asm volatile("cp.async.wait_group 0;" ::: "memory");
  }
}

// PDL: a kernel launched with programmatic stream serialization may start
// while the previous kernel still runs. Every kernel here reads only
// weights before WaitForPriorGrids() and touches activations, caches and
// outputs only after it, so the overlap is safe; without PDL both are
// no-ops.
__device__ __forceinline__ void WaitForPriorGrids() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
// Lets the next kernel launch once every block of this one has started.
__device__ __forceinline__ void AllowDependentLaunch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// The epilogues below spell out their roundings (__fmul_rn and friends are
// never contracted into fused multiply-adds), so that every kernel
// instantiation, whatever its tile, computes the same bits.
__device__ __forceinline__ float Gelu(float x) {  // exact (erf) form
  return __fmul_rn(__fmul_rn(0.5f, x),
                   __fadd_rn(1.0f, erff(__fmul_rn(x, 0.70710678118654752f))));
}

__device__ __forceinline__ float Silu(float x) { return x / (1.0f + expf(-x)); }

}  // namespace tinylm::decode

#endif  // TINYLM_KERNELS_DECODE_DEVICE_UTIL_CUH_
