// RAII scope for bfloat16 autocast on CUDA (a no-op elsewhere): matrix
// products run in bf16 while parameters and optimizer state stay float32.
#ifndef TINYLM_TRAIN_AUTOCAST_H_
#define TINYLM_TRAIN_AUTOCAST_H_

#include <ATen/autocast_mode.h>
#include <c10/core/Device.h>
#include <torch/version.h>

namespace tinylm {

class CudaBf16Autocast {
 public:
  explicit CudaBf16Autocast(c10::Device device) : active_(device.is_cuda()) {
    if (active_) Enable(true);
  }
  ~CudaBf16Autocast() {
    if (!active_) return;
    Enable(false);
    // Casts of the weights are cached for the scope; they must not outlive
    // the optimizer step that changes the weights.
    at::autocast::clear_cache();
  }
  CudaBf16Autocast(const CudaBf16Autocast&) = delete;
  CudaBf16Autocast& operator=(const CudaBf16Autocast&) = delete;

 private:
  static void Enable(bool on) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, on);
#else
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(on);
#endif
  }

  bool active_;
};

}  // namespace tinylm

#endif  // TINYLM_TRAIN_AUTOCAST_H_
