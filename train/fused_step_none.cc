// Builds without the kernels of kernels/ (no CUDA LibTorch): there is no
// fused TrainStep (train_step.h).
#include <memory>

#include "train/train_step.h"

namespace tinylm {

bool FusedStepAvailable(c10::Device) { return false; }

int64_t PeakDeviceMemory(c10::Device) { return 0; }

std::unique_ptr<TrainStep> MakeFusedStep(const StepParts&, bool) {
  return nullptr;
}

}  // namespace tinylm
