// SchedulerMetrics: what a model's scheduler reports while it works, for
// monitoring. The engine knows only this interface; the server implements it
// (server/operations/metrics.h) with Prometheus metrics of the model.
//
// Thread-safety: the scheduler calls it from its own thread; an
// implementation must tolerate a concurrent reader (a metrics scrape) and
// be cheap, since OnToken runs once per generated token.
#ifndef TINYLM_SERVER_ENGINE_SCHEDULER_METRICS_H_
#define TINYLM_SERVER_ENGINE_SCHEDULER_METRICS_H_

#include <cstdint>

#include "absl/time/time.h"

namespace tinylm {

// What a scheduler thread spends its time on, beside waiting for work.
enum class SchedulerActivity {
  kLaunch,  // building and launching pipelined steps (StepRunner::Launch)
  kWait,    // waiting for a launched step's tokens (StepRunner::Finish)
  kStep,    // synchronous steps and their sampling: prefills, unpipelined
            // and intervened decoding
  kTokens,  // handling generated tokens: text, stream events, completions
};

class SchedulerMetrics {
 public:
  virtual ~SchedulerMetrics() = default;

  // One batched forward pass over `rows` sequences (a prefill of newcomers,
  // or a decode step of every active sequence).
  virtual void OnStep(int64_t rows, bool prefill) = 0;

  // A token was generated. For a request's first token `latency` runs from
  // its arrival (queueing included); for later ones from the previous token.
  virtual void OnToken(bool first, absl::Duration latency) = 0;

  // KV cache slots holding a sequence, after each scheduling iteration.
  virtual void OnSlotsInUse(int64_t used) = 0;

  // The scheduler thread spent `spent` on `activity` (where a server's time
  // goes outside the device: a short wait with long token handling says
  // the host sets the pace).
  virtual void OnSchedulerTime(SchedulerActivity activity,
                               absl::Duration spent) = 0;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_SCHEDULER_METRICS_H_
