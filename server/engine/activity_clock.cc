#include "server/engine/activity_clock.h"

#include "absl/strings/str_format.h"

namespace tinylm {

void ActivityClock::Add(SchedulerActivity activity, absl::Duration spent) {
  nanoseconds_[static_cast<int>(activity)].fetch_add(
      absl::ToInt64Nanoseconds(spent), std::memory_order_relaxed);
  if (metrics_ != nullptr) metrics_->OnSchedulerTime(activity, spent);
}

std::string ActivityClock::Report() const {
  auto seconds = [&](SchedulerActivity activity) {
    return 1e-9 * double(nanoseconds_[static_cast<int>(activity)].load(
                      std::memory_order_relaxed));
  };
  return absl::StrFormat(
      "launch %.2f s, wait %.2f s, step %.2f s, tokens %.2f s",
      seconds(SchedulerActivity::kLaunch), seconds(SchedulerActivity::kWait),
      seconds(SchedulerActivity::kStep), seconds(SchedulerActivity::kTokens));
}

}  // namespace tinylm
