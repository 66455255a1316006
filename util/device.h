// The device and dtype names of the command lines (trainer and server), and
// their resolution against the machine: one spelling everywhere.
#ifndef TINYLM_UTIL_DEVICE_H_
#define TINYLM_UTIL_DEVICE_H_

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tinylm {

// "auto" -> the first CUDA device when there is one, else the CPU; "cpu";
// "cuda" (device 0) or "cuda:N". FailedPrecondition when CUDA (or device N)
// is missing, InvalidArgument for anything else; `flag` names the option
// in messages.
absl::StatusOr<c10::Device> ResolveDevice(absl::string_view name,
                                          absl::string_view flag = "device");

// "" -> bfloat16 on CUDA, float32 on the CPU; "float32"; "bfloat16".
absl::StatusOr<c10::ScalarType> ResolveDtype(absl::string_view name,
                                             c10::Device device,
                                             absl::string_view flag = "dtype");

// "float32" or "bfloat16" (the names ResolveDtype takes).
const char* DtypeName(c10::ScalarType dtype);

}  // namespace tinylm

#endif  // TINYLM_UTIL_DEVICE_H_
