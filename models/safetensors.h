// Reader and writer of the safetensors format, as the ecosystem defines it:
//
//   [8 bytes]  N, little-endian u64
//   [N bytes]  JSON object: {"<name>": {"dtype": "F32", "shape": [2, 3],
//              "data_offsets": [begin, end]}, ..., "__metadata__": {...}}
//              (may end in spaces: writers pad it to a multiple of 8)
//   [rest]     the data buffer; offsets are relative to its start, and the
//              tensors cover it exactly, without overlaps or holes.
//
// This layer knows nothing of tinylm's model: it turns bytes into validated
// entries and tensors and back. Every error from Parse/Read names the file
// (the `source` argument) and the problem; no input can make it read out of
// bounds or abort.
#ifndef TINYLM_MODELS_SAFETENSORS_H_
#define TINYLM_MODELS_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tinylm {

// Headers larger than this are refused before anything is allocated for
// them (the Python library uses the same bound).
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// The format's dtype name ("F32", "BF16", ...) for a scalar type, or
// InvalidArgument if the format (or this reader) has none for it.
absl::StatusOr<std::string> SafetensorsDtypeName(c10::ScalarType type);
// The scalar type of a dtype name, or InvalidArgument if unknown.
absl::StatusOr<c10::ScalarType> SafetensorsScalarType(absl::string_view name);

// One tensor of a parsed file; offsets are relative to the data buffer.
struct SafetensorsEntry {
  std::string name;
  c10::ScalarType dtype = c10::kFloat;
  std::string dtype_name;  // as written in the file, e.g. "BF16"
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

// A whole file held in memory, parsed and validated.
class SafetensorsFile {
 public:
  // Reads `path` once and parses it; errors name `path`.
  static absl::StatusOr<SafetensorsFile> Read(const std::string& path);
  // Parses bytes already in memory; `source` names them in errors.
  static absl::StatusOr<SafetensorsFile> Parse(std::string bytes,
                                               std::string source);

  // Entries ordered by name.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  // The entry named `name`, or nullptr.
  const SafetensorsEntry* Find(absl::string_view name) const;
  const std::map<std::string, std::string>& metadata() const {
    return metadata_;
  }
  // The whole file as read (e.g. for a digest).
  const std::string& bytes() const { return bytes_; }
  const std::string& source() const { return source_; }

  // A CPU tensor of the entry's dtype and shape holding a copy of its data
  // (the file's bytes are little-endian, as is every host tinylm runs on).
  // `entry` must come from this file's entries().
  absl::StatusOr<at::Tensor> ToTensor(const SafetensorsEntry& entry) const;

 private:
  SafetensorsFile() = default;

  std::string source_;
  std::string bytes_;
  uint64_t data_start_ = 0;  // offset of the data buffer within bytes_
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// The complete file image for `tensors` (any device, layout or supported
// dtype; written contiguous and little-endian) and string metadata. The
// header's keys are sorted and it is padded with spaces to a multiple of 8
// bytes; data is laid out by decreasing element size, then name, so every
// tensor is aligned to its element size. InvalidArgument on duplicate or
// empty names, undefined tensors or unsupported dtypes.
absl::StatusOr<std::string> SerializeSafetensors(
    const NamedTensors& tensors,
    const std::map<std::string, std::string>& metadata = {});

// SerializeSafetensors for a file at `path`, which errors name.
absl::StatusOr<std::string> SerializeSafetensorsFor(
    const std::string& path, const NamedTensors& tensors,
    const std::map<std::string, std::string>& metadata = {});

// Serializes and writes `path` through a temporary file renamed into place.
absl::Status WriteSafetensors(
    const std::string& path, const NamedTensors& tensors,
    const std::map<std::string, std::string>& metadata = {});

}  // namespace tinylm

#endif  // TINYLM_MODELS_SAFETENSORS_H_
