// Helpers of the fused-decode GPU tests: device checks, random data, error
// measures, and a one-line report per check so that a log shows every
// error magnitude next to its tolerance.
#ifndef TINYLM_TESTS_DECODE_TEST_UTIL_H_
#define TINYLM_TESTS_DECODE_TEST_UTIL_H_

#include <cstdint>
#include <string>

#include <ATen/ATen.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

namespace tinylm::decode_test {

bool HaveGpu();

#define TINYLM_SKIP_WITHOUT_GPU() \
  if (!::tinylm::decode_test::HaveGpu()) GTEST_SKIP() << "no CUDA device"

// The current (pool) stream, on which the tests launch the kernels.
cudaStream_t Stream();

// Expects `launched` to be cudaSuccess, then that the device finishes
// without an error.
void Finish(cudaError_t launched);

// A tensor's device data as the kernels' argument type (bf16 by default).
template <typename T = __nv_bfloat16>
T* Ptr(const at::Tensor& t) {
  return reinterpret_cast<T*>(const_cast<void*>(t.const_data_ptr()));
}

// NaN-filled (poisoned) GPU tensor.
at::Tensor Nan(at::IntArrayRef shape, at::ScalarType dtype);

// Normal(0, scale) on the GPU in `dtype`.
at::Tensor Randn(at::IntArrayRef shape, double scale,
                 at::ScalarType dtype = at::kBFloat16);

// ‖out − ref‖ / ‖ref‖ in float64; NaN anywhere gives +inf.
double RelativeError(const at::Tensor& out, const at::Tensor& ref);

// Rounds float64 values through bfloat16, as a bf16 intermediate would be.
at::Tensor RoundBf16(const at::Tensor& t);

// Prints "CHECK <what> <value> <= <tolerance> ok|FAIL" and expects it.
void ExpectAtMost(const std::string& what, double value, double tolerance);

// True when every element is NaN (the poison was left alone).
bool AllNan(const at::Tensor& t);

}  // namespace tinylm::decode_test

#endif  // TINYLM_TESTS_DECODE_TEST_UTIL_H_
