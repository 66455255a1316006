#include "kernels_test_util.h"

#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randn.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <sstream>

namespace tinylm::kernels_test {

double Tolerance(at::ScalarType dtype) {
  return dtype == at::kBFloat16 ? kBFloat16Tolerance : kFloat32Tolerance;
}

void KernelsTest::SetUp() {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  uint64_t seed = std::random_device{}();
  if (const char* fixed = std::getenv("TINYLM_TEST_SEED")) {
    seed = std::strtoull(fixed, nullptr, 10);
  }
  std::printf("[kernels] seed %llu (TINYLM_TEST_SEED=%llu repeats it)\n",
              static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  torch::manual_seed(seed);
  at::globalContext().setFloat32MatmulPrecision("highest");
}

at::Tensor Randn(at::IntArrayRef sizes, at::ScalarType dtype, double scale) {
  const auto options = at::TensorOptions().device(at::kCUDA);
  return (at::randn(sizes, options.dtype(at::kFloat)) * scale).to(dtype);
}

at::Tensor Poisoned(at::IntArrayRef sizes, at::ScalarType dtype) {
  return at::full(sizes, std::numeric_limits<double>::quiet_NaN(),
                  at::TensorOptions().device(at::kCUDA).dtype(dtype));
}

at::Tensor F64(const at::Tensor& t) { return t.detach().to(at::kDouble); }

double RelativeError(const at::Tensor& out, const at::Tensor& ref) {
  if (!out.defined() || !ref.defined() || out.sizes() != ref.sizes()) {
    return std::numeric_limits<double>::infinity();
  }
  const at::Tensor o = F64(out), r = F64(ref).to(o.device());
  if (!o.isfinite().all().item<bool>()) {
    return std::numeric_limits<double>::infinity();
  }
  const double diff = (o - r).norm().item<double>();
  const double scale = r.norm().item<double>();
  return scale > 0 ? diff / scale : diff;
}

void ExpectClose(const std::string& what, const at::Tensor& out,
                 const at::Tensor& ref, double tolerance) {
  const double error = RelativeError(out, ref);
  const bool ok = error <= tolerance;
  std::printf("[kernels] %-64s rel %.2e (tol %.0e) %s\n", what.c_str(), error,
              tolerance, ok ? "ok" : "FAIL");
  EXPECT_LE(error, tolerance) << what;
}

bool SkipLargeCase(int64_t elements) {
  const char* shapes = std::getenv("TINYLM_KERNELS_TEST_SHAPES");
  return shapes != nullptr && std::string(shapes) == "small" &&
         elements > (int64_t(1) << 20);
}

std::string Describe(at::ScalarType dtype, at::IntArrayRef sizes) {
  std::ostringstream s;
  s << c10::toString(dtype) << " " << sizes;
  return s.str();
}

void ExpectBitwiseEqual(const std::string& what, const at::Tensor& a,
                        const at::Tensor& b) {
  // Compared as bytes, so that NaN == NaN and -0 != +0.
  const bool same = a.sizes() == b.sizes() &&
                    a.scalar_type() == b.scalar_type() &&
                    at::equal(a.contiguous().reshape({-1}).view(at::kByte),
                              b.contiguous().reshape({-1}).view(at::kByte));
  std::printf("[kernels] %-64s %s\n", what.c_str(),
              same ? "bit-identical" : "DIFFERENT");
  EXPECT_TRUE(same) << what;
}

}  // namespace tinylm::kernels_test
