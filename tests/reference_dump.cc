// The C++ half of the reference cross-check (reference_crosscheck.py):
// builds a small random model, saves it with SaveCheckpoint, loads it back
// with LoadCheckpoint and writes the loaded model's logits on fixed tokens,
// for tools/reference_forward.py to recompute independently.
//
// usage: reference_dump OUT_DIR VARIANT N_HEAD N_QUERY_GROUPS f32|bf16
// writes OUT_DIR/ckpt/        the checkpoint (stored in the given dtype)
//        OUT_DIR/tokens.txt   the token ids, space separated
//        OUT_DIR/logits.f32   logits [T, vocab_size], raw float32
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include <ATen/ATen.h>
#include <torch/utils.h>

#include "models/checkpoint.h"
#include "models/config.h"
#include "models/model.h"
#include "tests/model_test_util.h"

namespace tinylm {
namespace {

constexpr int64_t kTokens = 24;

int Fail(const std::string& message) {
  std::fprintf(stderr, "reference_dump: %s\n", message.c_str());
  return 1;
}

int Run(int argc, char** argv) {
  if (argc != 6) {
    return Fail("usage: reference_dump OUT_DIR VARIANT N_HEAD "
                "N_QUERY_GROUPS f32|bf16");
  }
  const std::string out_dir = argv[1], dtype_name = argv[5];
  absl::StatusOr<ModelConfig> config = MakeConfig("tiny", argv[2]);
  if (!config.ok()) return Fail(std::string(config.status().message()));
  config->n_layer = 3;
  config->n_head = std::stoll(argv[3]);
  config->n_query_groups = std::stoll(argv[4]);
  if (absl::Status s = config->Validate(); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  if (dtype_name != "f32" && dtype_name != "bf16") {
    return Fail("dtype must be f32 or bf16, got " + dtype_name);
  }

  Transformer model = testutil::MakeRandomModel(*config, 20240601);
  // LoadCheckpoint insists on a tokenizer file; the forward needs none.
  const std::string placeholder = out_dir + "/placeholder.model";
  std::ofstream(placeholder) << "not a sentencepiece model\n";
  SaveOptions options;
  options.dtype = dtype_name == "bf16" ? c10::kBFloat16 : c10::kFloat;
  options.tokenizer_path = placeholder;
  const std::string ckpt = out_dir + "/ckpt";
  if (absl::Status s = SaveCheckpoint(ckpt, model, options); !s.ok()) {
    return Fail("SaveCheckpoint: " + std::string(s.message()));
  }
  // The loaded model holds exactly the stored values (rounded to bfloat16
  // when stored so), which is what the Python side reads too.
  absl::StatusOr<LoadedCheckpoint> loaded =
      LoadCheckpoint(ckpt, c10::kCPU, c10::kFloat);
  if (!loaded.ok()) {
    return Fail("LoadCheckpoint: " + std::string(loaded.status().message()));
  }

  // Fixed, varied token ids (every id of the tiny vocabulary is < 64).
  at::Tensor tokens = at::empty({1, kTokens}, at::kLong);
  std::ofstream tokens_file(out_dir + "/tokens.txt");
  for (int64_t t = 0; t < kTokens; ++t) {
    const int64_t id = (t * 37 + 11) % config->vocab_size;
    tokens[0][t].fill_(id);
    tokens_file << id << (t + 1 < kTokens ? " " : "\n");
  }
  tokens_file.close();

  torch::NoGradGuard no_grad;
  ForwardInput input;
  input.tokens = tokens;
  const at::Tensor logits =
      loaded->model->Forward(input).logits[0].to(at::kFloat).contiguous();
  std::ofstream logits_file(out_dir + "/logits.f32", std::ios::binary);
  logits_file.write(static_cast<const char*>(logits.data_ptr()),
                    logits.numel() * sizeof(float));
  logits_file.close();
  if (!tokens_file || !logits_file) return Fail("cannot write " + out_dir);
  return 0;
}

}  // namespace
}  // namespace tinylm

int main(int argc, char** argv) { return tinylm::Run(argc, argv); }
