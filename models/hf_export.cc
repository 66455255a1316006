#include "models/hf_export.h"

#include <filesystem>
#include <map>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/utils.h>

#include "absl/strings/str_cat.h"
#include "models/checkpoint.h"
#include "models/hf_config.h"
#include "models/hf_names.h"
#include "models/hf_tokenizer.h"
#include "models/safetensors.h"
#include "models/tokenizer.h"
#include "util/device.h"
#include "util/file_io.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;

// Only LLaMA-2's block has a Llama to become.
absl::Status CheckExportable(const ModelConfig& c, const std::string& dir) {
  for (const auto& [flag, set] :
       {std::pair<const char*, bool>{"qkv_bias", c.qkv_bias},
        {"qkv_activation", c.qkv_activation},
        {"score_fcn", c.score_fcn}}) {
    if (set) {
      return absl::InvalidArgumentError(absl::StrCat(
          (fs::path(dir) / "config.json").string(), ": ", flag,
          " = true: a Llama has no such term (only the base and llama "
          "blocks export; this is ",
          c.VariantName(), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckOutDir(const std::string& out_dir) {
  std::error_code error;
  if (fs::exists(out_dir, error) &&
      !(fs::is_directory(out_dir, error) && fs::is_empty(out_dir, error))) {
    return absl::AlreadyExistsError(
        absl::StrCat(out_dir, ": exists and is not an empty directory"));
  }
  fs::create_directories(out_dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat(out_dir, ": cannot create directory: ", error.message()));
  }
  return absl::OkStatus();
}

// The model's weights under Hugging Face's names, in `dtype`.
NamedTensors HfTensors(Transformer& model, c10::ScalarType dtype) {
  const ModelConfig& c = model->config();
  std::map<std::string, at::Tensor> ours;
  for (const auto& item : model->named_parameters()) {
    ours.emplace(item.key(), item.value().detach());
  }
  if (!c.separate_qkv) {
    const int64_t hs = c.head_size();
    const int64_t q_rows = c.n_head * hs, kv_rows = c.n_query_groups * hs;
    for (int64_t i = 0; i < c.n_layer; ++i) {
      const std::string layer = absl::StrCat("h.", i, ".attn.");
      const at::Tensor qkv = ours.at(layer + "qkv.weight");
      ours[layer + "q.weight"] = qkv.narrow(0, 0, q_rows);
      ours[layer + "k.weight"] = qkv.narrow(0, q_rows, kv_rows);
      ours[layer + "v.weight"] = qkv.narrow(0, q_rows + kv_rows, kv_rows);
    }
  }
  NamedTensors out;
  for (const HfTensorName& name : HfTensorNames(c, /*tied=*/false)) {
    out.emplace_back(name.hf, ours.at(name.tinylm).to(dtype).contiguous());
  }
  return out;
}

}  // namespace

absl::Status ExportHfCheckpoint(const std::string& checkpoint_dir,
                                const std::string& out_dir,
                                const std::string& tokenizer_module) {
  TINYLM_ASSIGN_OR_RETURN(
      LoadedCheckpoint checkpoint,
      LoadCheckpoint(checkpoint_dir, c10::Device(c10::kCPU), c10::kFloat));
  if (checkpoint.format != "tinylm") {
    return absl::InvalidArgumentError(
        absl::StrCat(checkpoint_dir, ": is a ", checkpoint.format,
                     " checkpoint already; the server loads it as it is"));
  }
  TINYLM_RETURN_IF_ERROR(CheckExportable(checkpoint.config, checkpoint_dir));
  TINYLM_ASSIGN_OR_RETURN(
      std::unique_ptr<Tokenizer> tokenizer,
      Tokenizer::Load(checkpoint.tokenizer_path, tokenizer_module));
  TINYLM_RETURN_IF_ERROR(
      CheckTokenizerFits(checkpoint, checkpoint_dir, *tokenizer));
  TINYLM_RETURN_IF_ERROR(CheckOutDir(out_dir));

  HfLlamaConfig hf;
  hf.model = checkpoint.config;
  hf.model.separate_qkv = true;
  hf.bos_token_id = tokenizer->bos_id();
  hf.eos_token_id = tokenizer->eos_id();
  hf.torch_dtype = DtypeName(checkpoint.stored_dtype);
  NamedTensors tensors;
  try {
    torch::NoGradGuard no_grad;
    tensors = HfTensors(checkpoint.model, checkpoint.stored_dtype);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(
        checkpoint_dir,
        ": cannot convert the weights: ", e.what_without_backtrace()));
  }
  const std::string weights_path =
      (fs::path(out_dir) / "model.safetensors").string();
  TINYLM_ASSIGN_OR_RETURN(
      std::string weights,
      SerializeSafetensorsFor(weights_path, tensors, {{"format", "pt"}}));
  TINYLM_ASSIGN_OR_RETURN(std::string tokenizer_model,
                          ReadFile(checkpoint.tokenizer_path));
  auto path = [&](const char* file) {
    return (fs::path(out_dir) / file).string();
  };
  return WriteFilesTogether(
      {{weights_path, std::move(weights)},
       {path("config.json"), HfConfigToJson(hf).dump(2) + "\n"},
       {path("tokenizer.model"), std::move(tokenizer_model)},
       {path("tokenizer_config.json"),
        HfTokenizerConfigJson(*tokenizer, /*add_bos=*/false,
                              checkpoint.config.block_size)
                .dump(2) +
            "\n"}});
}

}  // namespace tinylm
