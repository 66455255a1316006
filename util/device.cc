#include "util/device.h"

#include <string>

#include <torch/cuda.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "util/quote.h"

namespace tinylm {

absl::StatusOr<c10::Device> ResolveDevice(absl::string_view name,
                                          absl::string_view flag) {
  const int64_t cuda_devices =
      torch::cuda::is_available() ? int64_t(torch::cuda::device_count()) : 0;
  if (name == "auto") {
    return cuda_devices > 0 ? c10::Device(c10::kCUDA, 0) : c10::kCPU;
  }
  if (name == "cpu") return c10::Device(c10::kCPU);
  int index = 0;
  const bool cuda = name == "cuda" ||
                    (absl::ConsumePrefix(&name, "cuda:") &&
                     absl::SimpleAtoi(name, &index) && index >= 0 &&
                     index < 1024);
  if (!cuda) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " must be auto, cpu, cuda or cuda:N, got ",
                     Quote(name)));
  }
  if (index >= cuda_devices) {
    return absl::FailedPreconditionError(
        cuda_devices == 0
            ? absl::StrCat("--", flag, "=cuda",
                           index > 0 ? absl::StrCat(":", index) : "",
                           " but CUDA is not available")
            : absl::StrCat("--", flag, "=cuda:", index, " but only ",
                           cuda_devices, " CUDA device",
                           cuda_devices == 1 ? " is" : "s are", " present"));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

absl::StatusOr<c10::ScalarType> ResolveDtype(absl::string_view name,
                                             c10::Device device,
                                             absl::string_view flag) {
  if (name.empty()) return device.is_cuda() ? c10::kBFloat16 : c10::kFloat;
  if (name == "float32") return c10::kFloat;
  if (name == "bfloat16") return c10::kBFloat16;
  return absl::InvalidArgumentError(absl::StrCat(
      "--", flag, " must be float32 or bfloat16, got ", Quote(name)));
}

const char* DtypeName(c10::ScalarType dtype) {
  return dtype == c10::kBFloat16 ? "bfloat16" : "float32";
}

}  // namespace tinylm
