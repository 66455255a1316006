// Fuzz target: the safetensors reader (models/safetensors.h).
//
// Input: a whole file image. Properties:
//   - Parse never crashes; it fails only with InvalidArgument naming the
//     source.
//   - Every accepted entry converts to a tensor of its dtype and shape that
//     holds exactly its bytes; entries altered to lie elsewhere are refused.
//   - What the reader accepts, the writer writes back (unless a name is
//     empty, which the writer refuses) and the reader reads back the same.
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "models/safetensors.h"
#include "tests/fuzz/fuzz_check.h"

namespace tinylm {
namespace {

constexpr char kSource[] = "fuzz.safetensors";

void CheckTensor(const SafetensorsFile& file, const SafetensorsEntry& entry,
                 const at::Tensor& tensor) {
  FUZZ_CHECK(tensor.scalar_type() == entry.dtype, entry.name);
  FUZZ_CHECK(tensor.sizes().vec() == entry.shape, entry.name);
  const uint64_t nbytes = entry.end - entry.begin;
  FUZZ_CHECK(tensor.nbytes() == nbytes, entry.name);
  const std::string& bytes = file.bytes();
  if (nbytes > 0) {
    // The data buffer ends the file, so its start is the file's size minus
    // the largest end offset (the tensors cover the buffer exactly).
    uint64_t data_size = 0;
    for (const SafetensorsEntry& e : file.entries()) {
      data_size = std::max(data_size, e.end);
    }
    const char* data = bytes.data() + (bytes.size() - data_size) + entry.begin;
    FUZZ_CHECK(std::memcmp(tensor.data_ptr(), data, nbytes) == 0, entry.name);
  }
}

// An entry that does not match the file must be refused, not read.
void CheckForeignEntries(const SafetensorsFile& file,
                         const SafetensorsEntry& entry) {
  SafetensorsEntry past_end = entry;
  past_end.end = file.bytes().size() + 1;
  FUZZ_CHECK(!file.ToTensor(past_end).ok(), entry.name);
  SafetensorsEntry reversed = entry;
  reversed.begin = entry.end + 1;
  FUZZ_CHECK(!file.ToTensor(reversed).ok(), entry.name);
  if (entry.end > entry.begin) {
    SafetensorsEntry short_data = entry;
    short_data.end -= 1;
    FUZZ_CHECK(!file.ToTensor(short_data).ok(), entry.name);
  }
}

void CheckRoundTrip(const SafetensorsFile& file, const NamedTensors& tensors) {
  absl::StatusOr<std::string> image =
      SerializeSafetensors(tensors, file.metadata());
  bool empty_name = false;
  for (const auto& item : tensors) empty_name |= item.first.empty();
  if (empty_name) {
    FUZZ_CHECK(image.status().code() == absl::StatusCode::kInvalidArgument,
               image.status());
    return;
  }
  FUZZ_CHECK(image.ok(), image.status());
  absl::StatusOr<SafetensorsFile> again =
      SafetensorsFile::Parse(*image, "rewritten");
  FUZZ_CHECK(again.ok(), again.status());
  FUZZ_CHECK(again->metadata() == file.metadata(), "metadata differs");
  FUZZ_CHECK(again->entries().size() == file.entries().size(),
             "entry count differs");
  for (const auto& [name, tensor] : tensors) {
    const SafetensorsEntry* entry = again->Find(name);
    FUZZ_CHECK(entry != nullptr, name);
    FUZZ_CHECK(entry->dtype_name == file.Find(name)->dtype_name, name);
    absl::StatusOr<at::Tensor> read = again->ToTensor(*entry);
    FUZZ_CHECK(read.ok(), read.status());
    FUZZ_CHECK(read->sizes() == tensor.sizes(), name);
    FUZZ_CHECK(read->nbytes() == tensor.nbytes(), name);
    FUZZ_CHECK(
        tensor.nbytes() == 0 || std::memcmp(read->data_ptr(), tensor.data_ptr(),
                                            tensor.nbytes()) == 0,
        name);
  }
}

}  // namespace
}  // namespace tinylm

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tinylm::fuzz::UseOneThread();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tinylm;
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Parse(
      std::string(reinterpret_cast<const char*>(data), size), kSource);
  if (!file.ok()) {
    FUZZ_CHECK(file.status().code() == absl::StatusCode::kInvalidArgument,
               file.status());
    FUZZ_CHECK(
        absl::StartsWith(file.status().message(), absl::StrCat(kSource, ": ")),
        file.status());
    return 0;
  }
  NamedTensors tensors;
  for (const SafetensorsEntry& entry : file->entries()) {
    FUZZ_CHECK(file->Find(entry.name) == &entry, entry.name);
    absl::StatusOr<at::Tensor> tensor = file->ToTensor(entry);
    FUZZ_CHECK(tensor.ok(), tensor.status());
    CheckTensor(*file, entry, *tensor);
    CheckForeignEntries(*file, entry);
    tensors.emplace_back(entry.name, *tensor);
  }
  CheckRoundTrip(*file, tensors);
  return 0;
}
