// Logits of any checkpoint directory (tinylm's or a Hugging Face Llama)
// as LoadCheckpoint builds it, on any device and dtype: for the tests that
// compare them with transformers' (tests/hf_interop_test.py) and with the
// lit-gpt reference (tests/lit_gpt_convert_test.py), and for the same
// comparison on a GPU (tools/gpu/hf_check.sh).
//
// usage: logits_dump CHECKPOINT_DIR TOKENS_FILE OUT_FILE [DTYPE [DEVICE]]
//   TOKENS_FILE  token ids separated by white space (one sequence)
//   OUT_FILE     logits [T, vocab_size], raw little-endian float32
//   DTYPE        float32 (default) or bfloat16; DEVICE cpu (default), cuda
#include <ATen/ATen.h>
#include <torch/utils.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "models/checkpoint.h"
#include "util/device.h"

namespace tinylm {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "logits_dump: %s\n", message.c_str());
  return 1;
}

int Run(int argc, char** argv) {
  if (argc < 4 || argc > 6) {
    return Fail(
        "usage: logits_dump CHECKPOINT_DIR TOKENS_FILE OUT_FILE [DTYPE "
        "[DEVICE]]");
  }
  const absl::StatusOr<c10::Device> device =
      ResolveDevice(argc == 6 ? argv[5] : "cpu");
  if (!device.ok()) return Fail(std::string(device.status().message()));
  const absl::StatusOr<c10::ScalarType> dtype =
      ResolveDtype(argc >= 5 ? argv[4] : "float32", *device);
  if (!dtype.ok()) return Fail(std::string(dtype.status().message()));
  absl::StatusOr<LoadedCheckpoint> loaded =
      LoadCheckpoint(argv[1], *device, *dtype);
  if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
  std::ifstream tokens_file(argv[2]);
  const std::vector<int64_t> ids{std::istream_iterator<int64_t>(tokens_file),
                                 std::istream_iterator<int64_t>()};
  if (ids.empty()) return Fail(std::string(argv[2]) + ": no token ids");
  torch::NoGradGuard no_grad;
  const at::Tensor tokens =
      at::tensor(ids, at::kLong).view({1, int64_t(ids.size())}).to(*device);
  const at::Tensor logits = loaded->model->Forward(ForwardInput(tokens))
                                .logits.to(at::kCPU, at::kFloat)
                                .contiguous();  // written from host memory
  std::ofstream out(argv[3], std::ios::binary);
  out.write(static_cast<const char*>(logits.data_ptr()), logits.nbytes());
  return out ? 0 : Fail(std::string(argv[3]) + ": write failed");
}

}  // namespace
}  // namespace tinylm

int main(int argc, char** argv) { return tinylm::Run(argc, argv); }
