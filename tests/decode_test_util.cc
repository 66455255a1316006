#include "tests/decode_test_util.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAStream.h>

namespace tinylm::decode_test {
namespace {

// Every test runs on a stream of the pool rather than the legacy default
// stream, as the server's captured steps do.
class PoolStream : public ::testing::Environment {
 public:
  void SetUp() override {
    if (HaveGpu()) {
      c10::cuda::setCurrentCUDAStream(c10::cuda::getStreamFromPool());
    }
  }
};
::testing::Environment* const kPoolStream =
    ::testing::AddGlobalTestEnvironment(new PoolStream);

}  // namespace

bool HaveGpu() { return at::cuda::is_available(); }

cudaStream_t Stream() { return c10::cuda::getCurrentCUDAStream(); }

void Finish(cudaError_t launched) {
  ASSERT_EQ(launched, cudaSuccess) << cudaGetErrorString(launched);
  const cudaError_t done = cudaDeviceSynchronize();
  ASSERT_EQ(done, cudaSuccess) << cudaGetErrorString(done);
}

at::Tensor Nan(at::IntArrayRef shape, at::ScalarType dtype) {
  return at::full(shape, NAN,
                  at::TensorOptions().device(at::kCUDA).dtype(dtype));
}

at::Tensor Randn(at::IntArrayRef shape, double scale, at::ScalarType dtype) {
  return (at::randn(shape, at::TensorOptions().device(at::kCUDA)) * scale)
      .to(dtype);
}

double RelativeError(const at::Tensor& out, const at::Tensor& ref) {
  const at::Tensor o = out.to(at::kDouble), r = ref.to(at::kDouble);
  if (!at::isfinite(o).all().item<bool>()) {
    return std::numeric_limits<double>::infinity();
  }
  const double norm = r.norm().item<double>();
  return (o - r).norm().item<double>() / (norm > 0 ? norm : 1.0);
}

at::Tensor RoundBf16(const at::Tensor& t) {
  return t.to(at::kFloat).to(at::kBFloat16).to(at::kDouble);
}

void ExpectAtMost(const std::string& what, double value, double tolerance) {
  const bool ok = value <= tolerance;
  std::printf("CHECK %-60s %.3e <= %.1e %s\n", what.c_str(), value, tolerance,
              ok ? "ok" : "FAIL");
  std::fflush(stdout);
  EXPECT_LE(value, tolerance) << what;
}

bool AllNan(const at::Tensor& t) { return at::isnan(t).all().item<bool>(); }

}  // namespace tinylm::decode_test
