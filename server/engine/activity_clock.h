// ActivityClock: where a model's scheduler thread spends its time
// (SchedulerActivity), kept by the scheduler for its shutdown report and
// passed on to SchedulerMetrics when there are metrics. A short `wait`
// beside long `tokens` says that the host, not the device, sets the pace.
//
// Thread-safety: Add() from the scheduler thread, Report() from any.
#ifndef TINYLM_SERVER_ENGINE_ACTIVITY_CLOCK_H_
#define TINYLM_SERVER_ENGINE_ACTIVITY_CLOCK_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/engine/scheduler_metrics.h"

namespace tinylm {

class ActivityClock {
 public:
  explicit ActivityClock(SchedulerMetrics* metrics) : metrics_(metrics) {}

  void Add(SchedulerActivity activity, absl::Duration spent);

  // "launch 0.12 s, wait 3.40 s, step 0.50 s, tokens 1.20 s"
  std::string Report() const;

 private:
  SchedulerMetrics* metrics_;  // may be null
  std::array<std::atomic<int64_t>, 4> nanoseconds_ = {};
};

// Adds the time from its construction to its end to one activity.
class ActivityTimer {
 public:
  ActivityTimer(ActivityClock& clock, SchedulerActivity activity)
      : clock_(clock), activity_(activity), start_(absl::Now()) {}
  ~ActivityTimer() { clock_.Add(activity_, absl::Now() - start_); }
  ActivityTimer(const ActivityTimer&) = delete;
  ActivityTimer& operator=(const ActivityTimer&) = delete;

 private:
  ActivityClock& clock_;
  SchedulerActivity activity_;
  absl::Time start_;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_ACTIVITY_CLOCK_H_
