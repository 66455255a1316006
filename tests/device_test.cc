// Device and dtype names (util/device.h), as the trainer and the server
// take them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include <torch/cuda.h>

#include "util/device.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

TEST(DeviceTest, NamesResolve) {
  EXPECT_EQ(*ResolveDevice("cpu"), c10::Device(c10::kCPU));
  const bool cuda = torch::cuda::is_available();
  EXPECT_EQ(*ResolveDevice("auto"),
            cuda ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU));
  if (!cuda) {
    for (const char* name : {"cuda", "cuda:0", "cuda:3"}) {
      const auto device = ResolveDevice(name);
      EXPECT_EQ(device.status().code(),
                absl::StatusCode::kFailedPrecondition)
          << name;
      EXPECT_THAT(std::string(device.status().message()),
                  HasSubstr("CUDA is not available"));
    }
  }
}

TEST(DeviceTest, BadNamesNameTheFlag) {
  for (const char* name : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU"}) {
    const auto device = ResolveDevice(name, "device");
    EXPECT_EQ(device.status().code(), absl::StatusCode::kInvalidArgument)
        << name;
    EXPECT_THAT(std::string(device.status().message()),
                HasSubstr("--device must be auto, cpu, cuda or cuda:N"));
  }
}

TEST(DeviceTest, Dtypes) {
  EXPECT_EQ(*ResolveDtype("", c10::Device(c10::kCPU)), c10::kFloat);
  EXPECT_EQ(*ResolveDtype("", c10::Device(c10::kCUDA, 0)), c10::kBFloat16);
  EXPECT_EQ(*ResolveDtype("bfloat16", c10::Device(c10::kCPU)),
            c10::kBFloat16);
  EXPECT_EQ(std::string(DtypeName(c10::kBFloat16)), "bfloat16");
  EXPECT_EQ(ResolveDtype("fp16", c10::Device(c10::kCPU)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tinylm
