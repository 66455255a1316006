#include <algorithm>
#include <initializer_list>

#include "kernels/common.cuh"
#include "kernels/swiglu.h"

namespace tinylm::kernels {
namespace {

using detail::bf16;

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 1 << 16;

// Each thread takes runs of kVec elements of one row, grid-stride over all
// rows · cols / kVec runs.
struct Runs {
  int64_t count;
  int per_row;  // cols / kVec
  int vec;

  __device__ int64_t Row(int64_t run) const { return run / per_row; }
  __device__ int Col(int64_t run) const { return int(run % per_row) * vec; }
};

// silu(a) = a / (1 + exp(-a)) and sigmoid(a), as LibTorch computes them.
__device__ __forceinline__ float Sigmoid(float a) {
  return 1.f / (1.f + expf(-a));
}
__device__ __forceinline__ float Silu(float a) { return a / (1.f + expf(-a)); }

template <typename T, int kVec>
__global__ void __launch_bounds__(kThreads)
    SwiGluForwardKernel(Runs runs, StridedRows<const T*> a,
                        StridedRows<const T*> b, StridedRows<T*> h) {
  for (int64_t run = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
       run < runs.count; run += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = runs.Row(run);
    const int col = runs.Col(run);
    float va[kVec], vb[kVec], out[kVec];
    detail::Load<T, kVec>(a.data + row * a.stride + col, va);
    detail::Load<T, kVec>(b.data + row * b.stride + col, vb);
#pragma unroll
    for (int i = 0; i < kVec; ++i) out[i] = Silu(va[i]) * vb[i];
    detail::Store<T, kVec>(h.data + row * h.stride + col, out);
  }
}

template <typename T, int kVec>
__global__ void __launch_bounds__(kThreads)
    SwiGluBackwardKernel(Runs runs, StridedRows<const T*> dh,
                         StridedRows<const T*> a, StridedRows<const T*> b,
                         StridedRows<T*> da, StridedRows<T*> db) {
  for (int64_t run = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
       run < runs.count; run += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = runs.Row(run);
    const int col = runs.Col(run);
    float vg[kVec], va[kVec], vb[kVec], out_a[kVec], out_b[kVec];
    detail::Load<T, kVec>(dh.data + row * dh.stride + col, vg);
    detail::Load<T, kVec>(a.data + row * a.stride + col, va);
    detail::Load<T, kVec>(b.data + row * b.stride + col, vb);
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      const float s = Sigmoid(va[i]);
      out_a[i] = vg[i] * vb[i] * (s * (1.f + va[i] * (1.f - s)));
      out_b[i] = vg[i] * Silu(va[i]);
    }
    detail::Store<T, kVec>(da.data + row * da.stride + col, out_a);
    detail::Store<T, kVec>(db.data + row * db.stride + col, out_b);
  }
}

// 16-byte runs need aligned base pointers and strides and whole runs.
template <typename T>
bool CanVectorize(int cols, std::initializer_list<const void*> pointers,
                  std::initializer_list<int64_t> strides) {
  constexpr int kVec = detail::VecWidth<T>();
  if (cols % kVec != 0) return false;
  for (const void* p : pointers) {
    if (!detail::IsAligned(p, 16)) return false;
  }
  for (int64_t s : strides) {
    if (s % kVec != 0) return false;
  }
  return true;
}

Runs MakeRuns(int64_t rows, int cols, int vec) {
  return Runs{rows * (cols / vec), cols / vec, vec};
}

int Blocks(const Runs& runs) {
  return int(
      std::min<int64_t>(kMaxBlocks, detail::CeilDiv(runs.count, kThreads)));
}

template <typename T, int kVec>
cudaError_t LaunchForward(int64_t rows, int cols, StridedRows<const void*> a,
                          StridedRows<const void*> b, StridedRows<void*> h,
                          cudaStream_t stream) {
  const Runs runs = MakeRuns(rows, cols, kVec);
  SwiGluForwardKernel<T, kVec><<<Blocks(runs), kThreads, 0, stream>>>(
      runs, {static_cast<const T*>(a.data), a.stride},
      {static_cast<const T*>(b.data), b.stride},
      {static_cast<T*>(h.data), h.stride});
  return cudaGetLastError();
}

template <typename T, int kVec>
cudaError_t LaunchBackward(int64_t rows, int cols, StridedRows<const void*> dh,
                           StridedRows<const void*> a,
                           StridedRows<const void*> b, StridedRows<void*> da,
                           StridedRows<void*> db, cudaStream_t stream) {
  const Runs runs = MakeRuns(rows, cols, kVec);
  SwiGluBackwardKernel<T, kVec><<<Blocks(runs), kThreads, 0, stream>>>(
      runs, {static_cast<const T*>(dh.data), dh.stride},
      {static_cast<const T*>(a.data), a.stride},
      {static_cast<const T*>(b.data), b.stride},
      {static_cast<T*>(da.data), da.stride},
      {static_cast<T*>(db.data), db.stride});
  return cudaGetLastError();
}

template <typename T>
cudaError_t Forward(int64_t rows, int cols, StridedRows<const void*> a,
                    StridedRows<const void*> b, StridedRows<void*> h,
                    cudaStream_t stream) {
  return CanVectorize<T>(cols, {a.data, b.data, h.data},
                         {a.stride, b.stride, h.stride})
             ? LaunchForward<T, detail::VecWidth<T>()>(rows, cols, a, b, h,
                                                       stream)
             : LaunchForward<T, 1>(rows, cols, a, b, h, stream);
}

template <typename T>
cudaError_t Backward(int64_t rows, int cols, StridedRows<const void*> dh,
                     StridedRows<const void*> a, StridedRows<const void*> b,
                     StridedRows<void*> da, StridedRows<void*> db,
                     cudaStream_t stream) {
  return CanVectorize<T>(cols, {dh.data, a.data, b.data, da.data, db.data},
                         {dh.stride, a.stride, b.stride, da.stride, db.stride})
             ? LaunchBackward<T, detail::VecWidth<T>()>(rows, cols, dh, a, b,
                                                        da, db, stream)
             : LaunchBackward<T, 1>(rows, cols, dh, a, b, da, db, stream);
}

}  // namespace

cudaError_t SwiGluForward(DType dtype, int64_t rows, int cols,
                          StridedRows<const void*> a,
                          StridedRows<const void*> b, StridedRows<void*> h,
                          cudaStream_t stream) {
  if (rows < 0 || cols < 0) return cudaErrorInvalidValue;
  if (rows == 0 || cols == 0) return cudaSuccess;
  return dtype == DType::kBFloat16
             ? Forward<bf16>(rows, cols, a, b, h, stream)
             : Forward<float>(rows, cols, a, b, h, stream);
}

cudaError_t SwiGluBackward(DType dtype, int64_t rows, int cols,
                           StridedRows<const void*> dh,
                           StridedRows<const void*> a,
                           StridedRows<const void*> b, StridedRows<void*> da,
                           StridedRows<void*> db, cudaStream_t stream) {
  if (rows < 0 || cols < 0) return cudaErrorInvalidValue;
  if (rows == 0 || cols == 0) return cudaSuccess;
  return dtype == DType::kBFloat16
             ? Backward<bf16>(rows, cols, dh, a, b, da, db, stream)
             : Backward<float>(rows, cols, dh, a, b, da, db, stream);
}

}  // namespace tinylm::kernels
