#include "models/weight_loader.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/utils.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/status_macros.h"

namespace tinylm {
namespace {

// A RoPE table larger than this (cos + sin, float32: 2 GiB) is refused: no
// real model comes near it (a context of 131072 with 128-wide heads is
// 2^24), and only a broken config.json would ask for it.
constexpr int64_t kMaxRopeElements = int64_t{1} << 28;

// A weight that is NaN or infinite would make every forward pass fail far
// from its cause (an argmax of -1, a sampler out of bounds).
absl::Status CheckFinite(const std::string& path, const std::string& name,
                         const at::Tensor& value) {
  const at::Tensor bad = at::logical_not(at::isfinite(value)).flatten();
  if (!bad.any().item<bool>()) return absl::OkStatus();
  const int64_t first = bad.nonzero()[0][0].item<int64_t>();
  const double x = value.flatten()[first].item<double>();
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": tensor '", name, "' holds ", bad.sum().item<int64_t>(),
      " non-finite values (the first, at element ", first, ", is ",
      std::isnan(x) ? "NaN" : (x > 0 ? "+Inf" : "-Inf"), ")"));
}

}  // namespace

absl::StatusOr<Transformer> AllocateModel(const ModelConfig& config,
                                          c10::Device device,
                                          c10::ScalarType dtype) {
  try {
    torch::NoGradGuard no_grad;
    // Each module leaves the host as soon as it is built; the RoPE tables
    // (buffers of the model itself) follow once it is complete.
    Transformer model(
        config, [&](torch::nn::Module& module) { module.to(device, dtype); });
    model->to(device);
    model->eval();
    return model;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("cannot build the model on ",
                                            device.str(), ": ",
                                            e.what_without_backtrace()));
  } catch (const std::exception& e) {  // e.g. std::bad_alloc
    return absl::InternalError(absl::StrCat("cannot build the model on ",
                                            device.str(), ": ", e.what()));
  }
}

std::string ListNames(const std::vector<std::string>& names, size_t limit) {
  std::vector<std::string> shown(names.begin(),
                                 names.begin() + std::min(limit, names.size()));
  std::string list = absl::StrJoin(shown, ", ");
  if (names.size() > limit) {
    absl::StrAppend(&list, " and ", names.size() - limit, " more");
  }
  return list;
}

absl::Status CheckShape(const std::string& path, const std::string& name,
                        const std::vector<int64_t>& shape,
                        const std::vector<int64_t>& want,
                        const std::string& implied_by) {
  if (shape == want) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": tensor '", name, "' has shape [", absl::StrJoin(shape, ", "),
      "], but ", implied_by, " implies [", absl::StrJoin(want, ", "), "]"));
}

absl::Status LoadWeight(const SafetensorsFile& file,
                        const SafetensorsEntry& entry, at::Tensor target,
                        const std::string& implied_by) {
  const std::string& path = file.source();
  if (entry.dtype != c10::kFloat && entry.dtype != c10::kBFloat16 &&
      entry.dtype != c10::kHalf) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": tensor '", entry.name, "' has dtype ",
                     entry.dtype_name, "; weights must be F32, BF16 or F16"));
  }
  TINYLM_RETURN_IF_ERROR(CheckShape(path, entry.name, entry.shape,
                                    target.sizes().vec(), implied_by));
  TINYLM_ASSIGN_OR_RETURN(at::Tensor value, file.ToTensor(entry));
  try {
    torch::NoGradGuard no_grad;
    // One upload in the stored dtype, then one rounding on the device.
    target.copy_(value.to(target.device()));
    return CheckFinite(path, entry.name, target);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(path, ": tensor '", entry.name,
                                            "': ", e.what_without_backtrace()));
  }
}

absl::Status CheckRopeTableSize(const ModelConfig& config,
                                const std::string& config_path,
                                absl::string_view context_key) {
  int64_t elements = 0;
  if (!__builtin_mul_overflow(config.block_size, config.head_size(),
                              &elements) &&
      elements <= kMaxRopeElements) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(config_path, ": ", context_key, " ", config.block_size,
                   " times head size ", config.head_size(),
                   " exceeds the RoPE table limit of ", kMaxRopeElements));
}

}  // namespace tinylm
