// Helpers of the kernel tests (kernels_*_test.cc): a fixture that skips
// without a CUDA device and seeds every test afresh, random and poisoned
// CUDA tensors, and relative errors against float64 references, each
// printed as one line so that a GPU log shows every magnitude.
//
// Tolerances (relative L2 error ||out - ref|| / ||ref|| against a float64
// reference computed from the same, upcast, inputs):
//   float32   1e-5: the kernels accumulate in float32; measured-in-kind
//             float32 vs float64 errors are ~5e-7 for whole attention
//             (cuBLAS float32 products, no TF32), 20x below.
//   bfloat16  1e-2: storing an output in bfloat16 alone costs ~2e-3;
//             attention's three rounded stages (s, p, y; dp, ds, dq) were
//             simulated at T = 1024, hs = 768 at ~4e-3, 2.5x below.
#ifndef TINYLM_TESTS_KERNELS_TEST_UTIL_H_
#define TINYLM_TESTS_KERNELS_TEST_UTIL_H_

#include <ATen/core/Tensor.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace tinylm::kernels_test {

constexpr double kFloat32Tolerance = 1e-5;
constexpr double kBFloat16Tolerance = 1e-2;

double Tolerance(at::ScalarType dtype);

// Skips the test without a CUDA device; otherwise seeds LibTorch's
// generators with a fresh seed (or TINYLM_TEST_SEED), printed so that a
// failure can be repeated, and turns TF32 off for float32 products.
class KernelsTest : public ::testing::Test {
 protected:
  void SetUp() override;
};

// N(0, scale²) values on the GPU, rounded to `dtype`.
at::Tensor Randn(at::IntArrayRef sizes, at::ScalarType dtype,
                 double scale = 1.0);

// A CUDA tensor full of NaN: an element a kernel forgot to write fails
// every comparison.
at::Tensor Poisoned(at::IntArrayRef sizes, at::ScalarType dtype);

// A detached float64 copy, for references.
at::Tensor F64(const at::Tensor& t);

// ||out - ref|| / ||ref|| in float64 (||out - ref|| when ref is 0); +inf
// when the shapes differ or out holds a NaN or an infinity.
double RelativeError(const at::Tensor& out, const at::Tensor& ref);

// Prints "[kernels] what: rel E (tol T) ok|FAIL" and EXPECTs E <= T.
void ExpectClose(const std::string& what, const at::Tensor& out,
                 const at::Tensor& ref, double tolerance);

// With TINYLM_KERNELS_TEST_SHAPES=small (the compute-sanitizer runs of
// tools/gpu/kernels_check.sh): true for cases above 2^20 elements, which
// the tests then skip.
bool SkipLargeCase(int64_t elements);

// "bfloat16 [2, 1024, 768]", for messages.
std::string Describe(at::ScalarType dtype, at::IntArrayRef sizes);

// Bitwise equality (same shape, dtype and bytes), printed like ExpectClose.
void ExpectBitwiseEqual(const std::string& what, const at::Tensor& a,
                        const at::Tensor& b);

}  // namespace tinylm::kernels_test

#endif  // TINYLM_TESTS_KERNELS_TEST_UTIL_H_
