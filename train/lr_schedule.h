// Learning rate: linear warm-up from 0, then cosine decay to min_lr at the
// last step (the schedule of LLaMA-style pre-training).
#ifndef TINYLM_TRAIN_LR_SCHEDULE_H_
#define TINYLM_TRAIN_LR_SCHEDULE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tinylm {

inline double WarmupCosineLr(int64_t step, int64_t warmup_steps,
                             int64_t total_steps, double max_lr,
                             double min_lr) {
  if (step < warmup_steps) return max_lr * double(step + 1) / warmup_steps;
  if (step >= total_steps) return min_lr;
  const double progress = double(step - warmup_steps) /
                          double(std::max<int64_t>(1, total_steps - warmup_steps));
  const double pi = std::acos(-1.0);
  return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + std::cos(pi * progress));
}

}  // namespace tinylm

#endif  // TINYLM_TRAIN_LR_SCHEDULE_H_
